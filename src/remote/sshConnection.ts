// One long-lived SSH connection per cluster, shared by every command: connecting costs ~120 ms
// and each extra connection is another login the site may count against us. Channels are
// bounded (OpenSSH's MaxSessions is 10), keepalive is on (ssh2 leaves it off), reconnects back
// off with jitter (sites ban hosts that log in too often), and the host key is pinned.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import ssh2 from 'ssh2';
import type { Logger } from 'pino';
import { Semaphore } from './semaphore.ts';
import { hostKeyMatcher, fingerprint } from './hostKey.ts';
import {
  HostKeyMismatchError, RemoteInterruptedError, RemoteTimeoutError, RemoteUnreachableError, summarizeCommand,
} from './errors.ts';

const { Client } = ssh2;
type SshClient = InstanceType<typeof Client>;
type ClientChannel = ssh2.ClientChannel;
export type Sftp = ssh2.SFTPWrapper;

export interface SshConnectionOptions {
  name: string;
  host: string;
  port: number;
  username: string;
  privateKey: Buffer;
  hostKey: string;
  maxChannels: number;
  keepaliveIntervalMs: number;
  connectTimeoutMs?: number;
  logger: Logger;
}

interface ExitStatus {
  code: number | null;
  signal: string | null;
}

export interface ExecResult extends ExitStatus {
  stdout: string;
  stderr: string;
}

/** An exec channel, with its exit status once the command has ended. */
interface StartedCommand {
  channel: ClientChannel;
  exit: ExitStatus | undefined;
}

export interface ExecOptions {
  timeoutMs: number;
  /** Output beyond this is dropped (a runaway command must not exhaust our memory). */
  maxOutputBytes?: number;
}

export interface SshStats {
  connects: number;
  reconnects: number;
  channelsInUse: number;
  channelsQueued: number;
}

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 60_000;

export class SshConnection {
  private client: SshClient | undefined;
  private connecting: Promise<SshClient> | undefined;
  private readonly channels: Semaphore;
  private readonly acceptsHostKey: (key: Buffer) => boolean;
  private failures = 0;
  private retryNotBefore = 0;
  private lastError: Error | undefined;
  private closed = false;
  private connects = 0;

  constructor(private readonly options: SshConnectionOptions) {
    // One channel is set aside for a resident shell (openResidentChannel).
    this.channels = new Semaphore(Math.max(1, options.maxChannels - 1));
    this.acceptsHostKey = hostKeyMatcher(options.hostKey);
  }

  get stats(): SshStats {
    return {
      connects: this.connects,
      reconnects: Math.max(0, this.connects - 1),
      channelsInUse: this.channels.inUse,
      channelsQueued: this.channels.queued,
    };
  }

  get isConnected(): boolean {
    return this.client !== undefined;
  }

  /** Run a shell command string; resolves with its exit status whatever it is. */
  async exec(command: string, options: ExecOptions): Promise<ExecResult> {
    return this.channels.with(async () => {
      const started = await this.openExec(command);
      const { channel } = started;
      const limit = options.maxOutputBytes ?? 16 * 1024 * 1024;
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let kept = 0;
      const keep = (into: Buffer[]) => (chunk: Buffer) => {
        if (kept >= limit) return;
        into.push(chunk);
        kept += chunk.length;
      };
      channel.on('data', keep(stdout));
      channel.stderr.on('data', keep(stderr));
      const { code, signal } = await this.awaitExit(started, command, options.timeoutMs);
      return {
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      };
    });
  }

  /** Run a command whose stdout is piped into `sink` (e.g. `tar -cz` into a local file). */
  async execToStream(command: string, sink: Writable, options: ExecOptions): Promise<ExecResult & { bytes: number }> {
    return this.channels.with(async () => {
      const started = await this.openExec(command);
      const { channel } = started;
      let bytes = 0;
      const stderr: Buffer[] = [];
      channel.on('data', (chunk: Buffer) => { bytes += chunk.length; });
      channel.stderr.on('data', (chunk: Buffer) => { if (stderr.length < 256) stderr.push(chunk); });
      channel.pipe(sink, { end: false });
      // The sink may refuse more data (a size limit, a full disk): stop the remote command too.
      let sinkError: Error | undefined;
      sink.once('error', (err: Error) => {
        sinkError = err;
        channel.unpipe(sink);
        // Keep reading (and dropping) so the channel can finish closing instead of stalling
        // on a full flow-control window.
        channel.resume();
        channel.close();
      });
      const exit = await this.awaitExit(started, command, options.timeoutMs).catch((err: unknown) => {
        if (sinkError) throw sinkError;
        throw err;
      });
      if (sinkError) throw sinkError;
      const { code, signal } = exit;
      sink.end();
      await once(sink, 'finish');
      return { code, signal, stdout: '', stderr: Buffer.concat(stderr).toString('utf8'), bytes };
    });
  }

