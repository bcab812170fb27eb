// What the job services need from a batch system. Only main.ts knows it is Slurm over SSH.
import type { Writable } from 'node:stream';
import type { SlurmJobRecord } from './slurm/parse.ts';
import type { SubmissionFiles } from './slurm/commands.ts';

export type { SlurmJobRecord, SubmissionFiles };

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
  submit(submission: SubmissionFiles): Promise<string>;
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
