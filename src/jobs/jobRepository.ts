// Database access for jobs and their history. State changes go through transition(), which
// refuses to leave a final state and records every change as a job event. Every write to an
// existing job goes through here, after which the job's cached status is forgotten and whoever
// waits for that job's status to change is told to look again.
import type { Database } from '../db/database.ts';
import { runStatements } from '../db/statements.ts';
import type { JobEventRow, JobRow } from '../db/rows.ts';
import { JobChanges } from './jobChanges.ts';
import { JobStatusCache, type JobStatusSnapshot, type StatusEvent } from './jobStatusCache.ts';
import { isFinal, type JobState } from './states.ts';

export type JobPatch = Partial<Omit<JobRow, 'id' | 'owner' | 'created_at'>>;

const now = () => new Date().toISOString();

/** The history event insert() writes with a new job: its status as accepted. */
export function firstEvent(row: Pick<JobRow, 'created_at' | 'state'>, reason: string): StatusEvent {
  return { at: row.created_at, from_state: null, to_state: row.state, reason };
}

export class JobRepository {
  constructor(
    private readonly db: Database,
    private readonly statusCache = new JobStatusCache({ maxAgeMs: 0 }),
    private readonly changes = new JobChanges(),
  ) {}

  /**
   * Persist a new job with its first history event and, for a request that carried an
   * Idempotency-Key, the key — all or nothing. Returns the id of the job that owns the key:
   * this one, or the one a concurrent request with the same key created first. Nobody is told:
   * nothing can be cached for, or waiting on, a job that did not exist.
   */
  async insert(row: JobRow, reason: string, idempotency?: { key: string; requestHash: string }): Promise<string> {
    const token = this.statusCache.beforeWrite();
    try {
      await runStatements(this.db, [
        this.db('jobs').insert(row),
        this.db('job_events').insert({ job_id: row.id, ...firstEvent(row, reason) }),
        ...(idempotency ? [this.db('idempotency_keys').insert({
          owner: row.owner, key: idempotency.key, request_hash: idempotency.requestHash, job_id: row.id, created_at: row.created_at,
        })] : []),
      ]);
      // The status as inserted, so the first status read (a POST waiting for the Slurm id) needs no query.
      this.statusCache.afterWrite(row.id, token, { snapshot: { job: row, events: [firstEvent(row, reason)] } });
      return row.id;
    } catch (err) {
      const winner = idempotency && await this.findIdempotent(row.owner, idempotency.key);
      if (winner) return winner.job_id;
      throw err;
    }
  }

  async findIdempotent(owner: string, key: string): Promise<{ job_id: string; request_hash: string } | undefined> {
    return this.db('idempotency_keys').where({ owner, key }).first<{ job_id: string; request_hash: string } | undefined>();
  }

  async find(id: string): Promise<JobRow | undefined> {
    return this.db<JobRow>('jobs').where({ id }).first();
  }

  /** `owner` null: any owner (an admin's view). */
  async findOwned(owner: string | null, id: string): Promise<JobRow | undefined> {
    return this.db<JobRow>('jobs').where(owner === null ? { id } : { owner, id }).first();
  }

  async events(jobId: string): Promise<JobEventRow[]> {
    return this.db<JobEventRow>('job_events').where({ job_id: jobId }).orderBy('id', 'asc');
  }

  /** A job with its history, for status reads: served from the status cache when it is fresh. */
  async statusOf(owner: string | null, id: string): Promise<JobStatusSnapshot | undefined> {
    const snapshot = await this.statusCache.read(id, async () => {
      const job = await this.find(id);
      return job && { job, events: await this.events(id) };
    });
    return snapshot && (owner === null || snapshot.job.owner === owner) ? snapshot : undefined;
  }

  /** Plain field update that does not change the state (Slurm details, phases). */
  async patch(id: string, patch: JobPatch): Promise<void> {
    await this.db('jobs').where({ id }).update({ ...patch, updated_at: now() });
    this.written(id);
  }

