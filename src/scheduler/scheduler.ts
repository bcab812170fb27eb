// What the job services need from a batch system. Only main.ts knows it is Slurm over SSH.
import type { Writable } from 'node:stream';
import type { SlurmJobRecord } from './slurm/parse.ts';
import type { SubmissionFiles } from './slurm/commands.ts';

export type { SlurmJobRecord, SubmissionFiles };

/** A job directory being written ahead of its sbatch (see Scheduler.prepare). */
export interface PreparedSubmission {
  readonly written: Promise<void>;
}

export interface JobSnapshot {
  /** From squeue: slurmctld's live view (absent once the job is purged, MinJobAge). */
  live: Map<string, SlurmJobRecord>;
  /** From sacct: accounting (lags a little behind; absent if slurmdbd is down). */
  accounted: Map<string, SlurmJobRecord>;
  /** False when sacct could not be asked this time: absence there then means nothing. */
  accountingAnswered: boolean;
}

export interface Scheduler {
  readonly cluster: string;
  /** Write the job's directory and sbatch it, in one command; resolves to the Slurm job id. */
  submit(submission: SubmissionFiles): Promise<string>;
  /**
   * submit() in two halves, for a job whose directory can be written while it is persisted:
   * prepare() writes the directory and submits nothing; submitPrepared(), issued without waiting
   * for prepare()'s answer, runs sbatch only if the prepare succeeded, as the cluster itself
   * checks. `written` settles with the prepare's own outcome.
   */
  prepare(submission: SubmissionFiles): PreparedSubmission;
  submitPrepared(submission: SubmissionFiles, prepared: PreparedSubmission): Promise<string>;
  findByName(jobName: string, sinceEpochSeconds: number): Promise<SlurmJobRecord | undefined>;
  /** `sinceEpochSeconds`: no job in the list was submitted before this (bounds a user-wide query). */
  snapshot(jobIds: readonly string[], sinceEpochSeconds: number): Promise<JobSnapshot>;
  cancel(jobId: string): Promise<void>;
  stageFile(localPath: string, remotePath: string): Promise<void>;
  streamDirectory(remoteDir: string, sink: Writable): Promise<{ bytes: number }>;
  removePaths(paths: readonly string[]): Promise<void>;
  /** Make directories (and their parents) the gateway will use, in one command. */
  makeDirectories(paths: readonly string[]): Promise<void>;
  /** Readiness: resolves when the cluster answers a trivial command within timeoutMs. */
  ping(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** The batch system answered but refused the job (bad partition, over a limit, …): final. */
export class SubmissionRejectedError extends Error {
  override readonly name = 'SubmissionRejectedError';
}

/** The batch system could not be asked (slurmctld down or busy): nothing happened; try later. */
export class SchedulerUnavailableError extends Error {
  override readonly name = 'SchedulerUnavailableError';
}
