// Accepting and cancelling jobs. A job is persisted before anything touches the cluster; the
// submitter then moves it to Slurm in the background, so a cluster outage never loses a request.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { JobRow } from '../db/rows.ts';
import type { FileRepository } from '../files/fileRepository.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import { planJob, renderJobScript, type JobRequest, type PlanContext } from './jobPlan.ts';
import { firstEvent, type JobRepository } from './jobRepository.ts';
import type { JobStatusSnapshot } from './jobStatusCache.ts';
import { isFinal } from './states.ts';
import type { ClusterAccess } from '../users/clusterAccess.ts';
import type { DirectSubmission } from './submitter.ts';

export interface JobServiceDeps {
  jobs: JobRepository;
  files: FileRepository;
  apps: PlanContext['apps'];
  clusterNames: string[];
  resolveCluster(owner: string, requested: string | undefined): ClusterAccess | undefined;
  /** Refuses a submission over the user's limits (429). */
  checkLimits(owner: string): Promise<void>;
  /** A new job's id (see JobDirectoryPool: its directory on the cluster may be made already). */
  newJobId(cluster: string): string;
  templates: { get(name: string): string };
  schedulers: Map<string, Scheduler>;
  /** The submitter, for the clusters this instance submits to (see gateway.ts). */
  submissions: {
    /** A slot to submit the job the moment it is persisted (undefined: the next pass takes it). */
    reserve(jobId: string, cluster: string): DirectSubmission | undefined;
    /** A job was persisted 'queued': run a pass. */
    kick(cluster: string): void;
  };
  logger: Logger;
}

export type CancelOutcome = { job: JobRow; message: string };

/** `status`: the job's status as a GET would have read it at that moment (for the answer's ETag). */
export type SubmitOutcome = { job: JobRow; replayed: boolean; status: JobStatusSnapshot };

const ACCEPTED = 'accepted by the gateway';

/** An Idempotency-Key was reused for a different request. */
export class IdempotencyConflictError extends Error {}

/** Stable across key order and whitespace, so a retried request hashes the same. */
export function requestHash(request: unknown): string {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
    }
    return value;
  };
  return createHash('sha256').update(JSON.stringify(canonical(request))).digest('hex');
}

export class JobService {
  constructor(private readonly deps: JobServiceDeps) {}

  /** Accept a job; with an Idempotency-Key, a retry of the same request returns the first job. */
  async submit(owner: string, request: JobRequest, idempotencyKey?: string): Promise<SubmitOutcome> {
    const { jobs, templates } = this.deps;
    const idempotency = idempotencyKey === undefined ? undefined : { key: idempotencyKey, requestHash: requestHash(request) };
    if (idempotency) {
      const earlier = await this.replay(owner, idempotency);
      if (earlier) return { job: earlier.job, replayed: true, status: earlier };
    }
    // The limit check (two counts) and the plan (validation, one lookup) are independent: run
    // together, but a limit refusal still wins over a validation error, as when run in turn.
    const [limits, planned] = await Promise.allSettled([this.deps.checkLimits(owner), this.plan(owner, request)]);
    if (limits.status === 'rejected') throw limits.reason;
    if (planned.status === 'rejected') throw planned.reason;
    const plan = planned.value;
    const id = this.deps.newJobId(plan.cluster.name);
    const script = renderJobScript(templates.get(plan.app.template), plan, {
      jobId: id,
      executable: plan.cluster.sfinderExecutable,
    });
    const at = new Date().toISOString();
    const direct = this.deps.submissions.reserve(id, plan.cluster.name);
    const row: JobRow = {
      id, owner, app: plan.app.name, cluster: plan.cluster.name, file_id: plan.file.id,
      job_inputs: JSON.stringify(request.job_inputs), tag: request.tag ?? null,
      state: 'PENDING', status: 'Job submitted with success',
      // With a reserved slot the job is persisted already claimed, its first attempt under way.
      submit_phase: direct ? 'submitting' : 'queued', submit_attempts: direct ? 1 : 0,
      last_error: null, next_attempt_at: null, script, app_config: plan.appConfig,
      resources: JSON.stringify({ ...plan.resources, configFile: plan.configFileName, base: plan.base, inputLinked: plan.inputLinked }),
      input_name: plan.inputName, slurm_job_id: null, slurm_state: null, slurm_reason: null,
      slurm_exit_code: null, exit_code: null, elapsed_seconds: null, node_list: null, partition: null,
      slurm_submit_at: null, slurm_start_at: null, slurm_end_at: null, cancel_requested: false,
      missing_since: null, final_seen_at: null, output_phase: 'none', output_attempts: 0,
      output_bytes: null, output_path: null, created_at: at, updated_at: at, finished_at: null,
    };
    // Written on the cluster while the row is committed; sbatch itself waits for the commit.
    const input = { file: plan.file, stagedPath: plan.stagedPath };
    direct?.prepareAhead(row, input);
    let owningJob: string;
    try {
      owningJob = await jobs.insert(row, ACCEPTED, idempotency);
    } catch (err) {
      direct?.release();
      throw err;
    }
    if (owningJob !== id) {
      direct?.release();
      // A concurrent request with the same key won the race: answer with its job.
      const earlier = (await this.replay(owner, idempotency!))!;
      return { job: earlier.job, replayed: true, status: earlier };
    }
    this.deps.logger.info({ job: id, owner, cluster: row.cluster, app: row.app }, 'job accepted');
    // Built from what insert() just wrote rather than read back: the submitter, handed the job
    // next, may change it before a read would run, and the client must learn the status it had at
    // acceptance to wait for the first change without missing it. Every field the status shows
    // is a string or null in the row (no database type conversion), so it renders identically.
    const status = { job: row, events: [firstEvent(row, ACCEPTED)] };
    if (direct) direct.submit(row, input);
    else this.deps.submissions.kick(row.cluster);
    return { job: row, replayed: false, status };
  }

