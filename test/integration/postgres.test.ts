// PostgreSQL: the real server of scripts/postgres.sh, the real local Slurm cluster, real gateway
// processes (src/main.ts, as `npm start` runs it) — no mocks. Two gateways share one database
// and one data directory (as a deployment shares a volume); the lease decides which one works
// the cluster, and killing it (SIGKILL: no clean-up at all) hands the cluster to the other.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { openDatabase, type Database } from '../../src/db/database.ts';
import { isFinal, type JobState } from '../../src/jobs/states.ts';
import { slurmJobsNamed } from '../support/cluster.ts';
import { dropUploadHashContract } from '../support/dropUploadHashContract.ts';
import { startGatewayProcess, type GatewayProcess } from '../support/gatewayProcess.ts';
import { leaseContract } from '../support/leaseContract.ts';
import { statementsContract } from '../support/statementsContract.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { syntheticImage } from '../support/syntheticFits.ts';
import { finishedWithOutput, postJson, uploadBytes, waitForStatus, type StatusBody } from '../support/testGateway.ts';

const LEASE_SECONDS = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

leaseContract('PostgreSQL', async () => {
  const database = await createTestDatabase();
  return { open: () => openDatabase({ client: 'postgres', url: database.url }), cleanup: () => database.drop() };
});

dropUploadHashContract('PostgreSQL', async () => {
  const database = await createTestDatabase();
  return { open: () => openDatabase({ client: 'postgres', url: database.url }), cleanup: () => database.drop() };
});

statementsContract('PostgreSQL', async () => {
  const database = await createTestDatabase();
  return { open: () => openDatabase({ client: 'postgres', url: database.url }), cleanup: () => database.drop() };
});

describe('PostgreSQL: the same gateway code', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await database?.drop();
  });

  it('migrates a fresh database once when several gateways open it at the same moment', async () => {
    const pools = await Promise.all(Array.from({ length: 4 }, () => openDatabase({ client: 'postgres', url: database.url })));
    try {
      const migrations = await pools[0]!('knex_migrations').select('name').orderBy('id');
      expect(migrations.map((m: { name: string }) => m.name)).to.include.members(['001_initial', '004_cluster_leases', '005_unbounded_text_columns']);
      expect(new Set(migrations.map((m: { name: string }) => m.name)).size).to.equal(migrations.length, 'no migration ran twice');
      // bigint columns come back as numbers, as on SQLite.
      await pools[1]!('cluster_leases').insert({ cluster: 'x', holder: 'h', expires_at: 2 ** 40, acquired_at: 1 });
      const row = await pools[2]!('cluster_leases').where({ cluster: 'x' }).first<{ expires_at: unknown }>();
      expect(row?.expires_at).to.equal(2 ** 40);
    } finally {
      for (const db of pools) await db.destroy();
    }
  });
});

/** Sum of a metric's samples whose labels include all of `labels`. */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = new Map([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m): [string, string] => [m[1]!, m[2]!]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(match[3]);
  }
  return sum;
}

interface Work {
  /** Poll cycles that asked Slurm, and the Slurm commands by kind, of one gateway. */
  cycles: number;
  squeue: number;
  sacct: number;
  sbatch: number;
  tar: number;
}

async function work(gw: Instance): Promise<Work> {
  const text = await (await fetch(`${gw.base}/metrics`)).text();
  const kind = (k: string) => metric(text, 'caesar_slurm_commands_total', { cluster: 'local', kind: k });
  return {
    cycles: metric(text, 'caesar_poll_cycle_duration_seconds_count', { cluster: 'local' }),
    squeue: kind('squeue'), sacct: kind('sacct'), sbatch: kind('sbatch'), tar: kind('tar'),
  };
}

/** A gateway process (src/main.ts, as `npm start` runs it). */
type Instance = GatewayProcess & { pid: number };

