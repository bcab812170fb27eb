// GET /jobs must stay fast with 100,000 jobs: checked on a real SQLite file holding that many
// rows, by what SQLite says it will do (an index range scan, no sort, no full scan) and by the
// number of rows each page visits — not by timing.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { openDatabase, type Database } from '../../../src/db/database.ts';
import { JobQueries, encodeCursor } from '../../../src/jobs/jobQueries.ts';

const JOBS = 100_000;

describe('db: listing 100,000 jobs', function () {
  this.timeout(120_000);
  let dir: string;
  let db: Database;
  let queries: JobQueries;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'caesar-listing-'));
    db = await openDatabase(path.join(dir, 'gateway.sqlite3'));
    queries = new JobQueries(db);
    const states = ['SUCCESS', 'FAILURE', 'PENDING', 'RUNNING'];
    const rows = Array.from({ length: JOBS }, (_, i) => ({
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      owner: i % 10 === 0 ? 'other' : 'alice', app: 'caesar', cluster: 'local', file_id: 'f'.repeat(32), job_inputs: '{}',
      tag: `t${i % 50}`, state: states[i % 4], status: 's', submit_phase: 'submitted', script: '', app_config: '',
      resources: '{}', input_name: 'x.fits', created_at: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
      updated_at: '2026-01-01T00:00:00.000Z',
    }));
    for (let i = 0; i < rows.length; i += 2000) {
      await db.transaction(async (trx) => {
        for (let j = i; j < i + 2000; j += 50) await trx('jobs').insert(rows.slice(j, j + 50));
      });
    }
  });
  after(async () => {
    await db?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  async function plan(filter: Parameters<JobQueries['list']>[1]): Promise<string> {
    // Build the same SQL the endpoint runs and ask SQLite how it will execute it.
    const captured: string[] = [];
    const listener = (q: { sql: string; bindings: unknown[] }) => { captured.push(db.raw(q.sql, q.bindings as never).toQuery()); };
    db.on('query', listener);
    await queries.list('alice', filter);
    db.off('query', listener);
    const rows: Array<{ detail: string }> = await db.raw(`EXPLAIN QUERY PLAN ${captured[0]!}`);
    return rows.map((r) => r.detail).join(' | ');
  }

  const filters: Array<[string, Parameters<JobQueries['list']>[1]]> = [
    ['no filter', { limit: 100 }],
    ['by state', { limit: 100, state: 'RUNNING' }],
    ['by tag', { limit: 100, tag: 't7' }],
    ['by app', { limit: 100, app: 'caesar' }],
    ['deep page by state', { limit: 100, state: 'SUCCESS', after: { createdAt: '2026-01-01T20:00:00.000Z', id: 'z' } }],
  ];
  for (const [what, filter] of filters) {
    it(`pages ${what} with an index and without sorting`, async () => {
      const detail = await plan(filter);
      expect(detail).to.match(/USING (COVERING )?INDEX jobs_owner_/);
      expect(detail).to.not.match(/TEMP B-TREE/);
      expect(detail).to.not.match(/^SCAN jobs$/);
    });
  }

  it('walks every page exactly once, newest first', async () => {
    const seen = new Set<string>();
    let after: { createdAt: string; id: string } | undefined;
    let previous = '9999';
    for (;;) {
      const page = await queries.list('alice', { limit: 1000, state: 'FAILURE', after });
      for (const job of page) {
        expect(job.created_at < previous).to.equal(true);
        previous = job.created_at;
        expect(seen.has(job.id)).to.equal(false);
        seen.add(job.id);
      }
      if (page.length < 1000) break;
      const last = page.at(-1)!;
      after = { createdAt: last.created_at, id: last.id };
      expect(encodeCursor(last)).to.be.a('string');
    }
    // alice owns 9 of every 10 jobs; a quarter of all jobs failed; 'other' owns i % 10 == 0.
    const expected = Array.from({ length: JOBS }, (_, i) => i).filter((i) => i % 10 !== 0 && i % 4 === 1).length;
    expect(seen.size).to.equal(expected);
  });
});
