// Slurm over one SSH connection. Every command goes through run(), which makes it hermetic,
// applies the timeout, counts it by kind, and translates failures once.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { SshConnection, ExecResult } from '../../remote/sshConnection.ts';
import { RemoteInterruptedError, RemoteUnreachableError, asError } from '../../remote/errors.ts';
import { NOT_RUN_STATUS, ResidentShell, type ResidentRunOptions } from '../../remote/residentShell.ts';
import { shellCommand, shellQuote } from '../../remote/quote.ts';
import {
  prepareAndSubmitScript, prepareJobDirScript, remoteScript, submitPreparedScript, sacctArgv, sacctByNameArgv, sacctByUserArgv, scancelArgv, squeueArgv,
  squeueByNameArgv, squeueByUserArgv,
  tarJobDirScript, type SubmissionFiles,
} from './commands.ts';
import { parseSacct, parseSbatchJobId, parseSqueue, type SlurmJobRecord } from './parse.ts';
import type { TokenBucket } from '../../remote/tokenBucket.ts';
import {
  SchedulerUnavailableError, SubmissionRejectedError, type JobSnapshot, type PreparedSubmission, type Scheduler,
} from '../scheduler.ts';

export type CommandKind = 'sbatch' | 'prepare' | 'squeue' | 'sacct' | 'scancel' | 'stage' | 'tar' | 'rm' | 'mkdir';

export interface CommandObserver {
  (kind: CommandKind, seconds: number, ok: boolean): void;
}

export interface SlurmSchedulerOptions {
  cluster: string;
  /** The login the connection uses: user-wide queries ask for this user's jobs. */
  user: string;
  ssh: SshConnection;
  commandTimeoutMs: number;
  idChunkSize: number;
  /** Collecting a large directory takes longer than a status command. */
  transferTimeoutMs?: number;
  /** Shared budget of commands per minute on this cluster. */
  budget?: TokenBucket;
  observe?: CommandObserver;
}

/** slurmctld is down or overloaded: the command did nothing. */
const CONTROLLER_UNREACHABLE = /Unable to contact slurm controller|Connection refused|Zero Bytes were transmitted|connect failure/i;
/** The command may have reached slurmctld: sbatch's outcome is unknown. */
const OUTCOME_UNKNOWN = /Socket timed out|Operation timed out|Resource temporarily unavailable/i;

/** How a resident command hands its exit status to a later one (see ResidentShell). */
type StatusLink = Pick<ResidentRunOptions, 'keepStatusAs' | 'onlyIf'>;

/** The shell variable that carries the prepare's exit status to the sbatch behind it. */
interface SlurmPreparedSubmission extends PreparedSubmission {
  readonly statusName: string;
}

export class SlurmScheduler implements Scheduler {
  readonly cluster: string;

  /** Already hermetic: the prelude runs once, when the shell starts. */
  private readonly residentShell: ResidentShell;

  constructor(private readonly options: SlurmSchedulerOptions) {
    this.cluster = options.cluster;
    this.residentShell = new ResidentShell(options.cluster, () => options.ssh.openResidentChannel(remoteScript('exec /bin/sh -s')));
  }

  async submit(submission: SubmissionFiles): Promise<string> {
    return this.sbatch(prepareAndSubmitScript(submission));
  }

  prepare(submission: SubmissionFiles): SlurmPreparedSubmission {
    const statusName = `prepared_${randomBytes(8).toString('hex')}`;
    // Not a Slurm command (shell builtins on the login node, plus an ln for an input staged under
    // the older layout), and half of what submit() does in one command: it spends none of the
    // cluster's command budget.
    const written = this.run('prepare', prepareJobDirScript(submission), { resident: true, budgeted: false, keepStatusAs: statusName })
      .then((result) => {
        if (result.code !== 0) throw new SubmissionRejectedError(`could not write the job directory: ${firstLine(result.stderr) || `exit status ${result.code}`}`);
      });
    written.catch(() => undefined); // the caller's to handle, through submitPrepared() or itself
    return { written, statusName };
  }

