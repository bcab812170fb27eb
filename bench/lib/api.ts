// The gateway's REST API as a client uses it, over keep-alive connections. The JSON calls go
// through node:http rather than fetch: a round trip to a bare Koa handler takes 0.25 ms that way
// and 0.9 ms through fetch (undici), and baseline (b) of benchmark 1 is an equally lean ssh2
// client, so the client's own cost should not be charged to the gateway. Uploads keep fetch
// (FormData builds the multipart body).
import http from 'node:http';
import { API } from './gateway.ts';
import { sleep } from './stats.ts';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Shared by every client of the run: its sockets stay open between requests. */
const agent = new http.Agent({ keepAlive: true });

function request(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  const headers = { ...options.headers, ...(options.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(options.body)) }) };
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

function header(reply: Reply, name: string): string | null {
  const value = reply.headers[name];
  return typeof value === 'string' ? value : null;
}

export interface JobStatus {
  job_id: string;
  state: string;
  status: string;
  pid: string | null;
  output_available: boolean;
  slurm: { job_id: string | null; state: string | null; end: string | null };
}

export const FINAL_STATES = new Set(['SUCCESS', 'FAILURE', 'TIMED-OUT', 'CANCELED', 'ABORTED', 'CLEARED']);

export class ApiClient {
  constructor(readonly base: string) {}

  url(pathname: string): string {
    return `${this.base}${API}${pathname}`;
  }

  async upload(bytes: Buffer, name: string): Promise<string> {
    const form = new FormData();
    form.append('file', new Blob([bytes]), name);
    const res = await fetch(this.url('/upload'), { method: 'POST', body: form });
    const body = await res.json() as { uuid?: string; status?: string };
    if (res.status !== 200 || !body.uuid) throw new Error(`upload failed (${res.status}): ${body.status}`);
    return body.uuid;
  }

  /** POST /job: a CAESAR run without MPI on an uploaded file; returns the gateway's job id. */
  async submit(fileId: string, tag: string, jobInputs: Record<string, unknown> = {}): Promise<string> {
    return (await this.postJob(fileId, tag, jobInputs)).jobId;
  }

  /** POST /job, keeping the ETag of the job's status at acceptance (for waitForChange). */
  async submitForWaiting(fileId: string, tag: string): Promise<{ jobId: string; etag: string }> {
    const { jobId, etag } = await this.postJob(fileId, tag);
    if (!etag) throw new Error(`POST /job for ${jobId} answered without an ETag`);
    return { jobId, etag };
  }

  /** POST /job with `Prefer: wait=30`: the gateway answers once the job has its Slurm id (or ended). */
  async submitPreferringWait(fileId: string, tag: string): Promise<{ jobId: string; state: string; pid: string | null }> {
    const { jobId, body } = await this.postJob(fileId, tag, {}, { prefer: 'wait=30' });
    return { jobId, state: body.state ?? '', pid: body.pid ?? null };
  }

  private async postJob(fileId: string, tag: string, jobInputs: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
    const res = await request(this.url('/job'), {
      method: 'POST', headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ app: 'caesar', data_inputs: fileId, tag, job_inputs: { 'no-mpi': true, ...jobInputs } }),
    });
    const body = JSON.parse(res.body) as { job_id?: string; status?: string; state?: string; pid?: string | null };
    if (res.status !== 202 || !body.job_id) throw new Error(`POST /job failed (${res.status}): ${body.status}`);
    return { jobId: body.job_id, etag: header(res, 'etag'), body };
  }

  /**
   * Long-poll (`?wait=`) until `done` holds: each request is held by the gateway until the status
   * is no longer the one tagged `etag`; returns the status with the time it was seen.
   */
  async waitForChange(jobId: string, etag: string, done: (s: JobStatus) => boolean, timeoutMs = 120_000): Promise<{ status: JobStatus; seenAt: number }> {
    const deadline = Date.now() + timeoutMs;
    let current = etag;
    for (;;) {
      const res = await request(this.url(`/job/${jobId}/status?wait=30`), { headers: { 'if-none-match': current } });
      if (res.status === 200) {
        const status = JSON.parse(res.body) as JobStatus;
        if (done(status)) return { status, seenAt: performance.now() };
        current = header(res, 'etag') ?? current;
      } else if (res.status !== 304) {
        throw new Error(`status of ${jobId} (wait): HTTP ${res.status}`);
      }
      if (Date.now() > deadline) throw new Error(`job ${jobId} not done after ${timeoutMs} ms`);
    }
  }

  async status(jobId: string): Promise<JobStatus> {
    const res = await request(this.url(`/job/${jobId}/status`));
    if (res.status !== 200) throw new Error(`status of ${jobId}: HTTP ${res.status}`);
    return JSON.parse(res.body) as JobStatus;
  }

  /** Jobs with this tag (one page of up to 1,000). */
  async listByTag(tag: string): Promise<JobStatus[]> {
    const res = await request(this.url(`/jobs?tag=${encodeURIComponent(tag)}&limit=1000`));
    if (res.status !== 200) throw new Error(`GET /jobs: HTTP ${res.status}`);
    return JSON.parse(res.body) as JobStatus[];
  }

  async deleteFile(fileId: string): Promise<void> {
    await request(this.url(`/file/${fileId}`), { method: 'DELETE' });
  }

  /** Poll the status every `everyMs` until `done` holds; returns it with the time it was seen. */
  async waitForStatus(jobId: string, done: (s: JobStatus) => boolean, everyMs: number, timeoutMs = 120_000): Promise<{ status: JobStatus; seenAt: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.status(jobId);
      if (done(status)) return { status, seenAt: performance.now() };
      if (Date.now() > deadline) throw new Error(`job ${jobId} not done after ${timeoutMs} ms: ${status.state} ${status.status}`);
      await sleep(everyMs);
    }
  }
}
