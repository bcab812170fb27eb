// Contract tests for every caesar-rest v1.0 endpoint, against a real gateway on the local cluster
// (plus a configured cluster that can never be reached, for jobs that must stay unfinished).
import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { syntheticImage } from '../support/syntheticFits.ts';
import {
  configWithUnreachableCluster, finishedWithOutput, postJson, startTestGateway, uploadBytes, waitForStatus, type TestGateway,
} from '../support/testGateway.ts';

interface UploadBody { uuid: string; path: string; filename_orig: string; format: string; size: number; date: string; tag: string | null; status: string }
type Json = Record<string, unknown>;

describe('HTTP API contract (caesar-rest v1.0)', function () {
  this.timeout(120_000);
  let gw: TestGateway;
  let dataDir: string;
  const image = syntheticImage({ width: 128, height: 128, sources: [{ x: 60, y: 60, peak: 0.05, sigma: 2 }] });
  let file: UploadBody;
  let finishedJob: string;
  let waitingJob: string;

  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'caesar-api-test-'));
    gw = await startTestGateway({
      CAESAR_GATEWAY_DATA_DIR: dataDir,
      CAESAR_GATEWAY_CONFIG: configWithUnreachableCluster(dataDir),
      CAESAR_GATEWAY_MAX_UPLOAD_BYTES: String(200_000),
    });
    file = (await (await uploadBytes(gw, image.bytes, 'my field.fits', 'survey-a')).json()) as UploadBody;
    const job = (await (await postJson(gw, '/job', { app: 'caesar', data_inputs: file.uuid, job_inputs: { 'no-mpi': true }, tag: 'batch-1' })).json()) as Json;
    finishedJob = String(job.job_id);
    const waiting = (await (await postJson(gw, '/job', { app: 'caesar', cluster: 'offline', data_inputs: file.uuid, job_inputs: {}, tag: 'batch-2' })).json()) as Json;
    waitingJob = String(waiting.job_id);
    await waitForStatus(gw, finishedJob, finishedWithOutput);
  });
  after(async () => {
    await gw?.stop();
  });

  const get = (p: string, init?: RequestInit) => fetch(gw.url(p), init);

  describe('files', () => {
    it('POST /upload answers with the caesar-rest fields', () => {
      expect(file.uuid).to.match(/^[0-9a-f]{32}$/);
      expect(file).to.include({ filename_orig: 'my field.fits', format: 'fits', tag: 'survey-a', status: 'File uploaded with success' });
      expect(file.size).to.be.closeTo(image.bytes.length / 1e6, 1e-9);
      expect(Number.isNaN(Date.parse(file.date))).to.equal(false);
      expect(file.path).to.be.a('string');
    });

    it('refuses a request without a file field (400), a non-FITS file (415) and a non-multipart body (415)', async () => {
      const form = new FormData();
      form.append('tag', 'x');
      const noFile = await fetch(gw.url('/upload'), { method: 'POST', body: form });
      expect(noFile.status).to.equal(400);
      expect(((await noFile.json()) as Json).status).to.match(/field named 'file'/);
      const notFits = await uploadBytes(gw, Buffer.from('hello, I am a text file'), 'fake.fits');
      expect(notFits.status).to.equal(415);
      expect(((await notFits.json()) as Json).status).to.match(/not FITS/);
      const json = await postJson(gw, '/upload', { file: 'x' });
      expect(json.status).to.equal(415);
    });

    it('answers 413 over the size limit and leaves nothing behind', async () => {
      const before = readdirSync(path.join(dataDir, 'uploads')).length;
      const big = syntheticImage({ width: 300, height: 300 });
      const res = await uploadBytes(gw, big.bytes, 'big.fits');
      expect(res.status).to.equal(413);
      expect(((await res.json()) as Json).status).to.match(/limit is 200000 bytes/);
      expect(readdirSync(path.join(dataDir, 'uploads'))).to.have.length(before);
      expect(readdirSync(path.join(dataDir, 'tmp'))).to.deep.equal([]);
    });

    it('downloads by /download and /download-id with the original name, and resumes with Range', async () => {
      for (const route of ['download', 'download-id']) {
        const res = await get(`/${route}/${file.uuid}`);
        expect(res.status).to.equal(200);
        expect(res.headers.get('content-disposition')).to.contain('my field.fits');
        expect(Buffer.from(await res.arrayBuffer()).equals(image.bytes)).to.equal(true);
      }
      const part = await get(`/download/${file.uuid}`, { headers: { range: 'bytes=2880-5759' } });
      expect(part.status).to.equal(206);
      expect(part.headers.get('content-range')).to.equal(`bytes 2880-5759/${image.bytes.length}`);
      expect(Buffer.from(await part.arrayBuffer()).equals(image.bytes.subarray(2880, 5760))).to.equal(true);
      expect((await get(`/download/${file.uuid}`, { headers: { range: 'bytes=999999999-' } })).status).to.equal(416);
    });

    it('answers 404 with the caesar-rest message for an unknown uuid', async () => {
      const res = await get('/download/0123456789abcdef0123456789abcdef');
      expect(res.status).to.equal(404);
      expect(await res.json()).to.deep.include({ status: 'File with uuid 0123456789abcdef0123456789abcdef not found on the system!' });
    });

    it('GET /fileids lists the caller\'s files', async () => {
      const list = (await (await get('/fileids')).json()) as Json[];
      expect(list.find((f) => f.fileid === file.uuid)).to.deep.include({ filename_orig: 'my field.fits', fileext: 'fits', tag: 'survey-a' });
    });

    it('refuses to delete a file an unfinished job uses (409), then deletes an unused one', async () => {
      const inUse = await get(`/delete/${file.uuid}`);
      expect(inUse.status).to.equal(409);
      expect(((await inUse.json()) as Json).status).to.match(/unfinished job/);
      const other = (await (await uploadBytes(gw, image.bytes, 'spare.fits')).json()) as UploadBody;
      const deleted = await get(`/delete/${other.uuid}`, { method: 'POST' });
      expect(await deleted.json()).to.deep.include({ status: 'File deleted and removed from DB' });
      expect((await get(`/download/${other.uuid}`)).status).to.equal(404);
    });
  });

  describe('apps', () => {
    it('GET /apps lists caesar', async () => {
      expect(await (await get('/apps')).json()).to.deep.equal({ apps: ['caesar'] });
    });

    it('describes every option, under the name caesar and the alias sfinder', async () => {
      for (const name of ['caesar', 'sfinder']) {
        const described = (await (await get(`/app/${name}/describe`)).json()) as Record<string, Json>;
        expect(Object.keys(described)).to.have.length(156);
        expect(described.seedthr).to.include({ type: 'float', min: 0, max: 10000, mandatory: false });
        expect(described.bkgestimator).to.include({ type: 'str', enum: true });
        expect(described['save-fits']).to.include({ type: 'none' });
        expect(String(described.seedthr!.description)).to.have.length.above(10);
      }
    });

    it('answers 400 "Unknown app" for anything else', async () => {
      const res = await get('/app/nope/describe');
      expect(res.status).to.equal(400);
      expect(await res.json()).to.deep.include({ status: 'Unknown app nope!' });
    });
  });

  describe('jobs', () => {
    it('refuses malformed JSON, a missing app or job_inputs, and the wrong content type — never 500', async () => {
      const malformed = await fetch(gw.url('/job'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"app": ' });
      expect(malformed.status).to.equal(400);
      const noApp = await postJson(gw, '/job', { job_inputs: {} });
      expect(noApp.status).to.equal(400);
      expect(((await noApp.json()) as Json).status).to.contain("'app' is required");
      const noInputs = await postJson(gw, '/job', { app: 'caesar' });
      expect(((await noInputs.json()) as Json).status).to.contain("'job_inputs' is required");
      const text = await fetch(gw.url('/job'), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
      expect(text.status).to.equal(415);
      const array = await postJson(gw, '/job', [1, 2]);
      expect(array.status).to.equal(400);
    });

    const invalid: Array<[string, Json, string, RegExp]> = [
      ['an unknown option', { seedthresh: 5 }, 'seedthresh', /did you mean 'seedthr'/],
      ['a wrong type', { npixmin: 'many' }, 'npixmin', /npixmin/],
      ['a value out of range', { seedthr: 20000 }, 'seedthr', /between 0 and 10000/],
      ['a value not in the enum', { bkgestimator: 'Mode' }, 'bkgestimator', /Mean, Median/],
      ['a flag that is not a boolean', { 'save-fits': 'yes' }, 'save-fits', /true or false/],
      ['an envfile the cluster does not allow', { envfile: '/etc/profile' }, 'envfile', /allows no envfiles/],
      ['a partition the cluster does not have', { queue: 'gpu' }, 'queue', /not available/],
    ];
    for (const [what, inputs, option, message] of invalid) {
      it(`answers 400 naming the option for ${what}`, async () => {
        const res = await postJson(gw, '/job', { app: 'caesar', data_inputs: file.uuid, job_inputs: inputs });
        expect(res.status).to.equal(400);
        const body = (await res.json()) as { status: string; error: { details: Array<{ option: string }> } };
        expect(body.status).to.match(message);
        expect(body.error.details.map((d) => d.option)).to.include(option);
      });
    }

    it('names every offending option at once, and refuses an input that is not the caller\'s upload', async () => {
      const res = await postJson(gw, '/job', { app: 'sfinder', job_inputs: { inputfile: '/etc/passwd', seedthr: -1, 'save-fits': 1 } });
      const body = (await res.json()) as { error: { details: Array<{ option: string }> } };
      expect(body.error.details.map((d) => d.option)).to.have.members(['inputfile', 'seedthr', 'save-fits']);
    });

    it('POST /job answers 202 with the caesar-rest fields', async () => {
      const res = await postJson(gw, '/job', { app: 'caesar', cluster: 'offline', data_inputs: file.uuid, job_inputs: { seedthr: 6 }, tag: 't' });
      expect(res.status).to.equal(202);
      const body = (await res.json()) as Json;
      expect(body).to.include({ app: 'caesar', data_inputs: file.uuid, tag: 't', state: 'PENDING', status: 'Job submitted with success' });
      expect(body.job_inputs).to.deep.equal({ seedthr: 6 });
      expect(body.job_id).to.match(/^[0-9a-f-]{36}$/);
    });

    it('GET /job/<id>/status has both generations\' fields plus the Slurm truth', async () => {
      const status = (await (await get(`/job/${finishedJob}/status`)).json()) as Json & { slurm: Json };
      expect(status).to.include({ job_id: finishedJob, state: 'SUCCESS', exit_status: 0, exit_code: 0, tag: 'batch-1' });
      expect(status.elapsed_time).to.be.a('number');
      expect(status.pid).to.match(/^\d+$/);
      expect(status.slurm).to.include({ job_id: status.pid, state: 'COMPLETED', exit_code: '0:0', partition: 'debug' });
      expect(Object.keys(status.slurm)).to.include.members(['reason', 'node_list', 'submit', 'start', 'end']);
    });

    it('keeps a job for an unreachable cluster PENDING and says it waits for the cluster', async () => {
      const status = (await (await get(`/job/${waitingJob}/status`)).json()) as Json;
      expect(status.state).to.equal('PENDING');
      expect(status.status).to.match(/waiting for the cluster/);
    });

    it('GET /jobs lists the caller\'s jobs with filters and keyset paging, without server paths', async () => {
      const all = (await (await get('/jobs')).json()) as Json[];
      expect(all.map((j) => j.job_id)).to.include.members([finishedJob, waitingJob]);
      const byTag = (await (await get('/jobs?tag=batch-1')).json()) as Json[];
      expect(byTag.map((j) => j.job_id)).to.deep.equal([finishedJob]);
      const byState = (await (await get('/jobs?state=SUCCESS&app=caesar')).json()) as Json[];
      expect(byState.every((j) => j.state === 'SUCCESS')).to.equal(true);
      const page1 = await get('/jobs?limit=1');
      const cursor = page1.headers.get('x-next-cursor');
      expect(cursor).to.be.a('string');
      const page2 = (await (await get(`/jobs?limit=1&after=${cursor}`)).json()) as Json[];
      expect(page2[0]!.job_id).to.not.equal(((await page1.json()) as Json[])[0]!.job_id);
      expect(JSON.stringify(all)).to.not.contain(dataDir);
      expect((await get('/jobs?state=DONE')).status).to.equal(400);
    });

    it('answers 404 for unknown jobs on status, output, cancel and results', async () => {
      const unknown = '00000000-0000-4000-8000-000000000000';
      for (const p of ['status', 'output', 'cancel', 'sources', 'preview']) {
        expect((await get(`/job/${unknown}/${p}`)).status, p).to.equal(404);
      }
    });

    it('cancel is idempotent: a finished job answers 200 and says so', async () => {
      const res = await get(`/job/${finishedJob}/cancel`);
      expect(res.status).to.equal(200);
      expect(((await res.json()) as Json).status).to.contain('already finished (SUCCESS)');
    });
  });

  describe('results', () => {
    it('serves the catalogues and the plot of a finished job', async () => {
      const sources = (await (await get(`/job/${finishedJob}/sources`)).json()) as { sources: Array<{ x: number; y: number }> };
      expect(sources.sources).to.have.length(1);
      expect(sources.sources[0]!.x).to.be.closeTo(60, 1);
      const dat = await get(`/job/${finishedJob}/output-sources`);
      expect(dat.headers.get('content-disposition')).to.contain('catalog-my_field.dat');
      expect(await dat.text()).to.match(/^S1 /m);
      const plot = await get(`/job/${finishedJob}/output-plot`);
      expect(plot.headers.get('content-type')).to.equal('image/png');
      const png = Buffer.from(await plot.arrayBuffer());
      expect(png.subarray(1, 4).toString()).to.equal('PNG');
      const preview = (await (await get(`/job/${finishedJob}/preview`)).json()) as { image: string };
      expect(Buffer.from(preview.image, 'base64').equals(png)).to.equal(true);
    });

    it('answers 404 for a file the run did not produce and 202 while the job is unfinished', async () => {
      const components = await get(`/job/${finishedJob}/source-components`);
      expect(components.status).to.equal(404);
      expect(((await components.json()) as Json).status).to.match(/no source-components output/);
      for (const p of ['sources', 'source-components', 'output-sources', 'output-components', 'preview', 'output-plot', 'output']) {
        expect((await get(`/job/${waitingJob}/${p}`)).status, p).to.equal(202);
      }
    });
  });

  describe('accounting', () => {
    it('/accounting gives the caller\'s usage and /appstats the service-wide figures', async () => {
      const usage = (await (await get('/accounting')).json()) as Json & { jobs_by_state: Record<string, number> };
      expect(usage.jobs_by_state.SUCCESS).to.be.at.least(1);
      expect(usage.jobs_by_state.PENDING).to.be.at.least(1);
      expect(usage.bytes_stored).to.be.above(image.bytes.length);
      expect(usage.runtime_seconds).to.be.a('number');
      const stats = (await (await get('/appstats')).json()) as { apps: Record<string, { jobs: number }> };
      expect(stats.apps.caesar!.jobs).to.be.at.least(2);
    });
  });
});
