// Read-only queries behind /jobs, /accounting and /appstats: computed in the database, one or two
// statements each, so they stay cheap however many jobs there are.
import type { Database } from '../db/database.ts';
import type { JobRow } from '../db/rows.ts';

export interface JobListFilter {
  state?: string;
  tag?: string;
  app?: string;
  limit: number;
  /** Keyset cursor: the (created_at, id) of the last job on the previous page. */
  after?: { createdAt: string; id: string };
}

export function encodeCursor(job: Pick<JobRow, 'created_at' | 'id'>): string {
  return Buffer.from(`${job.created_at}|${job.id}`).toString('base64url');
}

export function decodeCursor(cursor: string): { createdAt: string; id: string } | undefined {
  const [createdAt, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  return createdAt && id && !Number.isNaN(Date.parse(createdAt)) ? { createdAt, id } : undefined;
}

export class JobQueries {
  constructor(private readonly db: Database) {}

  /** Newest first. Keyset paging (not OFFSET) so page 1,000 costs what page 1 costs. */
  /** `owner` null: every user's jobs (an admin's view). */
  async list(owner: string | null, filter: JobListFilter): Promise<JobRow[]> {
    const query = this.db<JobRow>('jobs').where(owner === null ? {} : { owner });
    if (filter.state) query.andWhere('state', filter.state);
    if (filter.tag) query.andWhere('tag', filter.tag);
    if (filter.app) query.andWhere('app', filter.app);
    if (filter.after) {
      const { createdAt, id } = filter.after;
      // A row-value comparison (SQLite ≥ 3.15, PostgreSQL) that the (…, created_at, id) indexes serve.
      query.andWhereRaw('(created_at, id) < (?, ?)', [createdAt, id]);
    }
    return query.orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(filter.limit);
  }

  async accounting(owner: string) {
    const byState = await this.db('jobs').where({ owner }).groupBy('state')
      .select('state').count<{ state: string; n: number }[]>({ n: '*' });
    const runtime = await this.db('jobs').where({ owner })
      .sum<{ total: number | null }[]>({ total: 'elapsed_seconds' }).first();
    const completed = await this.db('jobs').where({ owner, state: 'SUCCESS' })
      .sum<{ total: number | null }[]>({ total: 'elapsed_seconds' }).first();
    const files = await this.db('files').where({ owner })
      .select(this.db.raw('count(*) as n'), this.db.raw('sum(size_bytes) as total')).first<{ total: number | null; n: number } | undefined>();
    const outputs = await this.db('jobs').where({ owner })
      .sum<{ total: number | null }[]>({ total: 'output_bytes' }).first();
    const jobsByState = Object.fromEntries(byState.map((r) => [r.state, Number(r.n)]));
    return {
      user: owner,
      jobs: Object.values(jobsByState).reduce((a, b) => a + b, 0),
      jobs_by_state: jobsByState,
      runtime_seconds: Number(runtime?.total ?? 0),
      completed_runtime_seconds: Number(completed?.total ?? 0),
      files: Number(files?.n ?? 0),
      bytes_uploaded: Number(files?.total ?? 0),
      bytes_outputs: Number(outputs?.total ?? 0),
      bytes_stored: Number(files?.total ?? 0) + Number(outputs?.total ?? 0),
    };
  }

  async appStats() {
    const rows: Array<{ app: string; state: string; n: number; runtime: number | null }> = await this.db('jobs')
      .groupBy('app', 'state')
      .select('app', 'state', this.db.raw('count(*) as n'), this.db.raw('sum(elapsed_seconds) as runtime'));
    const apps: Record<string, { jobs: number; jobs_by_state: Record<string, number>; runtime_seconds: number }> = {};
    for (const row of rows) {
      const entry = (apps[row.app] ??= { jobs: 0, jobs_by_state: {}, runtime_seconds: 0 });
      entry.jobs += Number(row.n);
      entry.jobs_by_state[row.state] = Number(row.n);
      entry.runtime_seconds += Number(row.runtime ?? 0);
    }
    const users = await this.db('jobs').countDistinct<{ n: number }[]>({ n: 'owner' }).first();
    return { apps, users: Number(users?.n ?? 0) };
  }
}
