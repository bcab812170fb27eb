// A /bin/sh kept running on the cluster, fed one command at a time over its stdin. Each exec
// channel costs a round of SSH requests plus sshd's session set-up and the login shell's start
// (≈ 10–50 ms on the local cluster, more than sbatch itself), so latency-sensitive commands run
// here instead. Commands run one after another, each in its own subshell with stdin from
// /dev/null: a `cd`, a variable or an `exit` cannot leak into the next, and nothing can read
// the command stream. After every command the shell prints a marker with a per-command random
// nonce, on stdout with the exit status and on stderr, so output is split without guessing.
// Any doubt (timeout, lost channel) ends the shell; the next command starts a new one.
import { randomBytes } from 'node:crypto';
import type ssh2 from 'ssh2';
import { RemoteInterruptedError, RemoteTimeoutError, summarizeCommand } from './errors.ts';
import type { ExecOptions, ExecResult } from './sshConnection.ts';

type ClientChannel = ssh2.ClientChannel;

interface Pending {
  marker: string;
  maxOutputBytes: number;
  stdout: Buffer;
  stderr: Buffer;
  settle(result: ExecResult | Error): void;
}

const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;

export class ResidentShell {
  private channel: ClientChannel | undefined;
  private opening: Promise<ClientChannel> | undefined;
  private pending: Pending | undefined;
  /** Commands wait here for their turn: one at a time on the shell. */
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * @param open starts the shell: an exec channel running a POSIX shell that reads commands
   *             from stdin (the caller's hermetic prelude followed by `exec /bin/sh -s`).
   */
  constructor(private readonly name: string, private readonly open: () => Promise<ClientChannel>) {}

  run(script: string, options: ExecOptions): Promise<ExecResult> {
    const turn = this.queue.then(() => this.runNow(script, options));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /** Ends the shell (it exits at end of input); a running command is reported as interrupted. */
  close(): void {
    const channel = this.channel;
    this.channel = undefined;
    channel?.end();
  }

  private async runNow(script: string, options: ExecOptions): Promise<ExecResult> {
    const channel = await this.started();
    const marker = `__caesar_gateway_done_${randomBytes(12).toString('hex')}`;
    return new Promise<ExecResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.abandon(channel, new RemoteTimeoutError(`${this.name}: no answer within ${options.timeoutMs} ms from: ${summarizeCommand(script)}`));
      }, options.timeoutMs);
      this.pending = {
        marker, maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0),
        settle: (outcome) => {
          clearTimeout(timer);
          this.pending = undefined;
          if (outcome instanceof Error) reject(outcome);
          else resolve(outcome);
        },
      };
      // The newline before the markers puts them at the start of a line whatever the command printed.
      channel.write(`(\n${script}\n) </dev/null\nprintf '\\n%s %d\\n' ${marker} $?\nprintf '\\n%s\\n' ${marker} >&2\n`);
    });
  }

  private started(): Promise<ClientChannel> {
    if (this.channel) return Promise.resolve(this.channel);
    this.opening ??= this.open().then((channel) => {
      this.channel = channel;
      channel.on('data', (chunk: Buffer) => this.received('stdout', chunk));
      channel.stderr.on('data', (chunk: Buffer) => this.received('stderr', chunk));
      // 'exit' comes as soon as the shell is gone; 'close' may wait for an orphaned command still
      // holding its output open. Either way the shell is finished for us.
      const ended = () => {
        if (this.channel === channel) this.channel = undefined;
        this.pending?.settle(new RemoteInterruptedError(`${this.name}: the cluster shell ended while a command was running`));
        channel.close();
      };
      channel.once('exit', ended);
      channel.once('close', ended);
      return channel;
    }).finally(() => { this.opening = undefined; });
    return this.opening;
  }

  private received(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    const pending = this.pending;
    if (!pending) return; // output after a command was abandoned: the shell is closing
    pending[stream] = Buffer.concat([pending[stream], chunk]);
    if (pending.stdout.length + pending.stderr.length > pending.maxOutputBytes && this.channel) {
      // A runaway command must not exhaust our memory, and its marker is still to come: give up on it.
      this.abandon(this.channel, new RemoteInterruptedError(`${this.name}: more than ${pending.maxOutputBytes} bytes of output; command abandoned`));
      return;
    }
    const stdoutEnd = pending.stdout.indexOf(`\n${pending.marker} `);
    const stderrEnd = pending.stderr.indexOf(`\n${pending.marker}\n`);
    if (stdoutEnd < 0 || stderrEnd < 0) return;
    const statusLine = pending.stdout.subarray(stdoutEnd + pending.marker.length + 2).toString('utf8');
    const newline = statusLine.indexOf('\n');
    if (newline < 0) return; // the status is still on its way
    pending.settle({
      code: Number(statusLine.slice(0, newline)),
      signal: null,
      stdout: pending.stdout.subarray(0, stdoutEnd).toString('utf8'),
      stderr: pending.stderr.subarray(0, stderrEnd).toString('utf8'),
    });
  }

  private abandon(channel: ClientChannel, error: Error): void {
    if (this.channel === channel) this.channel = undefined;
    this.pending?.settle(error);
    channel.close();
  }
}