  async submitPrepared(submission: SubmissionFiles, prepared: PreparedSubmission): Promise<string> {
    const { statusName } = prepared as SlurmPreparedSubmission;
    // Right behind the prepare on the resident shell, which runs it only if the prepare succeeded.
    const result = await this.run('sbatch', submitPreparedScript(submission), { resident: true, onlyIf: statusName }).catch(async (err: unknown) => {
      // The prepare failed on the cluster: that is the reason, and sbatch certainly did not run.
      // Otherwise (the shell was lost) whether sbatch ran is unknown, as the error says.
      const refused = await prepared.written.then(() => undefined, (prepareError: unknown) => prepareError);
      throw refused instanceof SubmissionRejectedError ? refused : err;
    });
    if (result.code !== NOT_RUN_STATUS) return this.sbatchOutcome(result);
    await prepared.written; // sbatch did not run: because the prepare failed (this throws why)…
    // …or because the shell was replaced in between, so the status was lost: all in one go, then.
    return this.submit(submission);
  }

  private async sbatch(script: string): Promise<string> {
    return this.sbatchOutcome(await this.run('sbatch', script, { resident: true }));
  }

  private sbatchOutcome(result: ExecResult): string {
    const id = result.code === 0 ? parseSbatchJobId(result.stdout) : undefined;
    if (id) return id;
    const message = firstLine(result.stderr) || `sbatch exited with status ${result.code}`;
    if (OUTCOME_UNKNOWN.test(result.stderr)) throw new RemoteInterruptedError(`sbatch outcome unknown: ${message}`);
    if (CONTROLLER_UNREACHABLE.test(result.stderr)) throw new SchedulerUnavailableError(message);
    throw new SubmissionRejectedError(message);
  }

  async findByName(jobName: string, sinceEpochSeconds: number): Promise<SlurmJobRecord | undefined> {
    const live = await this.run('squeue', shellCommand(squeueByNameArgv(jobName)));
    this.assertAnswered(live, 'squeue');
    const found = parseSqueue(live.stdout).find((r) => r.jobName === jobName);
    if (found) return found;
    const accounted = await this.run('sacct', shellCommand(sacctByNameArgv(jobName, sinceEpochSeconds)));
    this.assertAnswered(accounted, 'sacct');
    return parseSacct(accounted.stdout).find((r) => r.jobName === jobName);
  }

  /**
   * One squeue and one sacct per cycle, whatever the number of jobs: up to `idChunkSize` jobs are
   * asked for by id; beyond that (long id lists make sacct hang on some sites) by user and start
   * time instead, and the answer is filtered to the jobs asked for.
   */
  async snapshot(jobIds: readonly string[], sinceEpochSeconds: number): Promise<JobSnapshot> {
    const live = new Map<string, SlurmJobRecord>();
    const accounted = new Map<string, SlurmJobRecord>();
    let accountingAnswered = true;
    const byUser = jobIds.length > this.options.idChunkSize;
    const queries = byUser
      ? [{ squeue: squeueByUserArgv(this.options.user), sacct: sacctByUserArgv(this.options.user, sinceEpochSeconds) }]
      : [{ squeue: squeueArgv(jobIds), sacct: sacctArgv(jobIds) }];
    const wanted = new Set(jobIds);
    for (const query of queries) {
      const [queue, acct] = await Promise.all([
        this.run('squeue', shellCommand(query.squeue)),
        this.run('sacct', shellCommand(query.sacct)),
      ]);
      // squeue refuses the whole request when none of the ids is still known to slurmctld.
      if (queue.code !== 0 && !/Invalid job id/i.test(queue.stderr)) this.assertAnswered(queue, 'squeue');
      for (const record of parseSqueue(queue.stdout)) if (wanted.has(record.jobId)) live.set(record.jobId, record);
      if (acct.code !== 0) accountingAnswered = false;
      else for (const record of parseSacct(acct.stdout)) if (wanted.has(record.jobId)) accounted.set(record.jobId, record);
    }
    return { live, accounted, accountingAnswered };
  }

  async cancel(jobId: string): Promise<void> {
    const result = await this.run('scancel', shellCommand(scancelArgv(jobId)));
    // Cancelling a job Slurm has already forgotten is not an error: it is over either way.
    if (result.code !== 0 && !/Invalid job id|already completing or completed/i.test(result.stderr)) {
      this.assertAnswered(result, 'scancel');
    }
  }

  async stageFile(localPath: string, remotePath: string): Promise<void> {
    await this.options.budget?.take();
    const started = process.hrtime.bigint();
    let ok = false;
    try {
      const partial = `${remotePath}.part-${process.pid}-${Date.now()}`;
      // The directory, without what an earlier transfer of this file left when it was cut off.
      await this.options.ssh.exec(`${shellCommand(['mkdir', '-p', path.posix.dirname(remotePath)])} && rm -f -- ${shellQuote(remotePath)}.part-*`,
        { timeoutMs: this.options.commandTimeoutMs });
      await this.options.ssh.withSftp(async (sftp) => {
        await new Promise<void>((resolve, reject) => sftp.fastPut(localPath, partial, (err) => (err ? reject(err) : resolve())));
        // Rename last so a half-sent file is never mistaken for the input.
        await new Promise<void>((resolve, reject) => sftp.ext_openssh_rename(partial, remotePath, (err) => (err ? reject(err) : resolve())));
      }).catch((err: unknown) => { throw transferFailure(this.cluster, err); });
      ok = true;
    } finally {
      this.observe('stage', started, ok);
    }
  }