  private plan(owner: string, request: JobRequest): ReturnType<typeof planJob> {
    const { files } = this.deps;
    return planJob(request, {
      apps: this.deps.apps,
      clusterNames: this.deps.clusterNames,
      resolveCluster: (requested) => this.deps.resolveCluster(owner, requested),
      findInput: (reference, cluster) => files.findInputOwned(owner, reference, cluster),
    });
  }

  /** The job an earlier request with this key created, as its status reads now. */
  private async replay(owner: string, idempotency: { key: string; requestHash: string }): Promise<JobStatusSnapshot | undefined> {
    const earlier = await this.deps.jobs.findIdempotent(owner, idempotency.key);
    if (!earlier) return undefined;
    if (earlier.request_hash !== idempotency.requestHash) {
      throw new IdempotencyConflictError(`Idempotency-Key ${JSON.stringify(idempotency.key)} was already used for a different request; use a new key for a new job`);
    }
    return this.deps.jobs.statusOf(owner, earlier.job_id);
  }

  /** Idempotent: cancelling a finished job answers with what happened to it. */
  async cancel(job: JobRow): Promise<CancelOutcome> {
    const { jobs } = this.deps;
    if (isFinal(job.state)) {
      return { job, message: `Job ${job.id} had already finished (${job.state}); nothing to cancel` };
    }
    await jobs.patch(job.id, { cancel_requested: true });
    // Not yet handed to Slurm: take it back from the submit queue so it is never submitted.
    if (await jobs.claimPhase(job.id, 'queued', 'abandoned')) {
      await jobs.transition(job, 'CANCELED', 'Job canceled by the user before it reached Slurm', { output_phase: 'none' });
      return { job: (await jobs.find(job.id))!, message: `Job ${job.id} canceled before submission` };
    }
    const fresh = (await jobs.find(job.id))!;
    if (fresh.slurm_job_id) {
      await this.deps.schedulers.get(fresh.cluster)!.cancel(fresh.slurm_job_id);
      return { job: fresh, message: `Job ${job.id} canceled (Slurm job ${fresh.slurm_job_id}); its final state follows shortly` };
    }
    // Being submitted right now: the submitter sees cancel_requested and cancels once it has an id.
    return { job: fresh, message: `Job ${job.id} canceled; it will be stopped as soon as its submission completes` };
  }
}
