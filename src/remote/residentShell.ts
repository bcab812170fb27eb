// A /bin/sh kept running on the cluster, fed commands over its stdin. Each exec channel costs a
// round of SSH requests plus sshd's session set-up and the login shell's start (≈ 10–50 ms on the
// local cluster, more than sbatch itself), so latency-sensitive commands run here instead.
//
// Commands run one after another, each in its own subshell with stdin from /dev/null: a `cd`, a
// variable or an `exit` cannot leak into the next, and nothing can read the command stream.
// After every command the shell prints a marker with a per-command random nonce, on stdout with
// the exit status and on stderr, so output is split without guessing. A command is written as
// soon as it is issued, without waiting for the answers to the ones before it (the shell runs
// them in order anyway), so a command issued right behind another saves a round trip.
// Any doubt (timeout, lost channel) ends the shell, and every command written to it is reported
// as interrupted; the next command starts a new shell.
import { randomBytes } from 'node:crypto';
import type ssh2 from 'ssh2';
import { RemoteInterruptedError, RemoteTimeoutError, summarizeCommand } from './errors.ts';
import type { ExecOptions, ExecResult } from './sshConnection.ts';

type ClientChannel = ssh2.ClientChannel;

export interface ResidentRunOptions extends ExecOptions {
  /** Keep the command's exit status in the shell under this name, for a later `onlyIf`. */
  keepStatusAs?: string;
  /** Run only if the command kept as this name exited 0 in this same shell; otherwise (it failed,
   *  or the shell was restarted in between) exit with NOT_RUN_STATUS and run nothing. */
  onlyIf?: string;
}

/** The exit status of an `onlyIf` command that did not run. */
export const NOT_RUN_STATUS = 125;

/** Names of kept statuses become shell variables: letters, digits and underscores only. */
const STATUS_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

interface Pending {
  marker: string;
  maxOutputBytes: number;
  timer: NodeJS.Timeout;
  settle(result: ExecResult | Error): void;
}

const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;

