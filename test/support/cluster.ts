// Direct access to the local cluster for tests that set the scene (jobs in given states, daemons
// stopped): as the cluster user over the real sshd, or as root on this machine. Asynchronous,
// because the gateway under test runs in the same process and must keep answering.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { SshConnection } from '../../src/remote/sshConnection.ts';

const run = promisify(execFile);

export interface Connection {
  host: string;
  port: number;
  user: string;
  privateKeyPath: string;
  hostKey: string;
  slurmNode: string;
  /** Where the gateway keeps its files on the cluster (inputs/, jobs/). */
  remoteRoot: string;
}

export function connection(): Connection {
  const file = process.env.LOCAL_CLUSTER_CONNECTION ?? '/var/lib/caesar-gateway/local-cluster/connection.json';
  return JSON.parse(readFileSync(file, 'utf8')) as Connection;
}

/** The gateway's own SSH connection class, to the local cluster as its user (tests that drive a
 *  scheduler or a shell without a whole gateway). Silent logger; `maxChannels` 8 unless given. */
export function clusterSshConnection(name: string, maxChannels = 8): SshConnection {
  const c = connection();
  return new SshConnection({
    name, host: c.host, port: c.port, username: c.user, privateKey: readFileSync(c.privateKeyPath),
    hostKey: c.hostKey, maxChannels, keepaliveIntervalMs: 10_000, logger: pino({ level: 'silent' }),
  });
}

/** Run a shell command on the cluster as its user, through the real sshd. */
export async function asClusterUser(command: string): Promise<string> {
  const c = connection();
  const { stdout } = await run('ssh', [
    '-i', c.privateKeyPath, '-p', String(c.port), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', `${c.user}@${c.host}`, command,
  ]);
  return stdout.trim();
}

/** A Slurm command as root on this machine (scontrol, sacct, scancel). */
export async function asRoot(command: string, args: string[]): Promise<string> {
  const { stdout } = await run(command, args, { env: { ...process.env, SLURM_TIME_FORMAT: '%s', LC_ALL: 'C' } });
  return stdout.trim();
}

export async function slurmState(jobId: string): Promise<string> {
  return (await asRoot('sacct', ['-X', '-n', '-P', '-j', jobId, '--format=State'])).split('\n')[0] ?? '';
}

/** All allocations Slurm has for a job name (the gateway names its jobs cg-<job id>). */
export async function slurmJobsNamed(name: string): Promise<Array<{ id: string; state: string; exitCode: string }>> {
  const out = await asRoot('sacct', ['-X', '-n', '-P', '--name', name, '-S', 'now-1days', '--format=JobIDRaw,State,ExitCode']);
  return out.split('\n').filter(Boolean).map((line) => {
    const [id = '', state = '', exitCode = ''] = line.split('|');
    return { id, state, exitCode };
  });
}

const clusterScript = fileURLToPath(new URL('../../scripts/local-cluster.sh', import.meta.url));

/** Stop or start one daemon of the local cluster, as the cluster script does. */
export async function daemon(action: 'stop' | 'start', name: 'sshd' | 'slurmctld' | 'slurmdbd' | 'slurmd'): Promise<void> {
  await run('bash', [clusterScript, `${action}-daemon`, name]);
}

/** Cut the SSH sessions already open to the cluster (stopping sshd alone leaves them running). */
export async function dropSshSessions(): Promise<void> {
  const c = connection();
  await run('pkill', ['-f', `sshd: ${c.user}`]).catch(() => undefined);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(500);
  }
}
