// The local cluster as the baselines see it: the OpenSSH client (one new connection per command,
// what a script does), one already-open ssh2 connection, and Slurm commands run locally as root
// for housekeeping (cancelling the exact job ids a benchmark created).
import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import ssh2 from 'ssh2';
import type { Cleanup } from './cleanup.ts';

export const CONNECTION_FILE = process.env.LOCAL_CLUSTER_CONNECTION ?? '/var/lib/caesar-gateway/local-cluster/connection.json';

/** Every benchmark's files on the cluster live under this root, removed at the end. */
export const BENCH_REMOTE_ROOT = '/home/hpcuser/caesar-gateway-bench';

/** What the baselines submit: a job that does nothing, its output discarded. */
export const BASELINE_SBATCH = 'sbatch --parsable --job-name=bench-baseline --output=/dev/null --wrap=true';

export interface Connection {
  name: string;
  host: string;
  port: number;
  user: string;
  privateKeyPath: string;
  hostKey: string;
  remoteRoot: string;
  sfinderExecutable: string;
  [key: string]: unknown;
}

export function readConnection(): Connection {
  return JSON.parse(readFileSync(CONNECTION_FILE, 'utf8')) as Connection;
}

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a local program; resolves with its exit status whatever it is. With `stdoutFile` its
 *  stdout is that file, opened by us (as a shell's `> file` would). */
export function run(file: string, args: readonly string[], options: { stdoutFile?: string } = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const out = options.stdoutFile ? openSync(options.stdoutFile, 'w') : 'pipe';
    const child = spawn(file, args, { stdio: ['ignore', out, 'pipe'] });
    if (typeof out === 'number') closeSync(out);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({
      code, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'),
    }));
  });
}

/** The OpenSSH client, host key pinned through a known_hosts file of its own, no connection sharing. */
export class OpenSshClient {
  private readonly knownHosts: string;

  constructor(private readonly conn: Connection, workDir: string) {
    this.knownHosts = path.join(workDir, 'known_hosts');
    writeFileSync(this.knownHosts, `[${conn.host}]:${conn.port} ${conn.hostKey}\n`);
  }

  args(remoteCommand: string): string[] {
    const { conn } = this;
    return [
      '-i', conn.privateKeyPath, '-p', String(conn.port),
      '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${this.knownHosts}`,
      '-o', 'ControlMaster=no', '-o', 'ControlPath=none', '-o', 'LogLevel=ERROR',
      `${conn.user}@${conn.host}`, remoteCommand,
    ];
  }

  /** One command over a new SSH connection; stdout optionally straight into a local file. */
  run(remoteCommand: string, options: { stdoutFile?: string } = {}): Promise<ProcessResult> {
    return run('ssh', this.args(remoteCommand), options);
  }
}

/** One ssh2 connection kept open; commands run on channels of it. If the connection was lost
 *  (sshd restarted by another test), the next command opens a new one. */
export class OpenConnection {
  private client: ssh2.Client | undefined;

  private constructor(private readonly conn: Connection) {}

  static async open(conn: Connection): Promise<OpenConnection> {
    const open = new OpenConnection(conn);
    await open.connected();
    return open;
  }

  private async connected(): Promise<ssh2.Client> {
    if (this.client) return this.client;
    const { conn } = this;
    const client = new ssh2.Client();
    const pinned = Buffer.from(conn.hostKey.trim().split(/\s+/)[1] ?? '', 'base64');
    const ready = once(client, 'ready');
    client.connect({
      host: conn.host, port: conn.port, username: conn.user, privateKey: readFileSync(conn.privateKeyPath),
      hostVerifier: (key: Buffer) => key.equals(pinned), readyTimeout: 15_000,
    });
    await ready;
    // As the gateway does (src/remote/sshConnection.ts): without it, Nagle's algorithm holds
    // small SSH packets for a delayed ACK and every command pays up to 40 ms.
    client.setNoDelay(true);
    client.on('error', () => undefined);
    client.once('close', () => { if (this.client === client) this.client = undefined; });
    this.client = client;
    return client;
  }

  async exec(command: string): Promise<ProcessResult> {
    const client = await this.connected();
    return new Promise((resolve, reject) => {
      client.exec(command, (err, channel) => {
        if (err) return reject(err);
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        let code: number | null = null;
        channel.on('data', (chunk: Buffer) => stdout.push(chunk));
        channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
        channel.on('exit', (status: number | null) => { code = status; });
        channel.on('close', () => resolve({
          code, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'),
        }));
      });
    });
  }

