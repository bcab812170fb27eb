// One poll cycle per cluster: one squeue and one sacct for all of its active jobs (chunked for
// very long lists), never one call per job; then each job's verdict is written. Status requests
// from clients read the database only, so they cost Slurm nothing.
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config.ts';
import type { JobRepository } from '../jobs/jobRepository.ts';
import { decideVerdict } from '../jobs/slurmVerdict.ts';
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

const REQUEUE_GRACE_SECONDS = 60;

export class Poller {
  constructor(private readonly deps: PollerDeps) {}

  async pollCluster(cluster: string): Promise<void> {
    const { jobs, logger } = this.deps;
    const active = await jobs.active(cluster);
    if (active.length === 0) return;
    const started = process.hrtime.bigint();
    const scheduler = this.deps.schedulers.get(cluster)!;
    let snapshot;
    try {
      snapshot = await scheduler.snapshot(active.map((j) => j.slurm_job_id!));
    } catch (err) {
      // No answer is no information: nothing is changed, the next cycle asks again.
      logger.warn({ cluster, err: asError(err).message }, 'poll skipped: Slurm not reachable');
      return;
    }
    const now = new Date();
    let finished = 0;
    for (const job of active) {
      const id = job.slurm_job_id!;
      const verdict = decideVerdict({
        job, now,
        live: snapshot.live.get(id),
        accounted: snapshot.accounted.get(id),
        accountingAnswered: snapshot.accountingAnswered,
        accountingLagSeconds: this.deps.poll.accountingLagSeconds,
        missingGraceSeconds: this.deps.poll.missingGraceSeconds,
        requeueGraceSeconds: REQUEUE_GRACE_SECONDS,
      });
      if (!verdict) continue;
      if (verdict.state === job.state) {
        await jobs.patch(job.id, { ...verdict.patch, status: verdict.status });
      } else if (await jobs.transition(job, verdict.state, verdict.status, verdict.patch)) {
        logger.info({ job: job.id, slurmJobId: id, from: job.state, to: verdict.state, slurmState: verdict.patch.slurm_state }, 'job state changed');
        if (['SUCCESS', 'FAILURE', 'TIMED-OUT', 'CANCELED', 'CLEARED'].includes(verdict.state)) finished += 1;
      }
    }
    this.deps.observeCycle?.(cluster, Number(process.hrtime.bigint() - started) / 1e9, active.length);
    if (finished > 0) this.deps.onFinished?.(cluster);
  }
}
