// Moves persisted jobs to Slurm, exactly once. The Slurm job carries the gateway's id as its
// name; whenever the outcome of an sbatch is unknown (timeout, dropped connection, a crash
// between sbatch and recording its id) the job is looked up by that name before any new sbatch.
import path from 'node:path';
import type { Logger } from 'pino';
import type { ClusterConfig } from '../config.ts';
import type { JobRow } from '../db/rows.ts';
import type { FileRepository, StagedInput } from '../files/fileRepository.ts';
import { RemoteInterruptedError, RemoteUnreachableError, asError } from '../remote/errors.ts';
import { SchedulerUnavailableError, SubmissionRejectedError, type PreparedSubmission, type Scheduler, type SubmissionFiles } from '../scheduler/scheduler.ts';
import type { JobRepository } from './jobRepository.ts';
import { InputStager } from './inputStager.ts';
import type { CrashHook } from '../faults.ts';
import { withoutPaths } from './clientMessage.ts';
import { Semaphore } from '../remote/semaphore.ts';
import type { JobDirectoryPool } from './jobDirectoryPool.ts';

export const slurmJobName = (jobId: string): string => `cg-${jobId}`;
export const remoteJobDir = (cluster: ClusterConfig, jobId: string): string => path.posix.join(cluster.remoteRoot, 'jobs', jobId);

export interface SubmitterDeps {
  jobs: JobRepository;
  files: FileRepository;
  clusters: Map<string, ClusterConfig>;
  schedulers: Map<string, Scheduler>;
  logger: Logger;
  /** Submissions in flight per cluster; leaves channels for polling and downloads. */
  concurrency?: number;
  crash?: CrashHook;
  /** Made ahead after submissions, so that the next jobs find their directories ready. */
  jobDirectories?: Pick<JobDirectoryPool, 'topUp'>;
}

const RETRY_DELAY_MS = 5_000;

/** A job's directory being written ahead of its insert, and what was written there. */
interface PreparedAhead {
  submission: SubmissionFiles;
  prepared: PreparedSubmission;
}

/** A submit slot held for one job from before its insert (see Submitter.reserve). */
export interface DirectSubmission {
  /** Before the insert: write the job's directory on the cluster while the job is being
   *  persisted, so that once it is committed only the sbatch is left. Submits nothing, and does
   *  nothing when the input is not on the cluster yet (it is staged after the commit). */
  prepareAhead(job: JobRow, input: StagedInput): void;
  /** The job is committed, already 'submitting': sbatch it now; the slot is freed when done.
   *  `input`: its input as the request found it a moment ago (saves looking it up again). */
  submit(job: JobRow, input: StagedInput): void;
  /** The job was not persisted after all: free the slot. */
  release(): void;
}

export class Submitter {
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  /** Jobs whose sbatch is in flight in this process: never reconciled from under it. */
  private readonly inFlight = new Set<string>();
  /** Submissions started on acceptance, outside a pass (see reserve()). */
  private readonly direct = new Set<Promise<void>>();
  /** Submissions in flight per cluster, passes and direct ones together. */
  private readonly slots = new Map<string, Semaphore>();
  private readonly stager: InputStager;

  constructor(private readonly deps: SubmitterDeps) {
    this.stager = new InputStager(deps.files);
  }

  private slotsOf(cluster: string): Semaphore {
    let slots = this.slots.get(cluster);
    if (!slots) {
      slots = new Semaphore(this.deps.concurrency ?? 4);
      this.slots.set(cluster, slots);
    }
    return slots;
  }

  /**
   * A submit slot for a job this process is about to persist, if one of the cluster's slots is
   * free now. Such a job is inserted already claimed ('submitting', first attempt) and handed to
   * `submit` once committed: no pass, no queue reads, no claim (a POST waits for its Slurm id that
   * much less). A crash in between leaves it 'submitting', which a pass reconciles by job name as
   * after any interrupted claim. Without a slot, the job is inserted 'queued' and kick() runs a pass.
   */
  reserve(jobId: string, cluster: string): DirectSubmission | undefined {
    const freeSlot = this.slotsOf(cluster).tryAcquire();
    if (!freeSlot) return undefined;
    // In flight from now on (submitClaimed() ends that): a pass must never reconcile it from under us.
    this.inFlight.add(jobId);
    let preparedAhead: PreparedAhead | undefined;
    return {
      prepareAhead: (job, input) => {
        if (!input.stagedPath) return;
        const submission = this.submissionFor(job, input.stagedPath);
        preparedAhead = { submission, prepared: this.deps.schedulers.get(job.cluster)!.prepare(submission) };
      },
      submit: (job, input) => {
        const work: Promise<void> = this.submitClaimed(job, input, preparedAhead)
          .catch((err: unknown) => this.deps.logger.error({ job: job.id, err: asError(err).message }, 'submission failed'))
          .finally(() => {
            freeSlot();
            this.direct.delete(work);
          });
        this.direct.add(work);
      },
      release: () => {
        this.inFlight.delete(jobId);
        freeSlot();
        // The directory was written for a job that was not persisted: nothing will use it.
        if (preparedAhead) void this.removeUnused(preparedAhead.submission.jobDir, cluster, preparedAhead.prepared.written);
      },
    };
  }

