// The gateway's REST API as a client uses it (fetch, keep-alive).
import { API } from './gateway.ts';
import { sleep } from './stats.ts';

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
    const res = await fetch(this.url('/job'), {
      method: 'POST', headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ app: 'caesar', data_inputs: fileId, tag, job_inputs: { 'no-mpi': true, ...jobInputs } }),
    });
    const body = await res.json() as { job_id?: string; status?: string; state?: string; pid?: string | null };
    if (res.status !== 202 || !body.job_id) throw new Error(`POST /job failed (${res.status}): ${body.status}`);
    return { jobId: body.job_id, etag: res.headers.get('etag'), body };
  }

  /**
   * Long-poll (`?wait=`) until `done` holds: each request is held by the gateway until the status
   * is no longer the one tagged `etag`; returns the status with the time it was seen.
   */
  async waitForChange(jobId: string, etag: string, done: (s: JobStatus) => boolean, timeoutMs = 120_000): Promise<{ status: JobStatus; seenAt: number }> {
    const deadline = Date.now() + timeoutMs;
    let current = etag;
    for (;;) {
      const res = await fetch(this.url(`/job/${jobId}/status?wait=30`), { headers: { 'if-none-match': current } });
      if (res.status === 200) {
        const status = await res.json() as JobStatus;
        if (done(status)) return { status, seenAt: performance.now() };
        current = res.headers.get('etag') ?? current;
      } else if (res.status === 304) {
        await res.arrayBuffer();
      } else {
        throw new Error(`status of ${jobId} (wait): HTTP ${res.status}`);
      }
      if (Date.now() > deadline) throw new Error(`job ${jobId} not done after ${timeoutMs} ms`);
    }
  }

  async status(jobId: string): Promise<JobStatus> {
    const res = await fetch(this.url(`/job/${jobId}/status`));
    if (res.status !== 200) throw new Error(`status of ${jobId}: HTTP ${res.status}`);
    return await res.json() as JobStatus;
  }

  /** Jobs with this tag (one page of up to 1,000). */
  async listByTag(tag: string): Promise<JobStatus[]> {
    const res = await fetch(this.url(`/jobs?tag=${encodeURIComponent(tag)}&limit=1000`));
    if (res.status !== 200) throw new Error(`GET /jobs: HTTP ${res.status}`);
    return await res.json() as JobStatus[];
  }

  async deleteFile(fileId: string): Promise<void> {
    await fetch(this.url(`/file/${fileId}`), { method: 'DELETE' }).then((res) => res.arrayBuffer());
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