  async streamDirectory(remoteDir: string, sink: Writable): Promise<{ bytes: number }> {
    await this.options.budget?.take();
    const started = process.hrtime.bigint();
    let ok = false;
    try {
      const timeoutMs = this.options.transferTimeoutMs ?? 30 * 60_000;
      const result = await this.options.ssh.execToStream(tarJobDirScript(remoteDir), sink, { timeoutMs });
      if (result.code !== 0) throw new Error(`tar of ${remoteDir} failed (${result.code}): ${firstLine(result.stderr)}`);
      ok = true;
      return { bytes: result.bytes };
    } finally {
      this.observe('tar', started, ok);
    }
  }

  /** Remove files or directories the gateway created (retention); `rm -rf --`, every path quoted. */
  async removePaths(paths: readonly string[]): Promise<void> {
    if (paths.length === 0) return;
    const result = await this.run('rm', shellCommand(['rm', '-rf', '--', ...paths]));
    if (result.code !== 0) throw new Error(`rm on ${this.cluster} failed: ${firstLine(result.stderr)}`);
  }

  /** On the resident shell, like sbatch: job directories made ahead (see JobDirectoryPool). */
  async makeDirectories(paths: readonly string[]): Promise<void> {
    if (paths.length === 0) return;
    const result = await this.run('mkdir', shellCommand(['mkdir', '-p', '--', ...paths]), { resident: true });
    if (result.code !== 0) throw new Error(`mkdir on ${this.cluster} failed: ${firstLine(result.stderr)}`);
  }

  /** `true` over the pooled connection: no Slurm command, not counted as one. */
  async ping(timeoutMs: number): Promise<void> {
    const result = await this.options.ssh.exec('true', { timeoutMs });
    if (result.code !== 0) throw new RemoteUnreachableError(`${this.cluster}: 'true' exited with status ${result.code}`);
  }

  close(): Promise<void> {
    this.residentShell.close();
    return this.options.ssh.close();
  }

  /** `resident`: on the resident shell (submissions, where latency counts) instead of a channel of
   *  its own. `budgeted: false`: takes nothing from the command budget. */
  private async run(kind: CommandKind, script: string, how: { resident?: boolean; budgeted?: boolean } & StatusLink = {}): Promise<ExecResult> {
    if (how.budgeted !== false) await this.options.budget?.take();
    const started = process.hrtime.bigint();
    let ok = false;
    try {
      const options = { timeoutMs: this.options.commandTimeoutMs };
      const result = how.resident
        ? await this.residentShell.run(script, { ...options, keepStatusAs: how.keepStatusAs, onlyIf: how.onlyIf })
        : await this.options.ssh.exec(remoteScript(script), options);
      ok = result.code === 0;
      return result;
    } finally {
      this.observe(kind, started, ok);
    }
  }

  private assertAnswered(result: ExecResult, what: string): void {
    if (result.code === 0) return;
    throw new SchedulerUnavailableError(`${this.cluster}: ${what} failed: ${firstLine(result.stderr) || `exit status ${result.code}`}`);
  }

  private observe(kind: CommandKind, started: bigint, ok: boolean): void {
    this.options.observe?.(kind, Number(process.hrtime.bigint() - started) / 1e9, ok);
  }
}

/**
 * An SFTP error without a status code is ssh2 giving up on requests the server never answered
 * ("No response from server": the channel or the connection went away): the transfer was cut
 * off, not refused, and may be tried again. A status from the server (no space, no permission)
 * or a local file error (a string code) stays what it is.
 */
function transferFailure(cluster: string, err: unknown): Error {
  const error = asError(err);
  if (error instanceof RemoteUnreachableError || error instanceof RemoteInterruptedError) return error;
  if ((error as { code?: unknown }).code !== undefined) return error;
  return new RemoteInterruptedError(`${cluster}: file transfer cut off: ${error.message}`);
}

function firstLine(text: string): string {
  return text.trim().split('\n').find((l) => l.trim())?.trim() ?? '';
}

