// Per-user limits, so one campaign cannot starve everyone else: active jobs and submissions per
// minute (429 with Retry-After) and bytes stored (413). Counted in the database, per request.
import type { Database } from '../db/database.ts';

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
    const activeRow = await this.db('jobs').where({ owner: user }).whereIn('state', UNFINISHED).count({ n: '*' }).first<{ n: number | string }>();
    const active = Number(activeRow.n);
    if (active >= limits.maxActiveJobs) {
      throw new LimitExceededError(429, `You have ${active} unfinished jobs, the most allowed at once (${limits.maxActiveJobs}); submit more when some finish`, 30);
    }
    const windowStart = new Date(Date.now() - 60_000).toISOString();
    const recent = await this.db('jobs').where({ owner: user }).where('created_at', '>', windowStart)
      .select(this.db.raw('count(*) as n'), this.db.raw('min(created_at) as oldest')).first<{ n: number | string; oldest: string | null }>();
    if (Number(recent.n) >= limits.submissionsPerMinute) {
      const retryAfter = recent.oldest ? Math.max(1, Math.ceil((Date.parse(recent.oldest) + 60_000 - Date.now()) / 1000)) : 60;
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
