// A short-lived, bounded memory of what GET /job/<id>/status last read from the database (the
// job's row and its history). Campaign clients poll status far more often than a job changes,
// and two queries per read cap the endpoint at about a thousand reads/s on SQLite.
//
// Coherence: JobRepository forgets a job here whenever this process writes it, so a single
// gateway (the SQLite deployment) never serves a stale status. Another instance sharing a
// PostgreSQL database writes without telling us: `maxAgeMs` bounds how late its changes show.
import type { JobEventRow, JobRow } from '../db/rows.ts';

/** What a status shows of a history event: not its database ids, so a snapshot can be built for
 *  a job just inserted (see JobService.submit) and render exactly as the one read back. */
export type StatusEvent = Pick<JobEventRow, 'at' | 'from_state' | 'to_state' | 'reason'>;

export interface JobStatusSnapshot {
  job: JobRow;
  events: StatusEvent[];
}

interface Entry {
  snapshot: JobStatusSnapshot;
  expiresAt: number;
}

export interface JobStatusCacheOptions {
  /** How long an entry may be served; 0 turns the cache off. */
  maxAgeMs: number;
  /** Entries kept at most; the oldest go first. */
  maxEntries?: number;
  now?: () => number;
}

export class JobStatusCache {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly now: () => number;
  /**
   * Bumped by every forget(). A read that started before a write may finish after it with the
   * old row: it is stored only if no write happened while it was in flight.
   */
  private writes = 0;

  constructor(private readonly options: JobStatusCacheOptions) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.options.maxAgeMs > 0;
  }

  /** The cached snapshot, or the one `load` reads (remembered unless a write raced it). */
  async read(id: string, load: () => Promise<JobStatusSnapshot | undefined>): Promise<JobStatusSnapshot | undefined> {
    if (!this.enabled) return load();
    const hit = this.entries.get(id);
    if (hit && hit.expiresAt > this.now()) return hit.snapshot;
    const writesBefore = this.writes;
    const snapshot = await load();
    if (snapshot && this.writes === writesBefore) this.remember(id, snapshot);
    return snapshot;
  }

  forget(id: string): void {
    this.writes += 1;
    this.entries.delete(id);
  }

  /** Taken before a write whose outcome is known in full when it commits (see afterWrite). */
  beforeWrite(): number {
    return this.writes;
  }

  /**
   * After such a write commits: keep what it wrote instead of reading it back — `snapshot`, or,
   * given only the new row (a write that added no history), the cached history with that row.
   * Only if no other write was told here since `token`: that one may have committed after ours,
   * and then the entry is just forgotten, as after any write.
   */
  afterWrite(id: string, token: number, written: { snapshot: JobStatusSnapshot } | { job: JobRow }): void {
    const raced = this.writes !== token;
    const cached = this.entries.get(id)?.snapshot;
    this.forget(id);
    if (raced || !this.enabled) return;
    if ('snapshot' in written) this.remember(id, written.snapshot);
    else if (cached) this.remember(id, { job: written.job, events: cached.events });
  }

  get size(): number {
    return this.entries.size;
  }

  private remember(id: string, snapshot: JobStatusSnapshot): void {
    this.entries.delete(id); // re-inserted last: Map order is the eviction order
    this.entries.set(id, { snapshot, expiresAt: this.now() + this.options.maxAgeMs });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}
