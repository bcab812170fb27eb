// Several users with bearer tokens, two clusters (the local cluster twice, under two names), a
// user with an SSH identity of their own, and per-user limits — through HTTP and the real admin
// command, on the real local cluster.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { localCluster, writeGatewayConfig } from '../support/gatewayConfig.ts';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { asClusterUser, asRoot, waitFor } from '../support/cluster.ts';
import { syntheticImage } from '../support/syntheticFits.ts';
import { startTestGateway, type TestGateway } from '../support/testGateway.ts';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const image = syntheticImage({ width: 64, height: 64, sources: [{ x: 30, y: 30, peak: 0.05, sigma: 2 }] });


describe('users, tokens, clusters and limits', function () {
  this.timeout(240_000);
  let gw: TestGateway;
  let dir: string;
  let env: Record<string, string>;
  const tokens: Record<string, string> = {};
  const tokenIds: Record<string, string> = {};
  const local = localCluster();
  const secondRoot = `${local.remoteRoot}-second-cluster`;

  async function admin(...args: string[]): Promise<string> {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/admin.ts', ...args], { cwd: projectRoot, env: { ...process.env, ...env } });
    return stdout;
  }

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'caesar-users-'));
    await asClusterUser(`mkdir -p ${secondRoot}`);
    const config = {
      clusters: [local, { ...local, name: 'second', remoteRoot: secondRoot }],
      defaultCluster: 'local',
      auth: { mode: 'tokens' },
      users: {
        alice: { clusters: { local: { sshUser: local.secondUser.user, privateKeyPath: local.secondUser.privateKeyPath, remoteRoot: local.secondUser.remoteRoot } } },
        carol: { limits: { submissionsPerMinute: 2, maxStoredBytes: 3 * image.bytes.length } },
      },
    };
    env = { CAESAR_GATEWAY_CONFIG: writeGatewayConfig(dir, config), CAESAR_GATEWAY_DATA_DIR: dir };
    gw = await startTestGateway(env);
    // The admin command must reach the gateway's database (CAESAR_TEST_DATABASE=postgres: not the SQLite file).
    if (gw.config.database.client === 'postgres') env.CAESAR_GATEWAY_DATABASE_URL = gw.config.database.url;
    for (const [name, isAdmin] of [['alice', false], ['bob', false], ['carol', false], ['root', true]] as const) {
      await admin('user', 'add', name, ...(isAdmin ? ['--admin'] : []));
      const out = await admin('token', 'create', name, '--label', 'test');
      tokens[name] = out.trim().split('\n').at(-1)!;
      tokenIds[name] = /^token (\w+)/.exec(out)![1]!;
    }
  });
  after(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const as = (user: string, pathname: string, init: RequestInit = {}) =>
    fetch(gw.url(pathname), { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${tokens[user]}` } });
  const upload = async (user: string, name = 'u.fits') => {
    const form = new FormData();
    form.append('file', new Blob([image.bytes]), name);
    return as(user, '/upload', { method: 'POST', body: form });
  };
  const submit = (user: string, body: object) => as(user, '/job', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const finished = (user: string, jobId: string) => waitFor(`job ${jobId} final`, async () => {
    const s = (await (await as(user, `/job/${jobId}/status`)).json()) as { state: string; output_available: boolean; cluster: string; pid: string };
    return s.output_available ? s : undefined;
  }, 120_000);

  it('refuses requests without a valid token, but keeps health and the API description open', async () => {
    expect((await fetch(gw.url('/fileids'))).status).to.equal(401);
    const bad = await fetch(gw.url('/fileids'), { headers: { authorization: 'Bearer cgw_not-a-token' } });
    expect(bad.status).to.equal(401);
    expect(((await bad.json()) as { status: string }).status).to.contain('unknown or revoked');
    expect((await fetch(`${gw.base}/healthz`)).status).to.equal(200);
    expect((await fetch(gw.url('/openapi.json'))).status).to.equal(200);
    expect((await as('bob', '/fileids')).status).to.equal(200);
  });

  it("keeps users apart: another user's file and job ids answer 404 everywhere; an admin sees all", async () => {
    const file = ((await (await upload('alice', 'alice.fits')).json()) as { uuid: string; path: string });
    const job = ((await (await submit('alice', { app: 'caesar', data_inputs: file.uuid, job_inputs: { 'no-mpi': true } })).json()) as { job_id: string }).job_id;
    await finished('alice', job);

    for (const p of [`/download/${file.uuid}`, `/download-id/${file.uuid}`, `/delete/${file.uuid}`, `/job/${job}/status`, `/job/${job}/output`,
      `/job/${job}/cancel`, `/job/${job}/sources`, `/job/${job}/output-sources`, `/job/${job}/preview`, `/job/${job}/output-plot`]) {
      expect((await as('bob', p)).status, p).to.equal(404);
    }
    expect((await as('bob', `/job/${job}`, { method: 'DELETE' })).status).to.equal(404);
    expect(((await (await as('bob', '/fileids')).json()))).to.deep.equal([]);
    expect(((await (await as('bob', '/jobs')).json()))).to.deep.equal([]);
    // Bob cannot use Alice's file as his input, by uuid or by path.
    for (const ref of [{ data_inputs: file.uuid }, { job_inputs: { inputfile: file.path } }]) {
      const res = await submit('bob', { app: 'caesar', job_inputs: {}, ...ref });
      expect(res.status).to.equal(400);
    }
    expect((await as('alice', `/job/${job}/status`)).status).to.equal(200);
    expect((await as('root', `/job/${job}/status`)).status).to.equal(200);
    expect(((await (await as('root', '/jobs')).json()) as Array<{ job_id: string }>).map((j) => j.job_id)).to.include(job);
  });

  it("runs a user's jobs under their own SSH identity when they have one", async () => {
    const file = ((await (await upload('alice', 'own.fits')).json()) as { uuid: string });
    const job = ((await (await submit('alice', { app: 'caesar', data_inputs: file.uuid, job_inputs: { 'no-mpi': true } })).json()) as { job_id: string }).job_id;
    const status = await finished('alice', job);
    expect(status.cluster).to.equal('local');
    const user = await asRoot('sacct', ['-X', '-n', '-P', '-j', status.pid, '--format=User']);
    expect(user).to.equal(local.secondUser.user);
    const bobFile = ((await (await upload('bob', 'bob.fits')).json()) as { uuid: string });
    const bobJob = ((await (await submit('bob', { app: 'caesar', data_inputs: bobFile.uuid, job_inputs: { 'no-mpi': true } })).json()) as { job_id: string }).job_id;
    const bobStatus = await finished('bob', bobJob);
    expect(await asRoot('sacct', ['-X', '-n', '-P', '-j', bobStatus.pid, '--format=User'])).to.equal(local.user);
  });

  it('sends a job to the cluster it names', async () => {
    const file = ((await (await upload('bob', 'where.fits')).json()) as { uuid: string });
    const before = await gw.gateway.metrics.slurmCommandCount('second');
    const job = ((await (await submit('bob', { app: 'caesar', cluster: 'second', data_inputs: file.uuid, job_inputs: { 'no-mpi': true } })).json()) as { job_id: string }).job_id;
    const status = await finished('bob', job);
    expect(status.cluster).to.equal('second');
    expect(await gw.gateway.metrics.slurmCommandCount('second')).to.be.above(before);
    expect(await asClusterUser(`test -f ${secondRoot}/jobs/${job}/job.sbatch && echo there`)).to.equal('there');
    expect(await asClusterUser(`test -e ${local.remoteRoot}/jobs/${job} && echo there || echo absent`)).to.equal('absent');
    const unknown = await submit('bob', { app: 'caesar', cluster: 'nowhere', data_inputs: file.uuid, job_inputs: {} });
    expect(((await unknown.json()) as { status: string }).status).to.contain("unknown cluster 'nowhere'; use one of local, second");
  });

  it('answers 429 with Retry-After over the submission rate, and 413 over the storage quota', async () => {
    const file = ((await (await upload('carol', 'c1.fits')).json()) as { uuid: string });
    const body = { app: 'caesar', data_inputs: file.uuid, job_inputs: { 'no-mpi': true } };
    expect((await submit('carol', body)).status).to.equal(202);
    expect((await submit('carol', body)).status).to.equal(202);
    const limited = await submit('carol', body);
    expect(limited.status).to.equal(429);
    expect(Number(limited.headers.get('retry-after'))).to.be.within(1, 60);
    expect(((await limited.json()) as { status: string }).status).to.contain('at most 2 per minute');
    expect((await upload('carol', 'c2.fits')).status).to.equal(200);
    const full = await upload('carol', 'c3.fits');
    expect(full.status).to.equal(413);
    expect(((await full.json()) as { status: string }).status).to.contain('quota');
    expect(((await (await as('carol', '/fileids')).json()))).to.have.length(2);
  });

  it('refuses a revoked token at once', async () => {
    expect((await as('bob', '/fileids')).status).to.equal(200);
    expect(await admin('token', 'revoke', tokenIds.bob!)).to.contain('revoked');
    expect((await as('bob', '/fileids')).status).to.equal(401);
    expect(await admin('token', 'list', 'bob')).to.contain('revoked');
  });
});
