// What the cluster lease and the submit claim must guarantee, on any database the gateway runs
// on: run against a real SQLite file (unit tests) and a real PostgreSQL server (integration).
// Each "instance" below has a connection pool of its own, as separate gateway processes do.
import { expect } from 'chai';
import pino from 'pino';
import { ClusterLease } from '../../src/background/clusterLease.ts';
import type { Database } from '../../src/db/database.ts';
import type { JobRow } from '../../src/db/rows.ts';
import { JobRepository } from '../../src/jobs/jobRepository.ts';

export interface LeaseTestDatabase {
  /** A new connection pool on the one database under test. */
  open(): Promise<Database>;
  cleanup(): Promise<void>;
}

const silent = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function jobRow(id: string): JobRow {
  const at = new Date().toISOString();
  return {
    id, owner: 'alice', app: 'caesar', cluster: 'local', file_id: 'f'.repeat(32), job_inputs: '{}', tag: null,
    state: 'PENDING', status: 'Job submitted with success', submit_phase: 'queued', submit_attempts: 0, last_error: null,
    next_attempt_at: null, script: '', app_config: '', resources: '{}', input_name: 'x.fits', slurm_job_id: null,
    slurm_state: null, slurm_reason: null, slurm_exit_code: null, exit_code: null, elapsed_seconds: null, node_list: null,
    partition: null, slurm_submit_at: null, slurm_start_at: null, slurm_end_at: null, cancel_requested: false,
    missing_since: null, final_seen_at: null, output_phase: 'none', output_attempts: 0, output_bytes: null,
    output_path: null, created_at: at, updated_at: at, finished_at: null,
  };
}

export function leaseContract(kind: string, make: () => Promise<LeaseTestDatabase>): void {
  describe(`cluster lease and submit claim on ${kind}`, function () {
    this.timeout(60_000);
    let database: LeaseTestDatabase;
    const pools: Database[] = [];
    const leases: ClusterLease[] = [];

    // One at a time: the pools open (and migrate) the database as gateways starting one by one.
    const pool = async () => {
      const db = await database.open();
      pools.push(db);
      return db;
    };
    const instance = async (holder: string, ttlSeconds = 2) => {
      const lease = new ClusterLease({ db: await pool(), ttlSeconds, logger: silent, holder });
      leases.push(lease);
      return lease;
    };

    beforeEach(async () => {
      database = await make();
    });
    afterEach(async () => {
      for (const lease of leases.splice(0)) await lease.release().catch(() => undefined);
      for (const db of pools.splice(0)) await db.destroy();
      await database.cleanup();
    });

    it('has one holder at a time: the holder renews, the others are refused while it lives', async () => {
      const a = await instance('gateway-a');
      const b = await instance('gateway-b');
      expect(await a.tryAcquire('local')).to.equal(true);
      expect(await b.tryAcquire('local')).to.equal(false);
      expect(await a.tryAcquire('local')).to.equal(true);
      expect(await b.tryAcquire('other')).to.equal(true, 'each cluster has a lease of its own');
      expect([a.holds('local'), b.holds('local'), b.holds('other'), a.holds('other')]).to.deep.equal([true, false, true, false]);
      const holders = await a.holders();
      expect(holders.get('local')?.holder).to.equal('gateway-a');
      expect(holders.get('other')?.holder).to.equal('gateway-b');
    });

    it("keeps a live holder's lease past the TTL (renewed in the background), and lets a dead holder's lapse", async () => {
      const a = await instance('gateway-a', 1);
      const b = await instance('gateway-b', 1);
      expect(await a.tryAcquire('local')).to.equal(true);
      await sleep(1_600);
      expect(await b.tryAcquire('local')).to.equal(false, 'the holder renews on its own between cycles');
      expect(a.holds('local')).to.equal(true);

      // "Kill" a: its connections go, so it can no longer renew.
      await pools[0]!.destroy();
      pools.shift();
      const died = Date.now();
      expect(await b.tryAcquire('local')).to.equal(false, 'not before the TTL has run out');
      while (!(await b.tryAcquire('local'))) {
        expect(Date.now() - died).to.be.below(3_000, 'b never took over the lapsed lease');
        await sleep(100);
      }
      expect(Date.now() - died).to.be.at.least(500, 'the lease lasted its TTL after the last renewal');
      expect(a.holds('local')).to.equal(false, 'a stops believing in its lease before b can take it');
      expect((await b.holders()).get('local')?.holder).to.equal('gateway-b');
    });

    it('gives exactly one winner when instances race for an expired lease', async () => {
      const contenders: ClusterLease[] = [];
      for (let i = 0; i < 6; i += 1) contenders.push(await instance(`gateway-${i}`, 30));
      const admin = await pool();
      for (let round = 0; round < 5; round += 1) {
        await admin('cluster_leases').update({ expires_at: 0 });
        const won = await Promise.all(contenders.map((c) => c.tryAcquire('local')));
        expect(won.filter(Boolean)).to.have.length(1, `round ${round}: ${JSON.stringify(won)}`);
        expect(contenders.filter((c) => c.holds('local'))).to.have.length(1);
        // The others must drop any belief they had from an earlier round.
        for (const [i, c] of contenders.entries()) if (!won[i]) expect(c.holds('local')).to.equal(false);
      }
    });

    it('hands the lease over at once when its holder releases it (graceful stop)', async () => {
      const a = await instance('gateway-a', 30);
      const b = await instance('gateway-b', 30);
      expect(await a.tryAcquire('local')).to.equal(true);
      expect(await b.tryAcquire('local')).to.equal(false);
      await a.release();
      expect(a.holds('local')).to.equal(false);
      expect(await a.tryAcquire('local')).to.equal(false, 'a released gateway takes nothing back');
      expect(await b.tryAcquire('local')).to.equal(true);
    });

    it('lets exactly one of several instances claim a queued job for submission', async () => {
      const repositories: JobRepository[] = [];
      for (let i = 0; i < 6; i += 1) repositories.push(new JobRepository(await pool()));
      for (let round = 0; round < 5; round += 1) {
        const id = `00000000-0000-4000-8000-00000000000${round}`;
        await repositories[0]!.insert(jobRow(id), 'test');
        const claimed = await Promise.all(repositories.map((r, i) => r.claimPhase(id, 'queued', 'submitting', { last_error: `claimed by ${i}` })));
        expect(claimed.filter(Boolean)).to.have.length(1, `round ${round}: ${JSON.stringify(claimed)}`);
        const row = (await repositories[0]!.find(id))!;
        expect(row.submit_phase).to.equal('submitting');
        expect(row.last_error).to.equal(`claimed by ${claimed.indexOf(true)}`);
      }
    });
  });
}
