// 3. Status reads: requests/s and p50/p99 latency of GET /job/<id>/status under 64 concurrent
// connections (autocannon), against a bare Koa handler returning the same JSON, and the number
// of Slurm commands the reads caused (the gateway answers from its database).
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { DEFAULT_STATUS_CACHE_MS } from '../src/config.ts';
import { openDatabase } from '../src/db/database.ts';
import { JobRepository } from '../src/jobs/jobRepository.ts';
import { ApiClient } from './lib/api.ts';
import { withCleanup } from './lib/cleanup.ts';
import { openBenchConnection, cancelJobs } from './lib/cluster.ts';
import { tinyFits } from './lib/fits.ts';
import { startGatewayProcess, startHelperServer } from './lib/gateway.ts';
import { figure, type Benchmark, type BenchmarkBody } from './lib/report.ts';
import { cpuSeconds } from './lib/proc.ts';
import { fmt, nowMs } from './lib/stats.ts';
import { benchConfig } from './config.ts';

const settings = benchConfig.status;

interface Load {
  rps: number;
  p50: number;
  p99: number;
  failures: number;
  /** The server's CPU use during the run, in cores (1 = one core busy all the time). */
  cores: number;
}

async function load(server: { url: string; pid: number }, seconds: number): Promise<Load> {
  const cpuBefore = cpuSeconds(server.pid);
  const result = await autocannon({ url: server.url, connections: settings.connections, duration: seconds });
  return {
    rps: result['2xx'] / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failures: result.non2xx + result.errors,
    cores: (cpuSeconds(server.pid) - cpuBefore) / result.duration,
  };
}

/**
 * Diagnostic: the two queries the status route makes (JobRepository.findOwned, then .events),
 * from this process on the gateway's database file with the gateway's own database settings
 * (openDatabase: knex on better-sqlite3, one pooled connection), 64 at a time, no HTTP.
 */
async function databaseCeiling(databaseFile: string, jobId: string, seconds: number): Promise<number> {
  const db = await openDatabase(databaseFile);
  const jobs = new JobRepository(db);
  let reads = 0;
  const until = nowMs() + seconds * 1000;
  try {
    await Promise.all(Array.from({ length: settings.connections }, async () => {
      while (nowMs() < until) {
        await jobs.findOwned('anonymous', jobId);
        await jobs.events(jobId);
        reads += 1;
      }
    }));
  } finally {
    await db.destroy();
  }
  return reads / seconds;
}

