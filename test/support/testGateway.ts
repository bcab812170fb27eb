// A real gateway for integration tests: its own data directory and SQLite file (or, with
// CAESAR_TEST_DATABASE=postgres, its own database on the real PostgreSQL of scripts/postgres.sh),
// the real local cluster over the real sshd (from the connection file that
// scripts/local-cluster.sh writes), and a background cycle every second.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { loadConfig, type GatewayConfig } from '../../src/config.ts';
import { buildGateway, type Gateway } from '../../src/gateway.ts';
import { createLogger } from '../../src/logger.ts';
import { dropTestDatabaseFor, testDatabaseFor } from './postgres.ts';

export const API = '/caesar/api/v1.0';

export interface TestGateway {
  gateway: Gateway;
  config: GatewayConfig;
  base: string;
  url: (pathname: string) => string;
  stop(): Promise<void>;
}

export async function startTestGateway(overrides: Record<string, string> = {}): Promise<TestGateway> {
  const dataDir = overrides.CAESAR_GATEWAY_DATA_DIR ?? mkdtempSync(path.join(os.tmpdir(), 'caesar-gateway-test-'));
  const database = overrides.CAESAR_GATEWAY_DATABASE_URL ? undefined : await testDatabaseFor(dataDir);
  const config = loadConfig({
    ...(database ? { CAESAR_GATEWAY_DATABASE_URL: database.url } : {}),
    CAESAR_GATEWAY_DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    CAESAR_GATEWAY_POLL_SCHEDULE: '* * * * * *',
    CAESAR_GATEWAY_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...(process.env.LOCAL_CLUSTER_CONNECTION ? { LOCAL_CLUSTER_CONNECTION: process.env.LOCAL_CLUSTER_CONNECTION } : {}),
    ...overrides,
  });
  const gateway = await buildGateway(config, createLogger(config.logLevel));
  const server = await gateway.listen();
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return {
    gateway, config, base,
    url: (pathname) => `${base}${API}${pathname}`,
    async stop() {
      await gateway.stop();
      if (!overrides.CAESAR_GATEWAY_DATA_DIR) {
        rmSync(dataDir, { recursive: true, force: true });
        await dropTestDatabaseFor(dataDir);
      }
    },
  };
}

export async function uploadBytes(gw: Pick<TestGateway, 'url'>, bytes: Buffer, name: string, tag?: string): Promise<Response> {
  const form = new FormData();
  form.append('file', new Blob([bytes]), name);
  if (tag !== undefined) form.append('tag', tag);
  // Building a large body blocks this event loop for seconds, and with it the timers that close
  // idle keep-alive connections on both sides (the gateway's 5 s, fetch's own). Let those that are
  // overdue run first: else fetch may send on a connection the gateway closes at that very moment,
  // and the upload fails with ECONNRESET (seen once in CI with a 256 MiB body).
  await new Promise((resolve) => setTimeout(resolve, 1));
  return fetch(gw.url('/upload'), { method: 'POST', body: form });
}

export async function postJson(gw: Pick<TestGateway, 'url'>, pathname: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(gw.url(pathname), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

export interface StatusBody {
  job_id: string;
  state: string;
  status: string;
  exit_code: number | null;
  exit_status: number | null;
  elapsed_time: number | null;
  pid: string | null;
  output_available: boolean;
  slurm: { job_id: string | null; state: string | null; reason: string | null; exit_code: string | null };
}

export async function jobStatus(gw: Pick<TestGateway, 'url'>, jobId: string): Promise<StatusBody> {
  const res = await fetch(gw.url(`/job/${jobId}/status`));
  if (res.status !== 200) throw new Error(`status ${res.status} for job ${jobId}`);
  return (await res.json()) as StatusBody;
}

/** Poll the status endpoint until `done` holds (or fail with the last status seen). */
export async function waitForStatus(gw: Pick<TestGateway, 'url'>, jobId: string, done: (s: StatusBody) => boolean, timeoutMs = 90_000): Promise<StatusBody> {
  const deadline = Date.now() + timeoutMs;
  let last: StatusBody | undefined;
  while (Date.now() < deadline) {
    last = await jobStatus(gw, jobId);
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`job ${jobId} did not reach the expected state in ${timeoutMs} ms; last status: ${JSON.stringify(last)}`);
}

export const finishedWithOutput = (s: StatusBody) => s.output_available || ['ABORTED', 'CLEARED'].includes(s.state);

/** A configuration with the local cluster plus one that can never be reached (a closed port):
 *  jobs sent there stay PENDING, waiting for the cluster — a real outage, not a mock. */
export function configWithUnreachableCluster(dir: string): string {
  const connectionFile = process.env.LOCAL_CLUSTER_CONNECTION ?? '/var/lib/caesar-gateway/local-cluster/connection.json';
  const local = JSON.parse(readFileSync(connectionFile, 'utf8')) as Record<string, unknown>;
  const file = path.join(dir, 'gateway.json');
  writeFileSync(file, JSON.stringify({ clusters: [local, { ...local, name: 'offline', port: 1 }], defaultCluster: 'local' }));
  return file;
}