  /** Start a pass for the cluster now, or right after the one running. */
  kick(cluster: string): void {
    if (this.running.has(cluster)) {
      this.again.add(cluster);
      return;
    }
    const pass = this.runOnce(cluster)
      .catch((err: unknown) => this.deps.logger.error({ cluster, err: asError(err).message }, 'submit pass failed'))
      .finally(() => {
        this.running.delete(cluster);
        if (this.again.delete(cluster)) this.kick(cluster);
      });
    this.running.set(cluster, pass);
  }

  /** Wait for the passes and submissions under way (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running.size > 0 || this.direct.size > 0) await Promise.all([...this.running.values(), ...this.direct]);
  }

  async runOnce(clusterName: string): Promise<void> {
    const { jobs } = this.deps;
    // A job another process may still be submitting (a gateway that stalled and lost its lease)
    // is left alone until that sbatch must have timed out.
    const settledBefore = new Date(Date.now() - this.deps.clusters.get(clusterName)!.commandTimeoutMs - 5_000).toISOString();
    for (const job of await jobs.withSubmitPhase(clusterName, 'submitting')) {
      if (!this.inFlight.has(job.id) && job.updated_at < settledBefore) await this.reconcile(job);
    }
    const now = new Date().toISOString();
    const queued = (await jobs.withSubmitPhase(clusterName, 'queued'))
      .filter((job) => !job.next_attempt_at || job.next_attempt_at <= now);
    const slots = this.slotsOf(clusterName);
    let next = 0;
    const worker = async () => {
      while (next < queued.length) {
        const job = queued[next++]!;
        await slots.with(() => this.submitOne(job));
      }
    };
    await Promise.all(Array.from({ length: Math.min(slots.capacity, queued.length) }, worker));
  }

  private async submitOne(job: JobRow): Promise<void> {
    if (!await this.deps.jobs.claimPhase(job.id, 'queued', 'submitting', { submit_attempts: job.submit_attempts + 1 })) return;
    this.inFlight.add(job.id);
    await this.submitClaimed(job);
  }

  /** sbatch for a job this process claimed: its phase is 'submitting' and it is in inFlight.
   *  `preparedAhead`: its directory is being written already (see DirectSubmission.prepareAhead). */
  private async submitClaimed(job: JobRow, knownInput?: StagedInput, preparedAhead?: PreparedAhead): Promise<void> {
    const cluster = this.deps.clusters.get(job.cluster)!;
    const scheduler = this.deps.schedulers.get(job.cluster)!;
    // Until sbatch is sent, an interrupted command (the input's transfer) cannot have reached Slurm.
    let sbatchMayHaveRun = false;
    try {
      const input = knownInput ?? await this.deps.files.findForSubmission(job.owner, job.file_id, cluster.name);
      if (!input) throw new SubmissionRejectedError('its input file was deleted before the job reached Slurm');
      // Prepared ahead, the input was on the cluster already; otherwise it is staged now if need be.
      const submission = preparedAhead?.submission ?? this.submissionFor(job, await this.stager.ensureStaged(input, cluster, scheduler));
      this.deps.crash?.('before-sbatch');
      sbatchMayHaveRun = true;
      const slurmId = await (preparedAhead ? scheduler.submitPrepared(submission, preparedAhead.prepared) : scheduler.submit(submission));
      this.deps.crash?.('after-sbatch');
      await this.recordSubmitted(job, slurmId);
    } catch (err) {
      await this.handleFailure(job, asError(err), sbatchMayHaveRun);
    } finally {
      this.inFlight.delete(job.id);
    }
    this.deps.logger.debug({ job: job.id }, 'submit attempt done');
    // After the sbatch, not before: the batch's mkdir then delays no one's Slurm id.
    await this.deps.jobDirectories?.topUp(job.cluster);
  }

