// One poll cycle per cluster: one squeue and one sacct for all of its active jobs (chunked for
// very long lists), never one call per job; then each job's verdict is written. Status requests
// from clients read the database only, so they cost Slurm nothing.
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config.ts';
import type { JobRow } from '../db/rows.ts';
import type { JobRepository } from '../jobs/jobRepository.ts';
import { decideVerdict } from '../jobs/slurmVerdict.ts';
import type { JobPatch } from '../jobs/jobRepository.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import { asError } from '../remote/errors.ts';

export interface PollerDeps {
  jobs: JobRepository;
  schedulers: Map<string, Scheduler>;
  poll: GatewayConfig['poll'];
  logger: Logger;
  /** Called when jobs reached a final state (output collection can start). */
  onFinished?(cluster: string): void;
  observeCycle?(cluster: string, seconds: number, jobs: number): void;
}

/**
 * Seconds until the cluster needs polling again: every cycle while anything may change soon
 * (running jobs, fresh submissions, a final state awaiting accounting, a job gone missing),
 * slowly when every job has been pending for a long time.
 */
export function pollIntervalSeconds(active: readonly JobRow[], now: Date, poll: GatewayConfig['poll']): number {
  const busy = active.some((job) =>
    job.state !== 'PENDING' || job.final_seen_at || job.missing_since
    || (now.getTime() - Date.parse(job.created_at)) / 1000 < poll.longPendingSeconds);
  return busy ? 0 : poll.slowPollSeconds;
}

function changedFields(job: JobRow, patch: JobPatch): JobPatch | undefined {
  const changes = Object.fromEntries(Object.entries(patch).filter(([key, value]) => job[key as keyof JobRow] !== value));
  return Object.keys(changes).length > 0 ? changes : undefined;
}

export class Poller {
  private readonly nextPollAt = new Map<string, number>();

  constructor(private readonly deps: PollerDeps) {}

  /**
   * Poll now if the cluster is due (or `force`); returns whether Slurm was asked. When squeue
   * showed a job's end before sacct recorded it, the cluster is asked once more after
   * `poll.accountingRecheckMs` instead of at the next cycle (sacct usually follows within a
   * second): the final state shows about a cycle earlier, for two more commands per job end.
   */
  async pollCluster(cluster: string, options: { force?: boolean; recheck?: boolean } = {}): Promise<boolean> {
    const waiting = await this.pollOnce(cluster, options);
    if (waiting === 0 || options.recheck === false || this.deps.poll.accountingRecheckMs === 0) return waiting !== undefined;
    await new Promise((resolve) => setTimeout(resolve, this.deps.poll.accountingRecheckMs));
    await this.pollOnce(cluster, { force: true });
    return true;
  }

  /** One poll; undefined when Slurm was not asked, else how many jobs wait for accounting. */
  private async pollOnce(cluster: string, options: { force?: boolean }): Promise<number | undefined> {
    const { jobs, logger } = this.deps;
    const active = await jobs.active(cluster);
    if (active.length === 0) return undefined;
    if (!options.force && Date.now() < (this.nextPollAt.get(cluster) ?? 0)) return undefined;
    const started = process.hrtime.bigint();
    const scheduler = this.deps.schedulers.get(cluster)!;
    let snapshot;
    try {
      // An hour before the oldest job was accepted: a margin for clocks and queueing.
      const since = Math.floor(Math.min(...active.map((j) => Date.parse(j.created_at))) / 1000) - 3600;
      snapshot = await scheduler.snapshot(active.map((j) => j.slurm_job_id!), since);
    } catch (err) {
      // No answer is no information: nothing is changed, the next cycle asks again.
      logger.warn({ cluster, err: asError(err).message }, 'poll skipped: Slurm not reachable');
      return 0;
    }
    const now = new Date();
    let finished = 0;
    let waitingForAccounting = 0;
    for (const job of active) {
      const id = job.slurm_job_id!;
      const verdict = decideVerdict({
        job, now,
        live: snapshot.live.get(id),
        accounted: snapshot.accounted.get(id),
        accountingAnswered: snapshot.accountingAnswered,
        accountingLagSeconds: this.deps.poll.accountingLagSeconds,
        missingGraceSeconds: this.deps.poll.missingGraceSeconds,
        requeueGraceSeconds: this.deps.poll.requeueGraceSeconds,
      });
      if (!verdict) continue;
      if (verdict.waitingForAccounting) waitingForAccounting += 1;
      if (verdict.state === job.state) {
        // Most jobs are unchanged from one cycle to the next: write only what differs.
        const changes = changedFields(job, { ...verdict.patch, status: verdict.status });
        if (changes) await jobs.patch(job.id, changes);
      } else if (await jobs.transition(job, verdict.state, verdict.status, verdict.patch)) {
        logger.info({ job: job.id, slurmJobId: id, from: job.state, to: verdict.state, slurmState: verdict.patch.slurm_state }, 'job state changed');
        if (['SUCCESS', 'FAILURE', 'TIMED-OUT', 'CANCELED', 'CLEARED'].includes(verdict.state)) finished += 1;
      }
    }
    this.deps.observeCycle?.(cluster, Number(process.hrtime.bigint() - started) / 1e9, active.length);
    this.nextPollAt.set(cluster, Date.now() + pollIntervalSeconds(active, now, this.deps.poll) * 1000);
    if (finished > 0) this.deps.onFinished?.(cluster);
    return waitingForAccounting;
  }
}