  /** Open an SFTP session for a batch of operations, inside the channel budget. */
  async withSftp<T>(work: (sftp: Sftp) => Promise<T>): Promise<T> {
    return this.channels.with(async () => {
      const client = await this.connected();
      const sftp = await new Promise<Sftp>((resolve, reject) => {
        client.sftp((err, session) => (err ? reject(new RemoteUnreachableError(`sftp: ${err.message}`)) : resolve(session)));
      });
      // ssh2 leaves a transfer in flight (fastPut) unsettled when the connection is reset under
      // it (seen here: sessions cut by the cluster mid-transfer): the connection's end settles it.
      let stopWatching = () => {};
      const lost = new Promise<never>((_resolve, reject) => {
        const onClose = () => reject(new RemoteInterruptedError(`${this.options.name}: connection lost during a file transfer`));
        client.once('close', onClose);
        stopWatching = () => client.off('close', onClose);
      });
      try {
        return await Promise.race([work(sftp), lost]);
      } finally {
        stopWatching();
        sftp.end();
      }
    });
  }

  /**
   * Open a long-lived exec channel (a ResidentShell's), outside the per-command budget: it uses
   * the channel the constructor set aside. It closes with the connection.
   */
  async openResidentChannel(command: string): Promise<ClientChannel> {
    return (await this.openExec(command)).channel;
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    const closedEvent = once(client, 'close').catch(() => undefined);
    client.end();
    await Promise.race([closedEvent, new Promise((r) => setTimeout(r, 2000).unref())]);
  }

  private async openExec(command: string): Promise<StartedCommand> {
    const client = await this.connected();
    return new Promise<StartedCommand>((resolve, reject) => {
      client.exec(command, (err, channel) => {
        // The request was refused before the command ran (e.g. too many sessions): safe to retry.
        if (err) {
          reject(new RemoteUnreachableError(`${this.options.name}: cannot open channel: ${err.message}`));
          return;
        }
        // Listen for the exit status here, not after an await: when the loop is busy, a fast
        // command's whole answer (exec accepted, output, exit status, close) is parsed in one
        // go, and ssh2 emits 'exit' right away, with no one yet listening. Output and 'close'
        // wait in the stream until read, so they are not lost.
        const started: StartedCommand = { channel, exit: undefined };
        channel.once('exit', (code: number | null, signal?: string) => { started.exit = { code, signal: signal ?? null }; });
        resolve(started);
      });
    });
  }

  private awaitExit(started: StartedCommand, command: string, timeoutMs: number): Promise<ExitStatus> {
    const { channel } = started;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        channel.close();
        reject(new RemoteTimeoutError(`${this.options.name}: no answer within ${timeoutMs} ms from: ${summarizeCommand(command)}`));
      }, timeoutMs);
      // 'close' comes after all output. If the connection died first, there is no exit status
      // and the command's outcome is unknown.
      channel.on('close', () => {
        clearTimeout(timer);
        if (started.exit) resolve(started.exit);
        else reject(new RemoteInterruptedError(`${this.options.name}: connection lost while running: ${summarizeCommand(command)}`));
      });
    });
  }

  private connected(): Promise<SshClient> {
    if (this.closed) return Promise.reject(new RemoteUnreachableError(`${this.options.name}: connection closed`));
    if (this.client) return Promise.resolve(this.client);
    if (this.connecting) return this.connecting;
    const now = Date.now();
    if (now < this.retryNotBefore) {
      const wait = this.retryNotBefore - now;
      return Promise.reject(new RemoteUnreachableError(
        `${this.options.name}: unreachable (${this.lastError?.message ?? 'unknown error'}); next attempt in ${wait} ms`,
      ));
    }
    this.connecting = this.connect().finally(() => { this.connecting = undefined; });
    return this.connecting;
  }

  private connect(): Promise<SshClient> {
    const { name, host, port, username, privateKey, keepaliveIntervalMs, logger } = this.options;
    const client = new Client();
    let presentedKey: Buffer | undefined;
    return new Promise<SshClient>((resolve, reject) => {
      const fail = (err: Error) => {
        const mismatch = presentedKey !== undefined && !this.acceptsHostKey(presentedKey);
        const error = mismatch
          ? new HostKeyMismatchError(`${name}: host key ${fingerprint(presentedKey!)} does not match the pinned key — refusing to connect`)
          : new RemoteUnreachableError(`${name}: cannot connect to ${host}:${port}: ${err.message}`);
        this.noteFailure(error);
        client.end();
        reject(error);
      };
      client.once('ready', () => {
        client.removeListener('error', fail);
        this.failures = 0;
        this.connects += 1;
        this.client = client;
        // Commands and their answers are small packets: with Nagle's algorithm on (ssh2's
        // default), each can wait for the peer's delayed ACK, adding up to 40 ms per command.
        client.setNoDelay(true);
        client.on('error', (err: Error) => logger.warn({ cluster: name, err: err.message }, 'ssh connection error'));
        client.once('close', () => {
          if (this.client === client) this.client = undefined;
          logger.info({ cluster: name }, 'ssh connection closed');
        });
        logger.info({ cluster: name, host, port, connects: this.connects }, 'ssh connected');
        resolve(client);
      });
      client.once('error', fail);
      client.connect({
        host,
        port,
        username,
        privateKey,
        readyTimeout: this.options.connectTimeoutMs ?? 15_000,
        keepaliveInterval: keepaliveIntervalMs,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          presentedKey = key;
          return this.acceptsHostKey(key);
        },
      });
    });
  }

  private noteFailure(error: Error): void {
    this.failures += 1;
    this.lastError = error;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (this.failures - 1));
    this.retryNotBefore = Date.now() + base / 2 + Math.random() * (base / 2);
    this.options.logger.warn({ cluster: this.options.name, failures: this.failures, err: error.message }, 'ssh connect failed');
  }
}

