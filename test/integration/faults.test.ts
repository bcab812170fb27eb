// Faults injected into the real system: the gateway process killed with SIGKILL at the worst
// moments, sshd stopped (and its open sessions cut), slurmctld stopped for a minute. After each,
// every job must end in its true state, with exactly one Slurm job and its output.
// The crash moments are chosen by the gateway's crash points (CAESAR_GATEWAY_CRASH_AT): the
// SIGKILL itself is real; only its timing is arranged, because no test could hit it reliably.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { connection, daemon, dropSshSessions, sleep, slurmJobsNamed, waitFor } from '../support/cluster.ts';
import { startGatewayProcess, type GatewayProcess } from '../support/gatewayProcess.ts';
import { syntheticImage, withBulkExtension } from '../support/syntheticFits.ts';
import { readTarGz } from '../support/tarball.ts';
import { startTestGateway, postJson, uploadBytes, waitForStatus, finishedWithOutput, type StatusBody, type TestGateway } from '../support/testGateway.ts';

const image = syntheticImage({ width: 96, height: 96, sources: [{ x: 40, y: 40, peak: 0.05, sigma: 2 }] });

async function uploadTo(url: (p: string) => string): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([image.bytes]), 'fault.fits');
  const res = await fetch(url('/upload'), { method: 'POST', body: form });
  return ((await res.json()) as { uuid: string }).uuid;
}

async function statusAt(url: (p: string) => string, id: string): Promise<StatusBody> {
  return (await (await fetch(url(`/job/${id}/status`))).json()) as StatusBody;
}

async function finalAt(url: (p: string) => string, id: string, timeoutMs = 120_000): Promise<StatusBody> {
  return waitFor(`job ${id} final with output`, async () => {
    const s = await statusAt(url, id);
    return finishedWithOutput(s) ? s : undefined;
  }, timeoutMs);
}

async function expectExactlyOneSlurmJob(jobId: string): Promise<void> {
  const slurmJobs = await waitFor('accounting row', async () => {
    const rows = await slurmJobsNamed(`cg-${jobId}`);
    return rows.length > 0 ? rows : undefined;
  }, 30_000);
  expect(slurmJobs, `Slurm jobs named cg-${jobId}`).to.have.length(1);
}

