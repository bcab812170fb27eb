// Idempotent submission, job history, reads that cost Slurm nothing, the output size limit and
// retention — on the real local cluster.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import pino from 'pino';
import { Retention } from '../../src/background/retention.ts';
import { SshConnection } from '../../src/remote/sshConnection.ts';
import { SlurmScheduler } from '../../src/scheduler/slurm/slurmScheduler.ts';
import { asClusterUser, sleep, waitFor } from '../support/cluster.ts';
import { trackSlurmJob } from '../support/trackedJob.ts';
import { writeGatewayConfig } from '../support/gatewayConfig.ts';
import { syntheticImage } from '../support/syntheticFits.ts';
import { finishedWithOutput, jobStatus, postJson, startTestGateway, uploadBytes, waitForStatus, type TestGateway } from '../support/testGateway.ts';

const image = syntheticImage({ width: 64, height: 64, sources: [{ x: 30, y: 30, peak: 0.05, sigma: 2 }] });


describe('reliability on the local cluster', function () {
  this.timeout(180_000);
  let gw: TestGateway;
  let dir: string;
  let fileId: string;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'caesar-reliability-'));
    gw = await startTestGateway({ CAESAR_GATEWAY_CONFIG: writeGatewayConfig(dir, { outputs: { maxBytes: 2000 }, poll: { idChunkSize: 5 } }) });
    fileId = ((await (await uploadBytes(gw, image.bytes, 'rel.fits')).json()) as { uuid: string }).uuid;
  });
  after(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const send = (key: string, body: object) => fetch(gw.url('/job'), {
    method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body),
  });

  it('Idempotency-Key: a retried request returns the first job; the key cannot be reused for another request', async () => {
    const body = { app: 'caesar', data_inputs: fileId, job_inputs: { 'no-mpi': true, seedthr: 5 } };
    const first = await send('retry-me-1', body);
    const again = await send('retry-me-1', { job_inputs: { seedthr: 5, 'no-mpi': true }, data_inputs: fileId, app: 'caesar' });
    expect(first.status).to.equal(202);
    expect(again.status).to.equal(202);
    expect(again.headers.get('idempotent-replayed')).to.equal('true');
    const firstId = ((await first.json()) as { job_id: string }).job_id;
    expect(((await again.json()) as { job_id: string }).job_id).to.equal(firstId);
    const concurrent = await Promise.all(Array.from({ length: 5 }, () => send('retry-me-2', body)));
    const ids = await Promise.all(concurrent.map(async (r) => ((await r.json()) as { job_id: string }).job_id));
    expect(new Set(ids).size).to.equal(1);
    const conflict = await send('retry-me-1', { ...body, job_inputs: { seedthr: 6 } });
    expect(conflict.status).to.equal(422);
    expect(((await conflict.json()) as { status: string }).status).to.contain('already used for a different request');
  });

  it('records every transition and shows the history in the status', async () => {
    const { job_id } = (await (await postJson(gw, '/job', { app: 'caesar', data_inputs: fileId, job_inputs: { 'no-mpi': true } })).json()) as { job_id: string };
    await waitForStatus(gw, job_id, (s) => s.state === 'SUCCESS');
    const status = (await (await fetch(gw.url(`/job/${job_id}/status`))).json()) as { history: Array<{ from: string | null; to: string; reason: string; at: string }> };
    expect(status.history[0]).to.include({ from: null, to: 'PENDING' });
    expect(status.history.at(-1)).to.include({ to: 'SUCCESS' });
    expect(status.history.map((h) => h.to)).to.not.include('FAILURE');
    for (const h of status.history) expect(Number.isNaN(Date.parse(h.at))).to.equal(false);
  });

  /** The gateway's Slurm command count once it has run none for 5 s (over two poll cycles): the
   *  jobs earlier tests left running are final and collected, so nothing else can add to it. */
  async function quietSlurmCommandCount(): Promise<number> {
    return waitFor('the gateway to stop running Slurm commands', async () => {
      const count = await gw.gateway.metrics.slurmCommandCount();
      await sleep(5000);
      return (await gw.gateway.metrics.slurmCommandCount()) === count ? count : undefined;
    }, 120_000);
  }

  it('a burst of 1,000 status requests causes zero Slurm commands', async () => {
    const { job_id } = (await (await postJson(gw, '/job', { app: 'caesar', data_inputs: fileId, job_inputs: { 'no-mpi': true } })).json()) as { job_id: string };
    await waitForStatus(gw, job_id, (s) => s.state === 'SUCCESS');
    const before = await quietSlurmCommandCount();
    const burst = await Promise.all(Array.from({ length: 1000 }, () => fetch(gw.url(`/job/${job_id}/status`)).then((r) => r.status)));
    expect(burst.every((s) => s === 200)).to.equal(true);
    expect(await gw.gateway.metrics.slurmCommandCount()).to.equal(before);
  });

  it('polls more jobs than idChunkSize with one squeue and one sacct per cycle, each job mapped', async () => {
    const ids = (await asClusterUser('for i in $(seq 12); do sbatch --parsable -H -J poll-many -o /dev/null --wrap true; done')).split('\n');
    try {
      const jobs = await Promise.all(ids.map((id) => trackSlurmJob(gw.gateway, id)));
      // The scheduler the poller uses, on a connection of its own so that only its commands count.
      const cluster = gw.config.clusters[0]!;
      const kinds: string[] = [];
      const ssh = new SshConnection({
        name: 'count', host: cluster.host, port: cluster.port, username: cluster.user, privateKey: readFileSync(cluster.privateKeyPath),
        hostKey: cluster.hostKey, maxChannels: 8, keepaliveIntervalMs: 10_000, logger: pino({ level: 'silent' }),
      });
      const scheduler = new SlurmScheduler({ cluster: 'count', user: cluster.user, ssh, commandTimeoutMs: 30_000, idChunkSize: 5, observe: (kind) => kinds.push(kind) });
      try {
        const snapshot = await scheduler.snapshot(ids, Math.floor(Date.now() / 1000) - 3600);
        expect(kinds.sort()).to.deep.equal(['sacct', 'squeue']);
        expect([...snapshot.live.keys()].sort()).to.deep.equal([...ids].sort());
      } finally {
        await scheduler.close();
      }
      await gw.gateway.poller.pollCluster('local', { force: true });
      for (const job of jobs) {
        const s = await jobStatus(gw, job);
        expect(s.state).to.equal('PENDING');
        expect(s.slurm.reason).to.equal('JobHeldUser');
      }
    } finally {
      await asClusterUser(`scancel ${ids.join(' ')}`);
    }
  });

  it('does not collect an output over the size limit, and says so', async () => {
    const { job_id } = (await (await postJson(gw, '/job', { app: 'caesar', data_inputs: fileId, job_inputs: { 'no-mpi': true } })).json()) as { job_id: string };
    const final = await waitForStatus(gw, job_id, (s) => s.state === 'SUCCESS' && /output not collected/.test(s.status));
    expect(final.status).to.contain('larger than the limit of 2000 bytes');
    const res = await fetch(gw.url(`/job/${job_id}/output`));
    expect(res.status).to.equal(404);
    expect(((await res.json()) as { status: string }).status).to.contain('larger than the limit');
  });

  it('retention removes old uploads and outputs on both sides, never those of unfinished jobs', async () => {
    // A second gateway without the size limit, so outputs are collected.
    const other = await startTestGateway();
    try {
      const upload = async (name: string) => ((await (await uploadBytes(other, image.bytes, name)).json()) as { uuid: string; path: string });
      const old = await upload('old.fits');
      const inUse = await upload('inuse.fits');
      const { job_id } = (await (await postJson(other, '/job', { app: 'caesar', data_inputs: old.uuid, job_inputs: { 'no-mpi': true } })).json()) as { job_id: string };
      const done = await waitForStatus(other, job_id, finishedWithOutput);
      expect(done.state).to.equal('SUCCESS');
      const cluster = other.config.clusters[0]!;
      const remoteDir = `${cluster.remoteRoot}/jobs/${job_id}`;
      expect(await asClusterUser(`test -d ${remoteDir} && echo present`)).to.equal('present');
      const stagedCopy = `${cluster.remoteRoot}/inputs/${old.uuid}`;
      expect(await asClusterUser(`test -f ${stagedCopy}/old.fits && echo present`)).to.equal('present');
      // The in-use file feeds a job that cannot start: its cluster is declared but never reachable.
      await other.gateway.db('jobs').insert({ ...(await other.gateway.jobs.find(job_id))!, id: '11111111-2222-4333-8444-555555555555', file_id: inUse.uuid, state: 'PENDING', finished_at: null, output_phase: 'none' });

      const retention = new Retention({
        db: other.gateway.db, jobs: other.gateway.jobs, clusters: new Map([[cluster.name, cluster]]), schedulers: other.gateway.schedulers,
        retention: { schedule: '', uploadsMaxAgeDays: 7, jobsMaxAgeDays: 7 }, logger: pino({ level: 'silent' }),
        now: () => new Date(Date.now() + 8 * 86_400_000),
      });
      const report = await retention.runOnce();
      expect(report).to.deep.equal({ uploadsRemoved: 1, jobOutputsRemoved: 1, errors: 0 });
      expect(await asClusterUser(`test -d ${remoteDir} && echo present || echo gone`)).to.equal('gone');
      expect(await asClusterUser(`test -e ${stagedCopy} && echo present || echo gone`)).to.equal('gone');
      expect(existsSync(old.path)).to.equal(false);
      expect(existsSync(inUse.path)).to.equal(true);
      const expired = await jobStatus(other, job_id);
      expect(expired.output_available).to.equal(false);
      expect((await fetch(other.url(`/download/${inUse.uuid}`))).status).to.equal(200);
      expect((await fetch(other.url(`/download/${old.uuid}`))).status).to.equal(404);
    } finally {
      await other.stop();
    }
  });
});