  /** Run a command that must succeed; returns its stdout. */
  async check(command: string): Promise<string> {
    const result = await this.exec(command);
    if (result.code !== 0) throw new Error(`remote command failed (${result.code}): ${command.slice(0, 120)}: ${result.stderr.trim()}`);
    return result.stdout;
  }

  close(): void {
    this.client?.end();
    this.client = undefined;
  }
}

/** A job id from `sbatch --parsable` ("123" or "123;cluster"). */
export function parseJobId(stdout: string): string {
  const id = stdout.trim().split(';')[0] ?? '';
  if (!/^\d+$/.test(id)) throw new Error(`sbatch did not print a job id: ${JSON.stringify(stdout.slice(0, 200))}`);
  return id;
}

/** Cancel exactly these Slurm jobs (as root, locally). Jobs already over are fine. */
export async function cancelJobs(ids: Iterable<string>): Promise<void> {
  const all = [...new Set(ids)];
  for (let i = 0; i < all.length; i += 500) {
    await new Promise<void>((resolve) => {
      execFile('scancel', all.slice(i, i + 500), () => resolve());
    });
  }
}

/** Slurm jobs of other users or other tests that are in the queue right now (noise to report). */
export async function otherActiveJobs(exclude: ReadonlySet<string> = new Set()): Promise<number> {
  const result = await run('squeue', ['--noheader', '--format=%i']);
  return result.stdout.split('\n').filter((id) => id.trim() && !exclude.has(id.trim())).length;
}

/** Wait until sshd answers and slurmctld and slurmdbd do (other tests on this machine may be
 *  stopping daemons on purpose). Returns the seconds waited. */
export async function waitForCluster(timeoutMs = 180_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      const open = await OpenConnection.open(readConnection());
      try {
        await open.check('squeue --noheader >/dev/null && sacct --noheader -X --starttime=now-1minutes >/dev/null');
      } finally {
        open.close();
      }
      return (Date.now() - started) / 1000;
    } catch (err) {
      if (Date.now() - started > timeoutMs) throw new Error(`the local cluster is not answering: ${(err as Error).message}`, { cause: err });
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  }
}

/** Names the baselines give their Slurm jobs (the gateway's jobs are cg-<uuid>, run in BENCH_REMOTE_ROOT). */
export const BASELINE_JOB_NAMES = ['bench-baseline', 'bench-held', 'bench-diagnostic'];

/** Last resort after a run: cancel any job the benchmarks left (their names, or a working
 *  directory under BENCH_REMOTE_ROOT) and remove BENCH_REMOTE_ROOT. Needed when a daemon was
 *  down just when a benchmark cleaned up. */
export async function sweepCluster(): Promise<void> {
  const user = readConnection().user;
  // A loop still submitting on the cluster may add a job or two after the first pass.
  for (let pass = 0; pass < 3; pass += 1) {
    const queue = await run('squeue', ['--noheader', '--user', user, '--format=%i|%j|%Z']);
    const leftovers = queue.stdout.split('\n').map((line) => line.split('|')).filter(([id, name, dir]) =>
      id && (BASELINE_JOB_NAMES.includes(name ?? '') || (dir ?? '').startsWith(`${BENCH_REMOTE_ROOT}/`))).map(([id]) => id!);
    if (leftovers.length === 0 && pass > 0) break;
    await cancelJobs(leftovers);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  const open = await OpenConnection.open(readConnection());
  try {
    await open.check(`rm -rf ${BENCH_REMOTE_ROOT}`);
  } finally {
    open.close();
  }
}

/** Errors that mean a daemon (sshd, slurmctld, slurmdbd) was briefly away, not a slow gateway. */
const DAEMON_AWAY = /Connection refused|closed by remote host|Not connected|No response from server|Unable to contact slurm controller|connection lost|ECONNRESET|Connection reset/i;

/** Run one repetition; if a daemon went away under it (other tests on this machine restart them),
 *  wait for the cluster and run it again (twice at most), noting it in `notes`. */
export async function repeatIfDaemonAway<T>(label: string, notes: string[], work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (attempt >= 3 || !DAEMON_AWAY.test(message)) throw err;
      notes.push(`${label} was run again: a cluster daemon went away under it (${message.split('\n')[0]!.slice(0, 160)}).`);
      await waitForCluster();
    }
  }
}

/** An open connection for a benchmark; at clean-up the benchmark root on the cluster goes with it. */
export async function openBenchConnection(cleanup: Cleanup, conn: Connection = readConnection()): Promise<OpenConnection> {
  const open = await OpenConnection.open(conn);
  cleanup.defer('remove the benchmark root on the cluster', async () => {
    await open.exec(`rm -rf ${BENCH_REMOTE_ROOT}`);
    open.close();
  });
  return open;
}