async function run(): Promise<BenchmarkBody> {
  return withCleanup(async (cleanup) => {
    await openBenchConnection(cleanup);
    const gateway = await startGatewayProcess(cleanup, { cluster: { sfinderExecutable: '/bin/true' } });
    const api = new ApiClient(gateway.base);
    const fileId = await api.upload(tinyFits(), 'bench-tiny.fits');
    const jobId = await api.submit(fileId, 'bench-status');
    // A finished job whose output is collected: from now on the gateway has no reason to ask Slurm anything.
    const { status } = await api.waitForStatus(jobId, (s) => s.output_available || s.state === 'ABORTED', 100);
    if (status.pid) cleanup.defer('cancel the job', () => cancelJobs([status.pid!]));
    const target = { url: api.url(`/job/${jobId}/status`), pid: gateway.pid };
    const body = await (await fetch(target.url)).text();
    const bare = await startHelperServer(cleanup, 'bench/bareKoa.ts', { BENCH_FIXED_BODY: body });
    const baseline = { url: `http://127.0.0.1:${bare.port}/caesar/api/v1.0/job/fixed/status`, pid: bare.pid };

    await load(target, 1); // warm-up, not counted
    await load(baseline, 1);
    const commandsBefore = await gateway.slurmCommandCount();
    const g: Load[] = [];
    const b: Load[] = [];
    for (let rep = 0; rep < settings.reps; rep += 1) {
      if (rep % 2 === 0) { g.push(await load(target, settings.seconds)); b.push(await load(baseline, settings.seconds)); } else { b.push(await load(baseline, settings.seconds)); g.push(await load(target, settings.seconds)); }
    }
    const commands = await gateway.slurmCommandCount() - commandsBefore;
    // Diagnostic: every read from the database. A second gateway on the same SQLite file with its
    // status cache off (what each read costs when the job changed since it was last read).
    const uncachedGateway = await startGatewayProcess(cleanup, {
      cluster: { sfinderExecutable: '/bin/true' }, config: { statusCacheMs: 0 },
      env: { CAESAR_GATEWAY_DATA_DIR: path.dirname(gateway.databaseFile) },
    });
    const uncachedTarget = { url: new ApiClient(uncachedGateway.base).url(`/job/${jobId}/status`), pid: uncachedGateway.pid };
    await load(uncachedTarget, 1);
    const uncached = await load(uncachedTarget, settings.seconds);
    const ceiling = await databaseCeiling(gateway.databaseFile, jobId, settings.seconds);
    const failures = [...g, ...b].reduce((sum, l) => sum + l.failures, 0);
    const reps = `${settings.reps} × ${settings.seconds} s, alternating`;
    return {
      baseline: 'a bare Koa app (same Koa version, own child process) whose single handler returns the same JSON body as a fixed object.',
      method: [
        `The gateway runs as a child process; one of its jobs has finished and its output is collected, so nothing is left for it to ask Slurm. ` +
        `autocannon (in the benchmark process) sends \`GET /job/<id>/status\` over ${settings.connections} keep-alive connections for ${settings.seconds} s, ` +
        `then the same load goes to the bare Koa server, alternating, after a 1 s warm-up of each. Requests/s counts 2xx answers over the run's duration. ` +
        `The gateway runs as shipped, so its status cache (statusCacheMs ${DEFAULT_STATUS_CACHE_MS} ms; dropped whenever the gateway changes the job) answers most reads; ` +
        'the diagnostic row shows the same load on a second gateway process reading the same database file with the cache off. ' +
        'Slurm commands are read from the gateway\'s /metrics (caesar_slurm_commands_total) before the first and after the last run. ' +
        `Both servers and autocannon share the machine's ${os.availableParallelism()} cores.`,
      ],
      figures: [
        figure('requests/s (higher is better)', g.map((l) => l.rps), b.map((l) => l.rps),
          { target: 'ratio ≥ 0.5', check: (_g, r) => r !== undefined && r >= 0.5, repetitions: reps }),
        figure('latency p50, ms', g.map((l) => l.p50), b.map((l) => l.p50), { repetitions: reps }),
        figure('latency p99, ms', g.map((l) => l.p99), b.map((l) => l.p99), { repetitions: reps }),
        figure('diagnostic: requests/s with the status cache off (statusCacheMs 0)', [uncached.rps], b.map((l) => l.rps),
          { repetitions: `1 × ${settings.seconds} s, after the runs above` }),
        figure('server CPU during the run, cores (diagnostic)', g.map((l) => l.cores), b.map((l) => l.cores), { repetitions: reps }),
        figure('Slurm commands caused by all the status reads', [commands], undefined,
          { target: '0', check: (s) => s.max === 0, repetitions: `${fmt(g.reduce((sum, l) => sum + l.rps * settings.seconds, 0))} requests` }),
      ],
      notes: [
        `Status body: ${body.length} bytes. Non-2xx answers or socket errors: ${failures}.`,
        `Diagnostic — the status route's two database queries alone (\`JobRepository.findOwned\` then \`.events\`), run from the benchmark process ` +
        `on the gateway's database file with the gateway's database settings (\`openDatabase\`: knex on better-sqlite3, pool of one connection), ` +
        `${settings.connections} at a time, no HTTP: ${fmt(ceiling)} reads/s — a ceiling for the endpoint while every query waits for that one connection.`,
      ],
    };
  });
}

export const statusReads: Benchmark = { key: 'status', id: '3', title: 'Status reads', run };