describe('faults: gateway killed, SSH down, slurmctld down', function () {
  this.timeout(600_000);
  const dirs: string[] = [];
  const processes: GatewayProcess[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'caesar-faults-'));
    dirs.push(dir);
    return dir;
  };
  const start = async (env: Record<string, string>) => {
    const p = await startGatewayProcess(env);
    processes.push(p);
    return p;
  };

  after(async () => {
    for (const p of processes) await p.kill('SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    await daemon('start', 'sshd');
    await daemon('start', 'slurmctld');
  });

  for (const point of ['before-sbatch', 'after-sbatch'] as const) {
    it(`SIGKILL ${point}: after a restart the job runs exactly once and its output is there`, async () => {
      const dataDir = tempDir();
      const first = await start({ CAESAR_GATEWAY_DATA_DIR: dataDir, CAESAR_GATEWAY_CRASH_AT: point });
      const file = await uploadTo(first.url);
      const accepted = await fetch(first.url('/job'), {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ app: 'caesar', data_inputs: file, job_inputs: { 'no-mpi': true } }),
      }).then(async (r) => ((await r.json()) as { job_id: string }).job_id).catch(() => undefined);
      expect(await first.exited).to.equal('SIGKILL');

      const second = await start({ CAESAR_GATEWAY_DATA_DIR: dataDir });
      const jobId = accepted ?? ((await (await fetch(second.url('/jobs'))).json()) as Array<{ job_id: string }>)[0]!.job_id;
      const final = await finalAt(second.url, jobId);
      expect(final.state).to.equal('SUCCESS');
      await expectExactlyOneSlurmJob(jobId);
      const tar = await readTarGz(Buffer.from(await (await fetch(second.url(`/job/${jobId}/output`))).arrayBuffer()));
      expect(tar.has('catalog-fault.json')).to.equal(true);
      expect(await second.kill('SIGTERM')).to.equal('0');
    });
  }

  it('SIGKILL during output collection: the restarted gateway collects the whole output again', async () => {
    const dataDir = tempDir();
    const first = await start({ CAESAR_GATEWAY_DATA_DIR: dataDir, CAESAR_GATEWAY_CRASH_AT: 'during-collection' });
    const file = await uploadTo(first.url);
    const res = await fetch(first.url('/job'), {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ app: 'caesar', data_inputs: file, job_inputs: { 'no-mpi': true } }),
    });
    const jobId = ((await res.json()) as { job_id: string }).job_id;
    expect(await first.exited).to.equal('SIGKILL');

    const second = await start({ CAESAR_GATEWAY_DATA_DIR: dataDir });
    const final = await finalAt(second.url, jobId);
    expect(final.state).to.equal('SUCCESS');
    const tar = await readTarGz(Buffer.from(await (await fetch(second.url(`/job/${jobId}/output`))).arrayBuffer()));
    expect([...tar.keys()]).to.include.members(['job.sbatch', 'catalog-fault.dat', 'catalog-fault.json']);
    expect(readdirSync(path.join(dataDir, 'outputs')).filter((f) => f.endsWith('.part'))).to.deep.equal([]);
    await expectExactlyOneSlurmJob(jobId);
    await second.kill('SIGTERM');
  });

  describe('with the gateway running', () => {
    let gw: TestGateway;
    let file: string;
    before(async () => {
      gw = await startTestGateway();
      file = ((await (await uploadBytes(gw, image.bytes, 'fault.fits')).json()) as { uuid: string }).uuid;
    });
    after(async () => {
      await gw?.stop();
    });

    const submit = async (input = file) => ((await (await postJson(gw, '/job', { app: 'caesar', data_inputs: input, job_inputs: { 'no-mpi': true } })).json()) as { job_id: string }).job_id;

    it('sshd down during submission: the job waits for the cluster, then runs once', async () => {
      await daemon('stop', 'sshd');
      await dropSshSessions();
      try {
        const jobId = await submit();
        const waiting = await waitForStatus(gw, jobId, (s) => /waiting for the cluster/.test(s.status), 30_000);
        expect(waiting.state).to.equal('PENDING');
        await sleep(3000);
        expect((await waitForStatus(gw, jobId, () => true)).state).to.equal('PENDING');
        await daemon('start', 'sshd');
        const final = await waitForStatus(gw, jobId, finishedWithOutput, 120_000);
        expect(final.state).to.equal('SUCCESS');
        await expectExactlyOneSlurmJob(jobId);
      } finally {
        await daemon('start', 'sshd');
      }
    });

    it('SSH cut while the input is being sent: the job is sent again (never looked up by name or aborted) and runs once', async () => {
      const big = withBulkExtension(image.bytes, 256 * 1024 ** 2);
      const uuid = ((await (await uploadBytes(gw, big, 'fault-big.fits')).json()) as { uuid: string }).uuid;
      const jobId = await submit(uuid);
      // The cluster is this machine: the transfer's partial file is visible in the gateway's inputs directory.
      const inputs = path.join(connection().remoteRoot, 'inputs', uuid);
      const partials = () => { try { return readdirSync(inputs).filter((n) => n.startsWith('fault-big.fits.part-')); } catch { return []; } };
      const deadline = Date.now() + 60_000;
      for (;;) {
        const part = partials()[0];
        if (part && statSync(path.join(inputs, part), { throwIfNoEntry: false })!.size > 32 * 1024 ** 2) break;
        if (Date.now() > deadline) throw new Error('the input never got half-way to the cluster');
        await sleep(10);
      }
      await dropSshSessions();
      const seen = new Set<string>();
      const final = await waitForStatus(gw, jobId, (s) => { seen.add(`${s.state}: ${s.status}`); return finishedWithOutput(s); }, 180_000);
      const history = [...seen].join(' | ');
      expect(final.state, history).to.equal('SUCCESS');
      expect(history).to.match(/PENDING: waiting for the cluster/);
      expect(history).to.not.match(/outcome unknown/);
      await expectExactlyOneSlurmJob(jobId);
      expect(partials(), 'partial transfers left on the cluster').to.deep.equal([]);
    });

    it('sshd down during polling: nothing is misreported, the job ends SUCCESS when SSH returns', async () => {
      const jobId = await submit();
      await waitForStatus(gw, jobId, (s) => s.pid !== null);
      await daemon('stop', 'sshd');
      await dropSshSessions();
      try {
        const seen = new Set<string>();
        for (let i = 0; i < 10; i += 1) {
          seen.add((await waitForStatus(gw, jobId, () => true)).state);
          await sleep(500);
        }
        expect([...seen].every((s) => s === 'PENDING' || s === 'RUNNING'), [...seen].join()).to.equal(true);
        await daemon('start', 'sshd');
        const final = await waitForStatus(gw, jobId, finishedWithOutput, 120_000);
        expect(final.state).to.equal('SUCCESS');
      } finally {
        await daemon('start', 'sshd');
      }
    });

    it('slurmctld stopped for a minute: jobs submitted meanwhile run once when it returns', async () => {
      await daemon('stop', 'slurmctld');
      const jobIds: string[] = [];
      try {
        for (let i = 0; i < 3; i += 1) jobIds.push(await submit());
        await sleep(60_000);
        for (const id of jobIds) {
          const s = await waitForStatus(gw, id, () => true);
          expect(s.state, id).to.equal('PENDING');
          expect(s.pid, id).to.equal(null);
        }
      } finally {
        await daemon('start', 'slurmctld');
      }
      for (const id of jobIds) {
        const final = await waitForStatus(gw, id, finishedWithOutput, 180_000);
        expect(final.state, id).to.equal('SUCCESS');
        await expectExactlyOneSlurmJob(id);
      }
    });
  });
});
