// /openapi.json is kept true: real traffic against a real gateway (uploads, a job run to SUCCESS
// on the local cluster, a job waiting for an unreachable cluster, errors) is checked response by
// response against the document the gateway serves; every operation in it must have answered,
// and every route the Koa routers register must be in it.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { syntheticImage } from '../support/syntheticFits.ts';
import { API, configWithUnreachableCluster, startTestGateway, type TestGateway } from '../support/testGateway.ts';
import { OpenApiChecker, registeredRoutes, validateOpenApiStructure, type OpenApiDocument } from '../support/openapiCheck.ts';

type Json = Record<string, unknown>;

describe('OpenAPI document (/openapi.json) against real responses', function () {
  this.timeout(180_000);
  let gw: TestGateway;
  let checker: OpenApiChecker;
  const image = syntheticImage({ width: 128, height: 128, sources: [{ x: 60, y: 60, peak: 0.05, sigma: 2 }] });
  let fileId: string;
  let finishedJob: string;
  let waitingJob: string;

  /** One request; its response is checked against the document before the test sees it. */
  async function call(method: string, pathname: string, init: RequestInit = {}, base = gw.base): Promise<{ status: number; headers: Headers; body: Buffer; json: () => Json }> {
    const res = await fetch(`${base}${pathname}`, { ...init, method });
    const body = Buffer.from(await res.arrayBuffer());
    checker.check({ method, path: pathname, status: res.status, headers: res.headers, body });
    return { status: res.status, headers: res.headers, body, json: () => JSON.parse(body.toString()) as Json };
  }
  const api = (method: string, pathname: string, init?: RequestInit) => call(method, `${API}${pathname}`, init);
  const postJson = (pathname: string, value: unknown, headers: Record<string, string> = {}) =>
    api('POST', pathname, { headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(value) });
  const upload = (bytes: Buffer, name: string, tag?: string) => {
    const form = new FormData();
    form.append('file', new Blob([bytes]), name);
    if (tag) form.append('tag', tag);
    return api('POST', '/upload', { body: form });
  };

  before(async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'caesar-openapi-test-'));
    gw = await startTestGateway({
      CAESAR_GATEWAY_DATA_DIR: dataDir,
      CAESAR_GATEWAY_CONFIG: configWithUnreachableCluster(dataDir),
      CAESAR_GATEWAY_MAX_UPLOAD_BYTES: String(200_000),
    });
    const res = await fetch(`${gw.base}/openapi.json`);
    expect(res.status).to.equal(200);
    checker = new OpenApiChecker((await res.json()) as OpenApiDocument);
  });
  after(async () => {
    await gw?.stop();
  });

  it('is a valid OpenAPI 3.1 document, served at the root and under the API prefix', async () => {
    expect(checker.document.openapi).to.equal('3.1.0');
    expect(validateOpenApiStructure(checker.document)).to.deep.equal([]);
    const root = await call('GET', '/openapi.json');
    const prefixed = await call('GET', `${API}/openapi.json`);
    expect(prefixed.json()).to.deep.equal(root.json());
  });

  it('describes health, readiness and metrics', async () => {
    expect((await call('GET', '/healthz')).json()).to.deep.equal({ status: 'ok' });
    // The configured cluster 'offline' can never be reached: readiness says so, by name.
    expect((await call('GET', '/readyz')).status).to.equal(503);
    // A gateway with only the local cluster is ready.
    const healthy = await startTestGateway();
    try {
      const ready = await call('GET', '/readyz', {}, healthy.base);
      expect(ready.status, ready.body.toString()).to.equal(200);
    } finally {
      await healthy.stop();
    }
    const metrics = await call('GET', '/metrics');
    expect(metrics.body.toString()).to.contain('caesar_http_requests_total');
  });

  it('describes uploads and their errors', async () => {
    const stored = await upload(image.bytes, 'field.fits', 'openapi');
    expect(stored.status).to.equal(200);
    fileId = String(stored.json().uuid);
    const form = new FormData();
    form.append('tag', 'no file');
    expect((await api('POST', '/upload', { body: form })).status).to.equal(400);
    expect((await upload(Buffer.from('not a FITS file'), 'x.fits')).status).to.equal(415);
    expect((await postJson('/upload', { file: 'x' })).status).to.equal(415);
    expect((await upload(syntheticImage({ width: 300, height: 300 }).bytes, 'big.fits')).status).to.equal(413);
  });

  it('describes downloads, ranges and their errors', async () => {
    for (const route of ['download', 'download-id']) {
      for (const method of ['GET', 'POST']) {
        const whole = await api(method, `/${route}/${fileId}`);
        expect(whole.status).to.equal(200);
        expect(whole.body.equals(image.bytes)).to.equal(true);
      }
    }
    expect((await api('GET', `/download/${fileId}`, { headers: { range: 'bytes=0-2879' } })).status).to.equal(206);
    expect((await api('GET', `/download/${fileId}`, { headers: { range: 'bytes=99999999-' } })).status).to.equal(416);
    expect((await api('GET', '/download-id/0123456789abcdef0123456789abcdef')).status).to.equal(404);
    expect((await api('GET', '/fileids')).status).to.equal(200);
  });

  it('describes the app registry', async () => {
    expect((await api('GET', '/apps')).status).to.equal(200);
    expect((await api('GET', '/app/sfinder/describe')).status).to.equal(200);
    expect((await api('GET', '/app/nope/describe')).status).to.equal(400);
  });

  it('describes job submission, a run to SUCCESS on the local cluster, and the errors', async () => {
    const accepted = await postJson('/job', { app: 'caesar', data_inputs: fileId, job_inputs: { 'no-mpi': true }, tag: 'openapi' });
    expect(accepted.status).to.equal(202);
    finishedJob = String(accepted.json().job_id);
    const waiting = await postJson('/job', { app: 'caesar', cluster: 'offline', data_inputs: fileId, job_inputs: {} }, { 'Idempotency-Key': `openapi-${Date.now()}` });
    waitingJob = String(waiting.json().job_id);
    expect((await postJson('/job', { app: 'caesar', job_inputs: { seedthr: -1 } })).status).to.equal(400);
    expect((await api('POST', '/job', { headers: { 'content-type': 'text/plain' }, body: 'hi' })).status).to.equal(415);
    const idem = `openapi-conflict-${Date.now()}`;
    expect((await postJson('/job', { app: 'caesar', cluster: 'offline', data_inputs: fileId, job_inputs: {} }, { 'Idempotency-Key': idem })).status).to.equal(202);
    const replay = await postJson('/job', { app: 'caesar', cluster: 'offline', data_inputs: fileId, job_inputs: {} }, { 'Idempotency-Key': idem });
    expect(replay.headers.get('idempotent-replayed')).to.equal('true');
    expect((await postJson('/job', { app: 'caesar', cluster: 'offline', data_inputs: fileId, job_inputs: { seedthr: 7 } }, { 'Idempotency-Key': idem })).status).to.equal(422);

    const deadline = Date.now() + 120_000;
    let status: Json = {};
    while (Date.now() < deadline) {
      status = (await api('GET', `/job/${finishedJob}/status`)).json();
      if (status.output_available === true || ['FAILURE', 'ABORTED', 'CLEARED'].includes(String(status.state))) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(status).to.include({ state: 'SUCCESS', output_available: true });
    expect((await api('GET', '/job/00000000-0000-4000-8000-000000000000/status')).status).to.equal(404);
  });

  it('describes the status ETag, 304 and the long-poll', async () => {
    const current = await api('GET', `/job/${finishedJob}/status`);
    const etag = current.headers.get('etag')!;
    expect(etag).to.be.a('string');
    expect((await api('GET', `/job/${finishedJob}/status`, { headers: { 'if-none-match': etag } })).status).to.equal(304);
    expect((await api('GET', `/job/${finishedJob}/status?wait=0.5`, { headers: { 'if-none-match': etag } })).status).to.equal(304);
    expect((await api('GET', `/job/${finishedJob}/status?wait=0.5`)).status).to.equal(200);
    expect((await api('GET', `/job/${finishedJob}/status?wait=61`)).status).to.equal(400);
  });

  it('describes listing, paging and accounting', async () => {
    expect((await api('GET', '/jobs')).status).to.equal(200);
    const page = await api('GET', '/jobs?limit=1&app=caesar');
    expect(page.headers.get('x-next-cursor')).to.be.a('string');
    expect((await api('GET', `/jobs?limit=1&after=${page.headers.get('x-next-cursor')}`)).status).to.equal(200);
    expect((await api('GET', '/jobs?state=DONE')).status).to.equal(400);
    expect((await api('GET', '/accounting')).status).to.equal(200);
    expect((await api('GET', '/appstats')).status).to.equal(200);
  });

  it('describes every result of a finished job, and 202 while a job is unfinished', async () => {
    const expected: Record<string, number> = {
      sources: 200, 'source-components': 404, 'output-sources': 200, 'output-components': 404, 'output-plot': 200, preview: 200, output: 200,
    };
    for (const [result, status] of Object.entries(expected)) {
      expect((await api('GET', `/job/${finishedJob}/${result}`)).status, result).to.equal(status);
      expect((await api('GET', `/job/${waitingJob}/${result}`)).status, result).to.equal(202);
    }
  });

  it('describes deleting files (409 while in use) and cancelling jobs', async () => {
    expect((await api('GET', `/delete/${fileId}`)).status).to.equal(409);
    for (const [method, route] of [['GET', '/delete'], ['POST', '/delete'], ['DELETE', '/file']] as const) {
      const spare = String((await upload(image.bytes, 'spare.fits')).json().uuid);
      expect((await api(method, `${route}/${spare}`)).status).to.equal(200);
      expect((await api(method, `${route}/${spare}`)).status).to.equal(404);
    }
    expect((await api('GET', `/job/${finishedJob}/cancel`)).status).to.equal(200);
    expect((await api('POST', `/job/${waitingJob}/cancel`)).status).to.equal(200);
    expect((await api('DELETE', `/job/${waitingJob}`)).status).to.equal(200);
  });

  it('answers unknown endpoints and methods with the documented error body', async () => {
    const unknown = await fetch(`${gw.base}${API}/nope`);
    const wrongMethod = await fetch(`${gw.base}${API}/job/${finishedJob}/status`, { method: 'PUT' });
    for (const [res, status, code] of [[unknown, 404, 'not_found'], [wrongMethod, 405, 'method_not_allowed']] as const) {
      expect(res.status).to.equal(status);
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
      const body = (await res.json()) as { status: string; error: { code: string; message: string } };
      expect(body.error.code).to.equal(code);
      expect(body.status).to.equal(body.error.message);
    }
  });

  it('every documented operation answered real traffic with a documented 2xx', () => {
    const missing = checker.operations().filter((op) => ![...(checker.seen.get(op) ?? [])].some((s) => s >= 200 && s < 300));
    expect(missing, 'operations never exercised with a 2xx').to.deep.equal([]);
  });

  it('documents exactly the routes the Koa routers register', () => {
    expect(checker.operations().sort()).to.deep.equal(registeredRoutes(gw.gateway.app));
  });
});