  private submissionFor(job: JobRow, remoteInput: string): SubmissionFiles {
    const resources = JSON.parse(job.resources) as { configFile: string; inputLinked?: boolean };
    // Jobs accepted before staged copies carried the input's name have no inputLinked: linked.
    const linked = resources.inputLinked ?? true;
    return {
      jobDir: remoteJobDir(this.deps.clusters.get(job.cluster)!, job.id),
      files: { [resources.configFile]: job.app_config, 'job.sbatch': job.script },
      links: linked ? { [job.input_name]: remoteInput } : {},
      scriptName: 'job.sbatch',
      jobName: slurmJobName(job.id),
    };
  }

  private async removeUnused(jobDir: string, cluster: string, written: Promise<void>): Promise<void> {
    await written.catch(() => undefined);
    await this.deps.schedulers.get(cluster)!.removePaths([jobDir])
      .catch((err: unknown) => this.deps.logger.warn({ cluster, err: asError(err).message }, 'could not remove an unused job directory'));
  }

  private async recordSubmitted(job: JobRow, slurmId: string): Promise<void> {
    const { jobs, logger } = this.deps;
    const recorded = await jobs.recordSlurmId(job.id, slurmId, `Job submitted to Slurm as job ${slurmId}`);
    if (!recorded) {
      // Not 'submitting' any more: another gateway reconciled it meanwhile and recorded the same id.
      logger.warn({ job: job.id, slurmJobId: slurmId }, 'job was no longer being submitted when its Slurm id came back');
      return;
    }
    logger.info({ job: job.id, slurmJobId: slurmId }, 'submitted to Slurm');
    if (recorded.cancelRequested) await this.deps.schedulers.get(job.cluster)!.cancel(slurmId);
  }

  private async handleFailure(job: JobRow, error: Error, sbatchMayHaveRun: boolean): Promise<void> {
    const { jobs, logger } = this.deps;
    const cutBeforeSbatch = error instanceof RemoteInterruptedError && !sbatchMayHaveRun;
    if (error instanceof RemoteUnreachableError || error instanceof SchedulerUnavailableError || cutBeforeSbatch) {
      // Nothing reached Slurm: back to the queue, retried on a later pass.
      await jobs.claimPhase(job.id, 'submitting', 'queued', {
        status: `waiting for the cluster: ${withoutPaths(error.message)}`, last_error: error.message,
        next_attempt_at: new Date(Date.now() + RETRY_DELAY_MS).toISOString(),
      });
      logger.warn({ job: job.id, err: error.message }, 'cluster unavailable; job stays queued');
    } else if (error instanceof RemoteInterruptedError) {
      // sbatch may have run: stay in 'submitting' so the next pass looks the job up by name.
      await jobs.patch(job.id, { last_error: error.message, status: 'submission outcome unknown; checking with Slurm' });
      logger.warn({ job: job.id, err: error.message }, 'sbatch outcome unknown; will reconcile by job name');
    } else {
      await jobs.claimPhase(job.id, 'submitting', 'abandoned', { last_error: error.message });
      await jobs.transition(job, 'ABORTED', `The gateway could not submit the job: ${withoutPaths(error.message)}`, { output_phase: 'none' });
      logger.warn({ job: job.id, err: error.message }, 'job aborted');
    }
  }

  /** A job left in 'submitting' (crash, timeout): find it in Slurm by name, or queue it again. */
  private async reconcile(job: JobRow): Promise<void> {
    const { jobs, logger } = this.deps;
    const scheduler = this.deps.schedulers.get(job.cluster)!;
    try {
      const since = Math.floor(Date.parse(job.created_at) / 1000) - 300;
      const found = await scheduler.findByName(slurmJobName(job.id), since);
      if (found) {
        logger.info({ job: job.id, slurmJobId: found.jobId }, 'found the earlier submission by name');
        await this.recordSubmitted(job, found.jobId);
      } else {
        await jobs.claimPhase(job.id, 'submitting', 'queued', { status: 'Job submitted with success' });
      }
    } catch (err) {
      logger.warn({ job: job.id, err: asError(err).message }, 'reconcile failed; will retry');
    }
  }
}
