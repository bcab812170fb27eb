// Per-user limits, so one campaign cannot starve everyone else: active jobs and submissions per
// minute (429 with Retry-After) and bytes stored (413). Counted in the database, per request.
import type { Database } from '../db/database.ts';
import { readFirst } from '../db/statements.ts';

export interface UserLimits {
  maxActiveJobs: number;
  submissionsPerMinute: number;
  maxStoredBytes: number;
}

export class LimitExceededError extends Error {
  constructor(readonly httpStatus: 413 | 429, message: string, readonly retryAfterSeconds?: number) {
    super(message);
  }
}

const UNFINISHED = ['PENDING', 'RUNNING', 'UNKNOWN'];

export class UserLimiter {
  constructor(private readonly db: Database, private readonly limitsFor: (user: string) => UserLimits) {}

  async checkSubmission(user: string): Promise<void> {
    const limits = this.limitsFor(user);
    const windowStart = new Date(Date.now() - 60_000).toISOString();
    // One statement of three indexed subqueries: this runs before every accepted job.
    const ownJobs = () => this.db('jobs').where({ owner: user });
    const counts = (await readFirst<{ active: number | string; recent: number | string; oldest: string | null }>(this.db, this.db.first(
      ownJobs().whereIn('state', UNFINISHED).count('*').as('active'),
      ownJobs().where('created_at', '>', windowStart).count('*').as('recent'),
      ownJobs().where('created_at', '>', windowStart).min('created_at').as('oldest'),
    )))!;
    const active = Number(counts.active);
    if (active >= limits.maxActiveJobs) {
      throw new LimitExceededError(429, `You have ${active} unfinished jobs, the most allowed at once (${limits.maxActiveJobs}); submit more when some finish`, 30);
    }
    if (Number(counts.recent) >= limits.submissionsPerMinute) {
      const retryAfter = counts.oldest ? Math.max(1, Math.ceil((Date.parse(counts.oldest) + 60_000 - Date.now()) / 1000)) : 60;
      throw new LimitExceededError(429, `Too many submissions: at most ${limits.submissionsPerMinute} per minute; retry in ${retryAfter} s`, retryAfter);
    }
  }

  async checkStorage(user: string, incomingBytes: number): Promise<void> {
    const { maxStoredBytes } = this.limitsFor(user);
    const stored = await this.storedBytes(user);
    if (stored + incomingBytes > maxStoredBytes) {
      throw new LimitExceededError(413, `Storage quota exceeded: you store ${stored} bytes and the quota is ${maxStoredBytes}; delete files (GET /delete/<uuid>) to make room`);
    }
  }

  async storedBytes(user: string): Promise<number> {
    const files = await this.db('files').where({ owner: user }).sum({ n: 'size_bytes' }).first<{ n: number | string | null }>();
    const outputs = await this.db('jobs').where({ owner: user, output_phase: 'done' }).sum({ n: 'output_bytes' }).first<{ n: number | string | null }>();
    return Number(files.n ?? 0) + Number(outputs.n ?? 0);
  }
}