  /** Compare-and-set on the submission phase: only one worker may move a job forward. */
  async claimPhase(id: string, from: JobRow['submit_phase'], to: JobRow['submit_phase'], patch: JobPatch = {}): Promise<boolean> {
    const changed = await this.phaseUpdate(id, from, to, patch);
    this.written(id);
    return changed === 1;
  }

  /**
   * 'submitting' → 'submitted' with the Slurm id, answering in the same statement whether the user
   * asked to cancel meanwhile (undefined: the job was not 'submitting'). A cancel that commits
   * after this sees the id and cancels in Slurm itself.
   */
  async recordSlurmId(id: string, slurmJobId: string, status: string): Promise<{ cancelRequested: boolean } | undefined> {
    const token = this.statusCache.beforeWrite();
    // Not synced before the answer: if a power cut loses it, the job is still 'submitting' and the
    // submitter's reconcile finds the same Slurm id by job name.
    const [rows] = await runStatements(this.db, [
      this.phaseUpdate(id, 'submitting', 'submitted', { slurm_job_id: slurmJobId, status, last_error: null }).returning('*'),
    ], { durability: 'deferred' });
    const row = (rows as JobRow[])[0];
    if (row) {
      // No history is added: the cached status stays valid with the new row (no read back).
      this.statusCache.afterWrite(id, token, { job: row });
      this.changes.notify(id);
    } else {
      this.written(id);
    }
    // SQLite answers the boolean as 0/1.
    return row && { cancelRequested: Boolean(row.cancel_requested) };
  }

  /** Move a job to a new state (recording why) unless it is already final. Returns whether it moved. */
  async transition(job: Pick<JobRow, 'id' | 'state' | 'slurm_job_id'>, to: JobState, status: string, patch: JobPatch = {}): Promise<boolean> {
    if (isFinal(job.state)) return false;
    const at = now();
    // Forgotten after the commit, not before: a read between the two would cache the old row.
    const moved = await this.db.transaction(async (trx) => {
      const finalFields = isFinal(to) ? { finished_at: at, output_phase: job.slurm_job_id ? 'pending' : 'none' } : {};
      const changed = await trx('jobs').where({ id: job.id, state: job.state })
        .update({ ...finalFields, ...patch, state: to, status, updated_at: at });
      if (changed !== 1) return false;
      if (to !== job.state) {
        await trx('job_events').insert({ job_id: job.id, at, from_state: job.state, to_state: to, reason: status });
      }
      return true;
    });
    this.written(job.id);
    return moved;
  }

  /** The compare-and-set on the submission phase that claimPhase() and recordSlurmId() share. */
  private phaseUpdate(id: string, from: JobRow['submit_phase'], to: JobRow['submit_phase'], patch: JobPatch) {
    return this.db('jobs').where({ id, submit_phase: from }).update({ ...patch, submit_phase: to, updated_at: now() });
  }

  /** Called once the write is committed (see transition() for why not before). */
  private written(id: string): void {
    this.statusCache.forget(id);
    this.changes.notify(id);
  }

  async withSubmitPhase(cluster: string, phase: JobRow['submit_phase']): Promise<JobRow[]> {
    return this.db<JobRow>('jobs').where({ cluster, submit_phase: phase }).orderBy('created_at', 'asc');
  }

  /** Submitted jobs Slurm still has to tell us about. */
  async active(cluster: string): Promise<JobRow[]> {
    return this.db<JobRow>('jobs')
      .where({ cluster, submit_phase: 'submitted' })
      .whereIn('state', ['PENDING', 'RUNNING', 'UNKNOWN'])
      .orderBy('created_at', 'asc');
  }

  async awaitingOutput(cluster: string): Promise<JobRow[]> {
    return this.db<JobRow>('jobs').where({ cluster, output_phase: 'pending' }).orderBy('finished_at', 'asc');
  }

  async countActiveUsingFile(fileId: string): Promise<number> {
    const row = await this.db('jobs').where({ file_id: fileId })
      .whereIn('state', ['PENDING', 'RUNNING', 'UNKNOWN']).count<{ n: number }[]>({ n: '*' }).first();
    return Number(row?.n ?? 0);
  }
}