describe('two gateway instances on one PostgreSQL database', function () {
  this.timeout(240_000);
  let database: TestDatabase;
  let db: Database;
  let dataDir: string;
  const processes: Instance[] = [];
  let holder: Instance;
  let other: Instance;
  const jobIds: string[] = [];
  const image = syntheticImage({ width: 128, height: 128, sources: [{ x: 60, y: 60, peak: 0.05, sigma: 2 }] });

  const start = async () => {
    // Both on one database and one data directory (uploads and outputs), cycles every second.
    const started = await startGatewayProcess({
      CAESAR_GATEWAY_DATABASE_URL: database.url,
      CAESAR_GATEWAY_DATA_DIR: dataDir,
      CAESAR_GATEWAY_LEASE_SECONDS: String(LEASE_SECONDS),
    });
    const gw: Instance = Object.assign(started, { pid: started.child.pid! });
    processes.push(gw);
    return gw;
  };
  const leaseHolder = async () =>
    (await db('cluster_leases').where({ cluster: 'local' }).first<{ holder: string } | undefined>())?.holder;
  const holds = async (gw: Instance) => (await leaseHolder())?.split(':')[1] === String(gw.pid);
  const waitUntilHolds = async (gw: Instance, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await holds(gw))) {
      if (Date.now() > deadline) throw new Error(`pid ${gw.pid} did not take the lease in ${timeoutMs} ms (holder: ${await leaseHolder()})`);
      await sleep(50);
    }
    return Date.now();
  };
  const upload = async (gw: Instance, name = 'field.fits', tag?: string) => {
    const res = await uploadBytes(gw, image.bytes, name, tag);
    expect(res.status).to.equal(200, await res.clone().text());
    return ((await res.json()) as { uuid: string }).uuid;
  };
  const submit = async (gw: Instance, fileId: string) => {
    const res = await postJson(gw, '/job', { app: 'caesar', data_inputs: fileId, job_inputs: { 'no-mpi': true } });
    expect(res.status).to.equal(202);
    const id = ((await res.json()) as { job_id: string }).job_id;
    jobIds.push(id);
    return id;
  };
  const states = async (ids: string[]) =>
    (await db('jobs').whereIn('id', ids).select('state')).map((r: { state: JobState }) => r.state);

  before(async () => {
    database = await createTestDatabase();
    db = await openDatabase({ client: 'postgres', url: database.url });
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'caesar-multi-'));
    // The first instance takes the lease at its first cycle; the second finds it taken.
    const first = await start();
    await waitUntilHolds(first, 15_000);
    const second = await start();
    [holder, other] = [first, second];
  });
  after(async () => {
    for (const gw of processes) await gw.kill('SIGTERM');
    await db?.destroy();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('accepts jobs through either instance; only the lease holder submits and polls them, one squeue and one sacct per cycle', async () => {
    await sleep(2_500); // both instances run a few cycles: the second must stay away from the cluster
    expect(await holds(holder)).to.equal(true);
    const files = [await upload(holder), await upload(other)];
    const ids: string[] = [];
    for (let i = 0; i < 6; i += 1) ids.push(await submit(i % 2 ? other : holder, files[(i >> 1) % 2]!));
    for (const [i, id] of ids.entries()) {
      const final = await waitForStatus(i % 2 ? holder : other, id, finishedWithOutput, 120_000);
      expect(final.state).to.equal('SUCCESS', JSON.stringify(final));
    }
    // A poll that Slurm did not answer (slurmctld or slurmdbd still recovering from an earlier
    // test's restart) has sent its squeue and sacct but is not a cycle: it is logged instead.
    const skippedPolls = () => (holder.log().match(/poll skipped/g) ?? []).length;
    // The holder keeps polling: a scrape in the middle of a cycle counts its squeue before the
    // cycle itself. Such a scrape is taken again (a cycle lasts well under a second); a command
    // that is not part of any poll stays counted, and fails the checks below.
    let byHolder = await work(holder);
    const settled = (w: Work, polls: number) => w.squeue === polls && w.sacct === polls;
    for (let scrape = 1; scrape < 20 && !settled(byHolder, byHolder.cycles + skippedPolls()); scrape += 1) {
      await sleep(150);
      byHolder = await work(holder);
    }
    const skipped = skippedPolls();
    const byOther = await work(other);
    expect(byOther).to.deep.equal({ cycles: 0, squeue: 0, sacct: 0, sbatch: 0, tar: 0 }, 'the instance without the lease touched the cluster');
    expect(byHolder.sbatch).to.equal(6, 'every job, accepted by either instance, submitted once by the holder');
    expect(byHolder.tar).to.equal(6);
    expect(byHolder.cycles).to.be.at.least(2);
    const polls = `${byHolder.cycles} cycles and ${skipped} skipped polls; all counts ${JSON.stringify(byHolder)}; ` +
      `log lines not of a cycle: ${holder.log().split('\n').filter((l) => /"level":(40|50)/.test(l)).slice(0, 5).join(' | ')}`;
    expect(byHolder.squeue).to.equal(byHolder.cycles + skipped, `one squeue per poll for all jobs (${polls})`);
    expect(byHolder.sacct).to.equal(byHolder.cycles + skipped, `one sacct per poll for all jobs (${polls})`);
    expect(await holds(holder)).to.equal(true, 'the lease stayed with its holder all along');

    // The output the holder collected is served by the other instance too (shared data directory).
    const res = await fetch(other.url(`/job/${ids[0]}/output`));
    expect(res.status).to.equal(200);
    expect((await res.arrayBuffer()).byteLength).to.be.above(1000);
  });

  it('takes a file name and a tag of any length, as on SQLite (no varchar limit)', async () => {
    const tag = 't'.repeat(300);
    const id = await upload(other, `${'n'.repeat(300)}.fits`, tag);
    const listed: unknown = await (await fetch(other.url('/fileids'))).json();
    expect(JSON.stringify(listed)).to.contain(id).and.to.contain(tag);
  });

  it('hands the cluster over within the lease TTL when the polling instance is killed, and every job finishes, submitted once', async () => {
    const file = await upload(other);
    const running = [await submit(holder, file), await submit(holder, file), await submit(holder, file)];
    for (const id of running) await waitForStatus(holder, id, (s) => s.pid !== null, 30_000);
    const queued = await submit(other, file); // accepted by the survivor just before the holder dies
    const before = await work(other);

    expect(await holder.kill('SIGKILL')).to.equal('SIGKILL');
    const killedAt = Date.now();
    const atKill = await states(running);
    expect(atKill.some((s) => !isFinal(s)), `jobs still unfinished when the holder died: ${atKill.join(', ')}`).to.equal(true);
    const acceptedMeanwhile = await submit(other, file); // nobody works the cluster now; it must wait

    // Watch the lease row until the survivor has it: the dead holder's expiry (database clock)
    // must have passed when it was taken, and it must be taken within a cycle or so of that.
    let deadExpiresAt: number | undefined;
    let row: { holder: string; expires_at: number; acquired_at: number };
    for (;;) {
      row = (await db('cluster_leases').where({ cluster: 'local' }).first<typeof row | undefined>())!;
      if (row.holder.split(':')[1] === String(other.pid)) break;
      expect(row.holder.split(':')[1]).to.equal(String(holder.pid));
      deadExpiresAt = row.expires_at;
      expect(Date.now() - killedAt).to.be.below((LEASE_SECONDS + 5) * 1000, 'the survivor never took the lease over');
      await sleep(50);
    }
    const handover = Date.now() - killedAt;
    expect(deadExpiresAt, "the dead holder's lease was still there after the kill").to.be.a('number');
    expect(row.acquired_at).to.be.above(deadExpiresAt!, "taken over before the dead holder's lease expired");
    expect(row.acquired_at - deadExpiresAt!).to.be.below(2_500, 'taken over more than a cycle after the lease expired');
    expect(handover).to.be.at.most((LEASE_SECONDS + 2.5) * 1000, `taken over ${handover} ms after the kill`);

    const finals: StatusBody[] = [];
    for (const id of [...running, queued, acceptedMeanwhile]) finals.push(await waitForStatus(other, id, finishedWithOutput, 120_000));
    expect(finals.map((s) => s.state)).to.deep.equal(['SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS'], JSON.stringify(finals));
    const after = await work(other);
    expect(before.cycles).to.equal(0);
    expect(after.cycles).to.be.at.least(1, 'the survivor polls now');
    expect(after.sbatch).to.be.at.least(1, 'the survivor submits now (the job accepted while nobody held the lease)');

    // Exactly one Slurm job per gateway job, whichever instance submitted it (slurmdbd may
    // record a job some seconds after it ended: wait for every row, then count).
    const counts: Record<string, number> = {};
    const deadline = Date.now() + 60_000;
    for (const id of jobIds) {
      while ((counts[id] = (await slurmJobsNamed(`cg-${id}`)).length) === 0 && Date.now() < deadline) await sleep(1_000);
    }
    expect(counts).to.deep.equal(Object.fromEntries(jobIds.map((id) => [id, 1])));
  });

  it('a gracefully stopped holder releases its lease: a waiting instance takes over at its next cycle, not after the TTL', async () => {
    const successor = await start();
    await sleep(1_500);
    expect(await holds(other)).to.equal(true);
    expect(await other.kill('SIGTERM')).to.equal('0');
    const stoppedAt = Date.now();
    const handover = (await waitUntilHolds(successor, 5_000)) - stoppedAt;
    expect(handover).to.be.below(2_500, `released lease taken after ${handover} ms`);
    const id = await submit(successor, await upload(successor));
    expect((await waitForStatus(successor, id, finishedWithOutput, 120_000)).state).to.equal('SUCCESS');
  });
});