export class ResidentShell {
  private channel: ClientChannel | undefined;
  private opening: Promise<ClientChannel> | undefined;
  /** Commands written to the current shell and not yet answered, oldest first. */
  private written: Pending[] = [];
  /** Output of the shell not yet handed to a command: the oldest pending command's, so far. */
  private stdout = Buffer.alloc(0);
  private stderr = Buffer.alloc(0);
  /** Writes wait here for their turn, so commands reach the shell in the order they were issued. */
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * @param open starts the shell: an exec channel running a POSIX shell that reads commands
   *             from stdin (the caller's hermetic prelude followed by `exec /bin/sh -s`).
   */
  constructor(private readonly name: string, private readonly open: () => Promise<ClientChannel>) {}

  run(script: string, options: ResidentRunOptions): Promise<ExecResult> {
    for (const name of [options.keepStatusAs, options.onlyIf]) {
      if (name !== undefined && !STATUS_NAME.test(name)) throw new Error(`invalid status name ${JSON.stringify(name)}`);
    }
    return new Promise<ExecResult>((resolve, reject) => {
      const settle = (outcome: ExecResult | Error) => (outcome instanceof Error ? reject(outcome) : resolve(outcome));
      const turn = this.queue.then(() => this.write(script, options, settle));
      this.queue = turn.catch((err: unknown) => settle(err as Error));
    });
  }

  /** Ends the shell (it exits at end of input); commands still running are reported as interrupted. */
  close(): void {
    const channel = this.channel;
    if (!channel) return;
    this.channel = undefined;
    this.failWritten(new RemoteInterruptedError(`${this.name}: the cluster shell was closed while a command was running`));
    channel.end();
  }

  private async write(script: string, options: ResidentRunOptions, settle: Pending['settle']): Promise<void> {
    const channel = await this.started();
    const marker = `__caesar_gateway_done_${randomBytes(12).toString('hex')}`;
    const pending: Pending = {
      marker,
      maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT,
      // From the write, so it includes the wait for the commands written before it.
      timer: setTimeout(() => {
        this.abandon(channel, new RemoteTimeoutError(`${this.name}: no answer within ${options.timeoutMs} ms from: ${summarizeCommand(script)}`), pending);
      }, options.timeoutMs),
      settle: (outcome) => {
        clearTimeout(pending.timer);
        settle(outcome);
      },
    };
    this.written.push(pending);
    channel.write(wrapped(script, marker, options));
  }

  private started(): Promise<ClientChannel> {
    if (this.channel) return Promise.resolve(this.channel);
    this.opening ??= this.open().then((channel) => {
      this.channel = channel;
      this.stdout = Buffer.alloc(0);
      this.stderr = Buffer.alloc(0);
      channel.on('data', (chunk: Buffer) => this.received(channel, 'stdout', chunk));
      channel.stderr.on('data', (chunk: Buffer) => this.received(channel, 'stderr', chunk));
      // 'exit' comes as soon as the shell is gone; 'close' may wait for an orphaned command still
      // holding its output open. Either way the shell is finished for us.
      const ended = () => this.abandon(channel, new RemoteInterruptedError(`${this.name}: the cluster shell ended while a command was running`));
      channel.once('exit', ended);
      channel.once('close', ended);
      return channel;
    }).finally(() => { this.opening = undefined; });
    return this.opening;
  }

  private received(channel: ClientChannel, stream: 'stdout' | 'stderr', chunk: Buffer): void {
    if (channel !== this.channel) return; // output after the shell was abandoned: it is closing
    this[stream] = Buffer.concat([this[stream], chunk]);
    // Every complete answer in what has arrived, oldest command first.
    for (let pending = this.written[0]; pending; pending = this.written[0]) {
      if (this.stdout.length + this.stderr.length > pending.maxOutputBytes) {
        // A runaway command must not exhaust our memory, and its marker is still to come: give up on it.
        this.abandon(channel, new RemoteInterruptedError(`${this.name}: more than ${pending.maxOutputBytes} bytes of output; command abandoned`), pending);
        return;
      }
      const stdoutEnd = this.stdout.indexOf(`\n${pending.marker} `);
      const stderrEnd = this.stderr.indexOf(`\n${pending.marker}\n`);
      if (stdoutEnd < 0 || stderrEnd < 0) return;
      const statusStart = stdoutEnd + pending.marker.length + 2;
      const statusEnd = this.stdout.indexOf('\n', statusStart);
      if (statusEnd < 0) return; // the status is still on its way
      const result: ExecResult = {
        code: Number(this.stdout.subarray(statusStart, statusEnd).toString('latin1')),
        signal: null,
        stdout: this.stdout.subarray(0, stdoutEnd).toString('utf8'),
        stderr: this.stderr.subarray(0, stderrEnd).toString('utf8'),
      };
      // What follows belongs to the next command.
      this.stdout = this.stdout.subarray(statusEnd + 1);
      this.stderr = this.stderr.subarray(stderrEnd + pending.marker.length + 2);
      this.written.shift();
      pending.settle(result);
    }
  }

  /**
   * Ends the shell. `culprit` (the command that timed out or printed too much) fails with `error`;
   * every other command written to the shell fails as interrupted: whether it ran is unknown.
   */
  private abandon(channel: ClientChannel, error: Error, culprit?: Pending): void {
    channel.close();
    // A shell closed or abandoned earlier, reporting its end late: its commands were settled then.
    if (this.channel !== channel) return;
    this.channel = undefined;
    this.failWritten(error, culprit);
  }

  private failWritten(error: Error, culprit?: Pending): void {
    const failed = this.written;
    this.written = [];
    for (const pending of failed) {
      pending.settle(pending === culprit || !culprit ? error
        : new RemoteInterruptedError(`${this.name}: the cluster shell was abandoned before this command's answer (${error.message})`));
    }
  }
}

/**
 * The command as the shell reads it: in a subshell without stdin, followed by the markers. The
 * newline before each marker puts it at the start of a line whatever the command printed.
 */
function wrapped(script: string, marker: string, options: ResidentRunOptions): string {
  const subshell = `(\n${script}\n) </dev/null`;
  const markers = (status: string) => `printf '\\n%s %d\\n' ${marker} ${status}\nprintf '\\n%s\\n' ${marker} >&2\n`;
  if (options.onlyIf !== undefined) {
    const kept = `caesar_status_${options.onlyIf}`;
    // The kept status is used once: unset, so that a later command cannot run on it again.
    return `if [ "\${${kept}:-}" = 0 ]; then ${subshell}; else (exit ${NOT_RUN_STATUS}); fi\n` +
      `caesar_status_now=$?; unset ${kept}\n${markers('"$caesar_status_now"')}`;
  }
  if (options.keepStatusAs !== undefined) {
    const kept = `caesar_status_${options.keepStatusAs}`;
    return `${subshell}\n${kept}=$?\n${markers(`"$${kept}"`)}`;
  }
  return `${subshell}\n${markers('$?')}`;
}
