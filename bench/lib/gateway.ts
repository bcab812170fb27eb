// Gateways under test. A child process (`scripts/start-gateway.sh`, as `npm start` runs it)
// for everything measured over HTTP, so the load generator does not share its event loop and its
// memory can be read from /proc; an in-process gateway where a benchmark drives the poller or the
// collector directly. Both get a fresh data directory and a cluster whose remote root is the
// benchmark's own (BENCH_REMOTE_ROOT), so clean-up is one `rm -rf` on each side.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpuSeconds, memory, resetPeak } from './proc.ts';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config.ts';
import { buildGateway, type Gateway } from '../../src/gateway.ts';
import { createLogger } from '../../src/logger.ts';
import type { Cleanup } from './cleanup.ts';
import { BENCH_REMOTE_ROOT, readConnection } from './cluster.ts';
import { sleep } from './stats.ts';
import { spawnGateway } from '../../test/support/gatewayLauncher.ts';

/** Every child process started here; killed if the benchmark process itself exits abruptly. */
const children = new Set<ChildProcess>();
process.on('exit', () => { for (const child of children) child.kill('SIGKILL'); });

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const API = '/caesar/api/v1.0';

export function benchTempDir(cleanup: Cleanup, label: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `caesar-bench-${label}-`));
  cleanup.defer(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A gateway configuration file: the local cluster, with the benchmark's remote root. */
function writeConfig(dir: string, cluster: Record<string, unknown>, extra: Record<string, unknown>): string {
  const file = path.join(dir, 'gateway.json');
  writeFileSync(file, JSON.stringify({ clusters: [{ ...readConnection(), remoteRoot: BENCH_REMOTE_ROOT, ...cluster }], ...extra }, null, 2));
  return file;
}

export interface GatewayOptions {
  /** Cluster settings over the local cluster's (e.g. sfinderExecutable). */
  cluster?: Record<string, unknown>;
  /** Top-level configuration keys. */
  config?: Record<string, unknown>;
  /** Environment overrides (CAESAR_GATEWAY_*). */
  env?: Record<string, string>;
}

export interface LogLine {
  time: number;
  msg: string;
  job?: string;
  slurmJobId?: string;
  [key: string]: unknown;
}

export class GatewayProcess {
  /** `logFile`: the gateway's stdout, JSON log lines (pino, info level by default). */
  constructor(readonly child: ChildProcess, readonly base: string, readonly logFile: string, readonly databaseFile: string) {}

  get pid(): number {
    return this.child.pid!;
  }

  url(pathname: string): string {
    return `${this.base}${API}${pathname}`;
  }

  /** The log lines written so far. */
  logs(): LogLine[] {
    return parseLogLines(readFileSync(this.logFile, 'utf8'));
  }

  async metrics(): Promise<string> {
    const res = await fetch(`${this.base}/metrics`);
    return res.text();
  }

  /** Every Slurm command the gateway ran so far (the caesar_slurm_commands_total counter). */
  async slurmCommandCount(): Promise<number> {
    return metricSum(await this.metrics(), 'caesar_slurm_commands_total');
  }

  memory(): { rss: number; peak: number } {
    return memory(this.pid);
  }

  resetPeak(): void {
    resetPeak(this.pid);
  }

  cpuSeconds(): number {
    return cpuSeconds(this.pid);
  }
}

function parseLogLines(text: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      // a line still being written
    }
  }
  return lines;
}

/** Sum of a Prometheus metric's samples whose labels contain every `labels` pair. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Start the gateway (scripts/start-gateway.sh) in a child process on a free port; stopped
 *  (SIGTERM) at clean-up. Its stdout (the JSON logs) goes to a file, so reading it costs the
 *  benchmark process nothing. */
export async function startGatewayProcess(cleanup: Cleanup, options: GatewayOptions = {}): Promise<GatewayProcess> {
  const dataDir = benchTempDir(cleanup, 'gateway');
  const configFile = writeConfig(dataDir, options.cluster ?? {}, options.config ?? {});
  const logFile = path.join(dataDir, 'gateway.log');
  const out = openSync(logFile, 'w');
  const child = spawnGateway({
    ...process.env,
    PORT: '0', HOST: '127.0.0.1', CAESAR_GATEWAY_DATA_DIR: path.join(dataDir, 'var'), CAESAR_GATEWAY_CONFIG: configFile,
    CAESAR_GATEWAY_LOG_LEVEL: 'info', ...options.env,
  }, ['ignore', out, 'pipe']);
  closeSync(out);
  track(child);
  cleanup.defer(`stop gateway ${child.pid}`, () => stopChild(child));
  const stderr: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => { if (stderr.length < 50) stderr.push(chunk.toString()); });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway exited (${child.exitCode}) before listening: ${stderr.join('')}`);
    const listening = parseLogLines(readFileSync(logFile, 'utf8')).find((l) => l.msg.startsWith('caesar-gateway listening'));
    if (listening && typeof listening.port === 'number') return new GatewayProcess(child, `http://127.0.0.1:${listening.port}`, logFile, path.join(dataDir, 'var', 'gateway.sqlite3'));
    if (Date.now() > deadline) throw new Error(`gateway did not start in 60 s: ${stderr.join('')}`);
    await sleep(50);
  }
}

/** A baseline server (bench/<script>.ts) in its own child process; it prints {"port": N} once listening. */
export async function startHelperServer(cleanup: Cleanup, script: string, env: Record<string, string>): Promise<{ port: number; pid: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env },
  });
  track(child);
  cleanup.defer(`stop ${script}`, () => stopChild(child));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${script} exited (${code}) before listening`)));
    child.stdout.once('data', (chunk: Buffer) => resolve((JSON.parse(chunk.toString().split('\n')[0]!) as { port: number }).port));
  });
  return { port, pid: child.pid! };
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

export interface InProcessGateway {
  gateway: Gateway;
  base: string;
  url: (pathname: string) => string;
}

/** buildGateway() in this process, served by a plain http server: no cron, the benchmark runs
 *  the poller and the collector itself. */
export async function startInProcessGateway(cleanup: Cleanup, options: GatewayOptions = {}): Promise<InProcessGateway> {
  const dataDir = benchTempDir(cleanup, 'inproc');
  const config = loadConfig({
    CAESAR_GATEWAY_DATA_DIR: path.join(dataDir, 'var'), PORT: '0', HOST: '127.0.0.1',
    CAESAR_GATEWAY_CONFIG: writeConfig(dataDir, options.cluster ?? {}, options.config ?? {}),
    CAESAR_GATEWAY_LOG_LEVEL: 'warn', ...options.env,
  });
  const gateway = await buildGateway(config, createLogger(config.logLevel));
  cleanup.defer('stop in-process gateway', () => gateway.stop());
  const handler = gateway.app.callback();
  const server = http.createServer((req, res) => { void handler(req, res); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanup.defer('close in-process http server', () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { gateway, base, url: (pathname) => `${base}${API}${pathname}` };
}
