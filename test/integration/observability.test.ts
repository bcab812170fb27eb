// Health, readiness, request ids and Prometheus metrics report real values after real traffic:
// uploads, downloads, a job run to SUCCESS on the local cluster, a failing Slurm command, a
// dropped SSH connection, an unreachable cluster and a closed database.
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { syntheticImage } from '../support/syntheticFits.ts';
import { parseMetrics, select, total, type Sample } from '../support/metricsText.ts';
import {
  API, configWithUnreachableCluster, finishedWithOutput, postJson, startTestGateway, uploadBytes, waitForStatus, type TestGateway,
} from '../support/testGateway.ts';

type Json = Record<string, unknown>;
interface Readiness { status: string; checks: { database: { ok: boolean; ms: number; error?: string }; clusters: Record<string, { ok: boolean; ms: number; error?: string }> } }
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function scrape(gw: TestGateway): Promise<Sample[]> {
  const res = await fetch(`${gw.base}/metrics`);
  expect(res.status).to.equal(200);
  expect(res.headers.get('content-type')).to.match(/^text\/plain/);
  return parseMetrics(await res.text());
}

describe('Observability after real traffic', function () {
  this.timeout(180_000);

  describe('a gateway with the local cluster', () => {
    let gw: TestGateway;
    before(async () => {
      gw = await startTestGateway();
    });
    after(async () => {
      await gw?.stop();
    });

    it('/healthz says the process is alive; /readyz checks the database and the cluster over SSH', async () => {
      const health = await fetch(`${gw.base}/healthz`);
      expect(health.status).to.equal(200);
      expect(await health.json()).to.deep.equal({ status: 'ok' });
      const ready = await fetch(`${gw.base}/readyz`);
      const body = (await ready.json()) as Readiness;
      expect(ready.status, JSON.stringify(body)).to.equal(200);
      expect(body.status).to.equal('ready');
      expect(body.checks.database).to.include({ ok: true });
      expect(Object.keys(body.checks.clusters)).to.deep.equal(['local']);
      expect(body.checks.clusters.local).to.include({ ok: true });
      expect(body.checks.clusters.local!.ms).to.be.a('number').and.above(0);
    });

    it('echoes a well-formed X-Request-Id and replaces anything else with a new UUID', async () => {
      const id = async (value?: string) => (await fetch(`${gw.base}/healthz`, { headers: value === undefined ? {} : { 'x-request-id': value } })).headers.get('x-request-id');
      expect(await id('client-42.retry_1')).to.equal('client-42.retry_1');
      expect(await id()).to.match(UUID);
      expect(await id('has space')).to.match(UUID);
      expect(await id('x'.repeat(129))).to.match(UUID);
      expect(await id('x'.repeat(128))).to.equal('x'.repeat(128));
      const a = await id();
      expect(await id()).to.not.equal(a);
    });

    it('/metrics counts requests by route and status, bytes, jobs by state and Slurm commands by kind', async () => {
      const image = syntheticImage({ width: 128, height: 128, sources: [{ x: 64, y: 64, peak: 0.05, sigma: 2 }] });
      const upload = (await (await uploadBytes(gw, image.bytes, 'metrics.fits')).json()) as { uuid: string };
      const download = (init?: RequestInit) => fetch(gw.url(`/download/${upload.uuid}`), init).then((r) => r.arrayBuffer());
      expect((await download()).byteLength).to.equal(image.bytes.length);
      expect((await download({ method: 'POST' })).byteLength).to.equal(image.bytes.length);
      expect((await download({ headers: { range: 'bytes=0-2879' } })).byteLength).to.equal(2880);
      expect((await fetch(gw.url('/download/0123456789abcdef0123456789abcdef'))).status).to.equal(404);
      expect((await fetch(`${gw.base}/no/such/thing`)).status).to.equal(404);

      const job = (await (await postJson(gw, '/job', { app: 'caesar', data_inputs: upload.uuid, job_inputs: { 'no-mpi': true } })).json()) as Json;
      const jobId = String(job.job_id);
      expect((await waitForStatus(gw, jobId, finishedWithOutput)).state).to.equal('SUCCESS');
      const output = Buffer.from(await (await fetch(gw.url(`/job/${jobId}/output`))).arrayBuffer());
      expect(output.length).to.be.above(0);
      // A cluster command that fails for real: collecting a job directory that does not exist.
      const failed = await gw.gateway.schedulers.get('local')!.streamDirectory('/nonexistent/caesar-gateway-test', new PassThrough().resume())
        .then(() => false, () => true);
      expect(failed).to.equal(true);

      const m = await scrape(gw);
      const http = (route: string, status: string, method = 'GET') =>
        total(m, 'caesar_http_requests_total', { method, route: `${API}${route}`, status });
      expect(http('/upload', '200', 'POST')).to.equal(1);
      expect(http('/download/:uuid', '200')).to.equal(1);
      expect(http('/download/:uuid', '200', 'POST')).to.equal(1);
      expect(http('/download/:uuid', '206')).to.equal(1);
      expect(http('/download/:uuid', '404')).to.equal(1);
      expect(http('/job', '202', 'POST')).to.equal(1);
      expect(http('/job/:id/status', '200')).to.be.at.least(1);
      expect(http('/job/:id/output', '200')).to.equal(1);
      expect(total(m, 'caesar_http_requests_total', { route: 'unmatched', status: '404' })).to.equal(1);
      expect(total(m, 'caesar_http_requests_total', { route: '/healthz', status: '200' })).to.equal(8);
      expect(total(m, 'caesar_http_request_duration_seconds_count', { method: 'POST', route: `${API}/upload` })).to.equal(1);
      expect(total(m, 'caesar_http_request_duration_seconds_sum', { method: 'POST', route: `${API}/upload` })).to.be.above(0);

      expect(total(m, 'caesar_bytes_uploaded_total')).to.equal(image.bytes.length);
      expect(total(m, 'caesar_bytes_served_total', { kind: 'download' })).to.equal(2 * image.bytes.length + 2880);
      expect(total(m, 'caesar_bytes_served_total', { kind: 'output' })).to.equal(output.length);

      expect(total(m, 'caesar_jobs', { state: 'SUCCESS' })).to.equal(1);
      expect(total(m, 'caesar_jobs')).to.equal(1);
      expect(select(m, 'caesar_jobs').map((s) => s.labels.state)).to.include.members(['PENDING', 'RUNNING', 'FAILURE']);

      const slurm = (kind: string, outcome: string) => total(m, 'caesar_slurm_commands_total', { cluster: 'local', kind, outcome });
      expect(slurm('sbatch', 'ok')).to.equal(1);
      expect(slurm('stage', 'ok')).to.equal(1);
      // squeue exits non-zero once none of the ids is known any more: either outcome counts here.
      expect(total(m, 'caesar_slurm_commands_total', { cluster: 'local', kind: 'squeue' })).to.be.at.least(1);
      expect(slurm('sacct', 'ok')).to.be.at.least(1);
      expect(slurm('tar', 'ok')).to.equal(1);
      expect(slurm('tar', 'error')).to.equal(1);
      for (const kind of ['sbatch', 'squeue', 'sacct', 'stage', 'tar']) {
        const commands = total(m, 'caesar_slurm_commands_total', { cluster: 'local', kind });
        expect(total(m, 'caesar_slurm_command_duration_seconds_count', { cluster: 'local', kind }), kind).to.equal(commands);
        expect(total(m, 'caesar_slurm_command_duration_seconds_sum', { cluster: 'local', kind }), kind).to.be.above(0);
      }
      expect(total(m, 'caesar_poll_cycle_duration_seconds_count', { cluster: 'local' })).to.be.at.least(1);
      expect(total(m, 'caesar_ssh_connects_total', { cluster: 'local' })).to.equal(1);
      expect(select(m, 'caesar_process_process_resident_memory_bytes')).to.have.length(1);
    });

    it('counts an SSH reconnect after the connection drops', async () => {
      const { port } = gw.config.clusters[0]!;
      // Drop this process's own SSH connection to the cluster, as a network failure would.
      const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
      const sockets = handles.filter((h): h is net.Socket => h instanceof net.Socket && h.remotePort === port);
      expect(sockets).to.have.length(1);
      sockets[0]!.destroy();
      await new Promise((r) => setTimeout(r, 300));
      await gw.gateway.schedulers.get('local')!.cancel('999999992');
      const m = await scrape(gw);
      expect(total(m, 'caesar_ssh_connects_total', { cluster: 'local' })).to.equal(2);
      expect(total(m, 'caesar_slurm_commands_total', { cluster: 'local', kind: 'scancel' })).to.equal(1);
    });
  });

  describe('a gateway with an unreachable cluster', () => {
    let gw: TestGateway;
    before(async () => {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'caesar-readyz-test-'));
      gw = await startTestGateway({ CAESAR_GATEWAY_DATA_DIR: dataDir, CAESAR_GATEWAY_CONFIG: configWithUnreachableCluster(dataDir) });
    });
    after(async () => {
      await gw?.stop();
    });

    it('/readyz answers 503 naming the cluster it cannot reach, then the database once it is gone', async () => {
      const res = await fetch(`${gw.base}/readyz`);
      expect(res.status).to.equal(503);
      const body = (await res.json()) as Readiness;
      expect(body.status).to.equal('not ready');
      expect(body.checks.database.ok).to.equal(true);
      expect(body.checks.clusters.local!.ok).to.equal(true);
      expect(body.checks.clusters.offline).to.include({ ok: false });
      expect(body.checks.clusters.offline!.error).to.match(/offline: (cannot connect|unreachable)/);
      expect((await fetch(`${gw.base}/healthz`)).status).to.equal(200);

      await gw.gateway.db.destroy();
      const closed = (await (await fetch(`${gw.base}/readyz`)).json()) as Readiness;
      expect(closed.status).to.equal('not ready');
      expect(closed.checks.database.ok).to.equal(false);
      expect(closed.checks.database.error).to.be.a('string').and.not.equal('');
      expect((await fetch(`${gw.base}/healthz`)).status).to.equal(200);
    });
  });
});
