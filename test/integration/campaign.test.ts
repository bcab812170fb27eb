// A campaign of 200 jobs, as a curl-driven user would run it, while faults hit at random
// (seeded) moments: the gateway SIGKILLed and restarted three times, sshd stopped with its
// sessions cut, jobs cancelled. Clients retry with an Idempotency-Key, as they should.
// Afterwards: 0 lost, 0 duplicated, and every final state equal to what sacct says.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { asRoot, daemon, dropSshSessions, sleep, waitFor } from '../support/cluster.ts';
import { startGatewayProcess, type GatewayProcess } from '../support/gatewayProcess.ts';
import { headerOnlyFits, syntheticImage } from '../support/syntheticFits.ts';
import { mapSlurmState } from '../../src/scheduler/slurm/stateTable.ts';

const JOBS = 200;
const FAILING = 20;
const CANCELLED = 10;
const CLIENTS = 8;

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe('campaign of 200 jobs with faults injected', function () {
  this.timeout(900_000);
  const random = seeded(20261130);
  let dataDir: string;
  let port: number;
  let gateway: GatewayProcess | undefined;
  const url = (p: string) => `http://127.0.0.1:${port}/caesar/api/v1.0${p}`;

  const startGateway = async () => {
    gateway = await startGatewayProcess({ CAESAR_GATEWAY_DATA_DIR: dataDir, PORT: String(port) });
  };

  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'caesar-campaign-'));
    port = await freePort();
    await startGateway();
  });
  after(async () => {
    await gateway?.kill('SIGKILL');
    await daemon('start', 'sshd');
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Like a careful curl loop: retry until the gateway answers, same key every time. */
  async function request(pathname: string, init: RequestInit & { headers?: Record<string, string> }): Promise<Response> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const res = await fetch(url(pathname), init);
        if (res.status < 500) return res;
      } catch {
        // the gateway is down (killed by the test): retry
      }
      if (attempt > 600) throw new Error(`gave up on ${pathname}`);
      await sleep(200);
    }
  }

  async function upload(bytes: Buffer, name: string): Promise<string> {
    const form = new FormData();
    form.append('file', new Blob([bytes]), name);
    return ((await (await request('/upload', { method: 'POST', body: form })).json()) as { uuid: string }).uuid;
  }

  it('loses nothing, duplicates nothing, and agrees with sacct', async () => {
    const good = await upload(syntheticImage({ width: 64, height: 64, sources: [{ x: 30, y: 30, peak: 0.05, sigma: 2 }] }).bytes, 'camp.fits');
    const bad = await upload(headerOnlyFits(), 'broken.fits');
    const tag = `campaign-${Date.now()}`;
    const jobIds: string[] = new Array<string>(JOBS);

    const submitAll = async () => {
      let next = 0;
      await Promise.all(Array.from({ length: CLIENTS }, async () => {
        while (next < JOBS) {
          const i = next++;
          const res = await request('/job', {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': `${tag}-${i}` },
            body: JSON.stringify({ app: 'caesar', tag, data_inputs: i < FAILING ? bad : good, job_inputs: { 'no-mpi': true } }),
          });
          expect(res.status, `job ${i}`).to.equal(202);
          jobIds[i] = ((await res.json()) as { job_id: string }).job_id;
        }
      }));
    };

    const faults = async () => {
      for (let k = 0; k < 3; k += 1) {
        await sleep(2000 + random() * 8000);
        await gateway!.kill('SIGKILL');
        await sleep(random() * 2000);
        await startGateway();
      }
      await sleep(random() * 5000);
      await daemon('stop', 'sshd');
      await dropSshSessions();
      await sleep(5000);
      await daemon('start', 'sshd');
    };

    const cancels = async () => {
      for (let k = 0; k < CANCELLED; k += 1) {
        await sleep(random() * 3000);
        const candidates = jobIds.filter(Boolean);
        const victim = candidates[Math.floor(random() * candidates.length)]!;
        await request(`/job/${victim}/cancel`, { method: 'POST' });
      }
    };

    await Promise.all([submitAll(), faults(), cancels()]);
    expect(new Set(jobIds).size, 'distinct gateway jobs').to.equal(JOBS);

    // Every job reaches a final state with its output collected.
    const finals = await waitFor('every job final', async () => {
      const all: Array<{ job_id: string; state: string; output_available: boolean; slurm: { job_id: string | null } }> = [];
      let after = '';
      for (;;) {
        const res = await request(`/jobs?tag=${tag}&limit=1000${after}`, { method: 'GET' });
        all.push(...((await res.json()) as typeof all));
        const cursor = res.headers.get('x-next-cursor');
        if (!cursor) break;
        after = `&after=${cursor}`;
      }
      const done = all.filter((j) => !['PENDING', 'RUNNING', 'UNKNOWN'].includes(j.state) && (j.output_available || j.slurm.job_id === null));
      return done.length === JOBS ? all : undefined;
    }, 600_000);
    expect(finals, 'jobs listed under the campaign tag').to.have.length(JOBS);
    expect(new Set(finals.map((j) => j.job_id))).to.deep.equal(new Set(jobIds));

    // Exactly one Slurm job per gateway job, and the same final state as accounting.
    const byName = new Map<string, Array<{ id: string; state: string }>>();
    for (let i = 0; i < jobIds.length; i += 50) {
      const names = jobIds.slice(i, i + 50).map((id) => `cg-${id}`).join(',');
      const out = await asRoot('sacct', ['-X', '-n', '-P', `--name=${names}`, '-S', 'now-1days', '--format=JobName,JobIDRaw,State']);
      for (const line of out.split('\n').filter(Boolean)) {
        const [name = '', id = '', state = ''] = line.split('|');
        byName.set(name, [...(byName.get(name) ?? []), { id, state }]);
      }
    }
    const summary = { SUCCESS: 0, FAILURE: 0, CANCELED: 0, other: 0 };
    for (const job of finals) {
      const slurmJobs = byName.get(`cg-${job.job_id}`) ?? [];
      if (job.slurm.job_id === null) {
        // Cancelled before it reached Slurm: then Slurm must never have seen it.
        expect(job.state, job.job_id).to.equal('CANCELED');
        expect(slurmJobs, job.job_id).to.have.length(0);
      } else {
        expect(slurmJobs, `Slurm jobs for ${job.job_id}`).to.have.length(1);
        expect(slurmJobs[0]!.id).to.equal(job.slurm.job_id);
        expect(job.state, job.job_id).to.equal(mapSlurmState(slurmJobs[0]!.state).state);
      }
      if (job.state in summary) summary[job.state as keyof typeof summary] += 1;
      else summary.other += 1;
    }
    expect(summary.FAILURE).to.be.at.least(FAILING - CANCELLED);
    expect(summary.SUCCESS).to.be.at.least(JOBS - FAILING - CANCELLED);
    expect(summary.other).to.equal(0);
  });
});
