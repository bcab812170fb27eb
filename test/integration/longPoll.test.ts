// Waiting for a job's status to change (GET /job/<id>/status?wait=<s>) and the status's ETag, on
// real gateways: one whose background cycle never runs (its jobs keep the status they were accepted
// with, so "nothing changed" is certain), with bearer tokens for two users; and one on the local
// cluster, where the change waited for is the real Slurm submission.
import { expect } from 'chai';
import { UserRepository } from '../../src/users/userRepository.ts';
import { syntheticImage } from '../support/syntheticFits.ts';
import { postJson, startTestGateway, uploadBytes, type TestGateway } from '../support/testGateway.ts';

type Json = Record<string, unknown>;
const image = syntheticImage({ width: 64, height: 64, sources: [{ x: 30, y: 30, peak: 0.05, sigma: 2 }] });
// node-cron: once a year, at New Year's midnight. The gateway never takes the cluster's lease, so
// it never submits: accepted jobs stay queued with the status they were accepted with.
const NEVER = '0 0 0 1 1 *';

const until = async (what: () => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!what()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('status ETags and waiting for a status to change', function () {
  this.timeout(180_000);
  let quiet: TestGateway;
  let stopped = false;
  const tokens: Record<string, string> = {};

  const as = (user: string, pathname: string, init: RequestInit = {}) =>
    fetch(quiet.url(pathname), { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${tokens[user]}` } });
  const status = (user: string, jobId: string, query = '', headers: Record<string, string> = {}, signal?: AbortSignal) =>
    as(user, `/job/${jobId}/status${query}`, { headers, signal });
  /** A job of alice's, accepted and never submitted: its status does not change by itself. */
  async function queuedJob(): Promise<{ id: string; etag: string }> {
    const form = new FormData();
    form.append('file', new Blob([image.bytes]), 'field.fits');
    const file = (await (await as('alice', '/upload', { method: 'POST', body: form })).json()) as Json;
    const res = await as('alice', '/job', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ app: 'caesar', data_inputs: file.uuid, job_inputs: { 'no-mpi': true } }),
    });
    expect(res.status).to.equal(202);
    return { id: String(((await res.json()) as Json).job_id), etag: res.headers.get('etag')! };
  }
  const timed = async <T>(work: Promise<T>) => {
    const started = Date.now();
    const result = await work;
    return { result, ms: Date.now() - started };
  };

  before(async () => {
    // A 15 s status cache makes waiters look again on their own only every 15 s: an answer well
    // within that came from this process's notification.
    quiet = await startTestGateway({ CAESAR_GATEWAY_POLL_SCHEDULE: NEVER, CAESAR_GATEWAY_AUTH: 'tokens', CAESAR_GATEWAY_STATUS_CACHE_MS: '15000' });
    const users = new UserRepository(quiet.gateway.db);
    for (const name of ['alice', 'bob']) {
      await users.addUser(name, false);
      tokens[name] = (await users.createToken(name, 'long-poll test')).token;
    }
  });
  after(async () => {
    if (!stopped) await quiet?.stop();
  });

  describe('ETag and conditional GET', () => {
    it('POST /job answers with the ETag that a GET right after sees; two GETs see the same tag and body', async () => {
      const job = await queuedJob();
      expect(job.etag).to.match(/^"[A-Za-z0-9_-]{22}"$/);
      const first = await status('alice', job.id);
      const second = await status('alice', job.id);
      expect(first.status).to.equal(200);
      expect(first.headers.get('etag')).to.equal(job.etag);
      expect(second.headers.get('etag')).to.equal(job.etag);
      expect(await second.text()).to.equal(await first.text());
    });

    it('answers 304 without a body to If-None-Match naming the current tag (alone, weak, or in a list), 200 otherwise', async () => {
      const job = await queuedJob();
      for (const header of [job.etag, `W/${job.etag}`, `"somethingelse", ${job.etag}`]) {
        const res = await status('alice', job.id, '', { 'if-none-match': header });
        expect(res.status, header).to.equal(304);
        expect(res.headers.get('etag')).to.equal(job.etag);
        expect(await res.text()).to.equal('');
      }
      const stale = await status('alice', job.id, '', { 'if-none-match': '"not-the-current-tag"' });
      expect(stale.status).to.equal(200);
      expect(((await stale.json()) as Json).job_id).to.equal(job.id);
    });
  });

  describe('long-poll', () => {
    it('refuses a bad wait with 400 and says what is allowed', async () => {
      const job = await queuedJob();
      for (const query of ['?wait=0', '?wait=61', '?wait=-1', '?wait=abc', '?wait=', '?wait=1e1', '?wait=5&wait=6']) {
        const res = await status('alice', job.id, query);
        expect(res.status, query).to.equal(400);
        expect(((await res.json()) as Json).status, query).to.match(/'wait' must be .* greater than 0 and at most 60/);
      }
      expect((await status('alice', job.id, '?other=1')).status).to.equal(200);
    });

    it('answers at once when If-None-Match already differs from the current tag', async () => {
      const job = await queuedJob();
      const { result, ms } = await timed(status('alice', job.id, '?wait=20', { 'if-none-match': '"an-older-tag"' }));
      expect(result.status).to.equal(200);
      expect(result.headers.get('etag')).to.equal(job.etag);
      expect(ms).to.be.below(15_000);
    });

    it('answers 304 when nothing changed by the end of the wait (with If-None-Match)', async () => {
      const job = await queuedJob();
      const { result, ms } = await timed(status('alice', job.id, '?wait=1.5', { 'if-none-match': job.etag }));
      expect(result.status).to.equal(304);
      expect(result.headers.get('etag')).to.equal(job.etag);
      expect(ms).to.be.at.least(1_000);
    });

    it('answers 200 with the unchanged status at the end of the wait (without If-None-Match)', async () => {
      const job = await queuedJob();
      const { result, ms } = await timed(status('alice', job.id, '?wait=1.5'));
      expect(result.status).to.equal(200);
      expect(result.headers.get('etag')).to.equal(job.etag);
      expect(((await result.json()) as Json).status).to.equal('Job submitted with success');
      expect(ms).to.be.at.least(1_000);
    });

    it('keeps waiting through a write that leaves the status as it was', async () => {
      const job = await queuedJob();
      const waiting = timed(status('alice', job.id, '?wait=2', { 'if-none-match': job.etag }));
      await until(() => quiet.gateway.jobChanges.size === 1);
      await quiet.gateway.jobs.patch(job.id, { submit_attempts: 3 }); // not part of the status
      const { result, ms } = await waiting;
      expect(result.status).to.equal(304);
      expect(ms).to.be.at.least(1_500);
    });

    it('answers with the new status as soon as the job is cancelled meanwhile', async () => {
      const job = await queuedJob();
      const waiting = timed(status('alice', job.id, '?wait=30', { 'if-none-match': job.etag }));
      await until(() => quiet.gateway.jobChanges.size === 1);
      expect((await as('alice', `/job/${job.id}/cancel`, { method: 'POST' })).status).to.equal(200);
      const { result, ms } = await waiting;
      expect(result.status).to.equal(200);
      expect(((await result.json()) as Json).state).to.equal('CANCELED');
      expect(result.headers.get('etag')).to.not.equal(job.etag);
      expect(ms).to.be.below(10_000); // notified, not found by the recheck 15 s in
    });

    it('sees a change written by another instance (straight to the database, not notified here) at the 15 s recheck', async () => {
      const job = await queuedJob();
      const waiting = timed(status('alice', job.id, '?wait=30', { 'if-none-match': job.etag }));
      await until(() => quiet.gateway.jobChanges.size === 1);
      await quiet.gateway.db('jobs').where({ id: job.id }).update({ status: 'changed by another instance' });
      const { result, ms } = await waiting;
      expect(result.status).to.equal(200);
      expect(((await result.json()) as Json).status).to.equal('changed by another instance');
      expect(ms).to.be.below(25_000); // the recheck, not the last look at the end of the 30 s wait
    });

    it('leaves no listener behind when the client goes away mid-wait', async () => {
      const job = await queuedJob();
      const abort = new AbortController();
      const waiting = status('alice', job.id, '?wait=30', { 'if-none-match': job.etag }, abort.signal).catch((err: unknown) => err);
      await until(() => quiet.gateway.jobChanges.size === 1);
      abort.abort();
      expect(await waiting).to.be.instanceOf(Error);
      await until(() => quiet.gateway.jobChanges.size === 0 && quiet.gateway.jobChanges.jobsWatched === 0);
    });
  });

  describe('POST /job with Prefer: wait', () => {
    const postJob = async (prefer: string) => {
      const form = new FormData();
      form.append('file', new Blob([image.bytes]), 'field.fits');
      const file = (await (await as('alice', '/upload', { method: 'POST', body: form })).json()) as Json;
      return timed(as('alice', '/job', {
        method: 'POST', headers: { 'content-type': 'application/json', prefer },
        body: JSON.stringify({ app: 'caesar', data_inputs: file.uuid, job_inputs: { 'no-mpi': true } }),
      }));
    };

    it('holds the answer for the wait asked when the job gets no Slurm id, and says it did (Preference-Applied)', async () => {
      // This gateway never submits: only the end of the wait can answer. (A wait that watched
      // the request instead of the response would answer at once: a POST's body is read.)
      const { result, ms } = await postJob('wait=1');
      expect(result.status).to.equal(202);
      expect(result.headers.get('preference-applied')).to.equal('wait=1');
      const body = (await result.json()) as Json;
      expect(body).to.include({ state: 'PENDING', status: 'Job submitted with success', pid: null });
      expect(ms).to.be.at.least(950);
      expect((await status('alice', String(body.job_id))).headers.get('etag')).to.equal(result.headers.get('etag'));
      expect(quiet.gateway.jobChanges.size).to.equal(0);
    });

    it('ignores a Prefer it cannot use: answered at once, without Preference-Applied', async () => {
      for (const prefer of ['wait=abc', 'wait=0', 'respond-async']) {
        const { result, ms } = await postJob(prefer);
        expect(result.status, prefer).to.equal(202);
        expect(result.headers.get('preference-applied'), prefer).to.equal(null);
        expect(((await result.json()) as Json).pid, prefer).to.equal(null);
        expect(ms, prefer).to.be.below(15_000);
      }
    });

    it('leaves no listener behind when the client goes away mid-wait', async () => {
      const form = new FormData();
      form.append('file', new Blob([image.bytes]), 'field.fits');
      const file = (await (await as('alice', '/upload', { method: 'POST', body: form })).json()) as Json;
      const abort = new AbortController();
      const waiting = as('alice', '/job', {
        method: 'POST', headers: { 'content-type': 'application/json', prefer: 'wait=30' }, signal: abort.signal,
        body: JSON.stringify({ app: 'caesar', data_inputs: file.uuid, job_inputs: { 'no-mpi': true } }),
      }).catch((err: unknown) => err);
      await until(() => quiet.gateway.jobChanges.size === 1);
      abort.abort();
      expect(await waiting).to.be.instanceOf(Error);
      await until(() => quiet.gateway.jobChanges.size === 0 && quiet.gateway.jobChanges.jobsWatched === 0);
    });
  });

  describe('users', () => {
    it('answers 404 for another user\'s job at once, with or without wait and If-None-Match', async () => {
      const job = await queuedJob();
      for (const [query, headers] of [['', {}], ['', { 'if-none-match': job.etag }], ['?wait=20', {}], ['?wait=20', { 'if-none-match': job.etag }]] as const) {
        const { result, ms } = await timed(status('bob', job.id, query, headers));
        expect(result.status, `${query} ${JSON.stringify(headers)}`).to.equal(404);
        expect(result.headers.get('etag')).to.equal(null);
        expect(ms).to.be.below(15_000);
      }
      expect(quiet.gateway.jobChanges.size).to.equal(0);
    });
  });

  describe('shutdown', () => {
    it('wakes a waiting request, which answers at once with the current status, and stops promptly', async () => {
      const job = await queuedJob();
      const waiting = timed(status('alice', job.id, '?wait=60', { 'if-none-match': job.etag }));
      await until(() => quiet.gateway.jobChanges.size === 1);
      stopped = true;
      // Without the wake-up the drain would wait out its 25 s grace and then cut the request off.
      const stopping = timed(quiet.stop());
      const { result, ms } = await waiting;
      expect(result.status).to.equal(304);
      expect(result.headers.get('etag')).to.equal(job.etag);
      expect(ms).to.be.below(20_000);
      expect((await stopping).ms).to.be.below(20_000);
    });
  });
});

describe('waiting for the Slurm submission on the local cluster', function () {
  this.timeout(180_000);
  let gw: TestGateway;

  before(async () => {
    // No poller and a recheck (every statusCacheMs) after the 45 s bound: only the submitter's
    // own writes, notified, can answer these waits in time. Holding the lease lets this instance
    // submit on acceptance, as its first cycle would.
    gw = await startTestGateway({ CAESAR_GATEWAY_POLL_SCHEDULE: NEVER, CAESAR_GATEWAY_STATUS_CACHE_MS: '60000' });
    expect(await gw.gateway.lease.tryAcquire('local')).to.equal(true);
  });
  after(async () => {
    await gw?.stop();
  });

  it('POST /job with Prefer: wait answers once the job has its Slurm id, with the tag of that status', async () => {
    const file = (await (await uploadBytes(gw, image.bytes, 'field.fits')).json()) as Json;
    const started = Date.now();
    const accepted = await postJson(gw, '/job', { app: 'caesar', data_inputs: file.uuid, job_inputs: { 'no-mpi': true } }, { prefer: 'wait=45' });
    expect(accepted.status).to.equal(202);
    expect(accepted.headers.get('preference-applied')).to.equal('wait=45');
    const body = (await accepted.json()) as Json;
    expect(body.pid).to.be.a('string').and.match(/^\d+$/);
    expect(body.status).to.equal(`Job submitted to Slurm as job ${String(body.pid)}`);
    expect(Date.now() - started).to.be.below(40_000);
    // Nothing polls here: the status stays as answered, and a GET sees the same tag.
    const now = await fetch(gw.url(`/job/${String(body.job_id)}/status`));
    expect(now.headers.get('etag')).to.equal(accepted.headers.get('etag'));
    expect(((await now.json()) as Json).pid).to.equal(body.pid);
  });

  it('a long-poll from POST /job\'s ETag answers when the job gets its Slurm id, well before the wait ends', async () => {
    const file = (await (await uploadBytes(gw, image.bytes, 'field.fits')).json()) as Json;
    const accepted = await postJson(gw, '/job', { app: 'caesar', data_inputs: file.uuid, job_inputs: { 'no-mpi': true } });
    expect(accepted.status).to.equal(202);
    const id = String(((await accepted.json()) as Json).job_id);
    let etag = accepted.headers.get('etag')!;
    const started = Date.now();
    let seen: Json = { pid: null };
    // Each answer must be a change (200 with a new tag), never the end of a 60 s wait.
    for (let answers = 0; seen.pid === null; answers += 1) {
      expect(answers, 'changes seen before the Slurm id appeared').to.be.below(5);
      const res = await fetch(gw.url(`/job/${id}/status?wait=60`), { headers: { 'if-none-match': etag } });
      expect(res.status).to.equal(200);
      expect(res.headers.get('etag')).to.not.equal(etag);
      etag = res.headers.get('etag')!;
      seen = (await res.json()) as Json;
    }
    expect(seen.pid).to.be.a('string');
    expect(Date.now() - started).to.be.below(45_000);
  });
});
