// Composition root: config → database (migrated) → SSH connections → schedulers → services →
// HTTP app + background tasks. main.ts runs it; tests build their own gateways with it.
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import path from 'node:path';
import cron from 'node-cron';
import type { Logger } from 'pino';
import { loadAppRegistry } from './apps/registry.ts';
import type { ClusterConfig, GatewayConfig } from './config.ts';
import { openDatabase, type Database } from './db/database.ts';
import { FileRepository } from './files/fileRepository.ts';
import { FileService } from './files/fileService.ts';
import { createApp } from './http/app.ts';
import { JobRepository } from './jobs/jobRepository.ts';
import { JobService } from './jobs/jobService.ts';
import { JobQueries } from './jobs/jobQueries.ts';
import { Submitter } from './jobs/submitter.ts';
import { Poller } from './background/poller.ts';
import { OutputCollector } from './background/outputCollector.ts';
import { SshConnection } from './remote/sshConnection.ts';
import { SlurmScheduler } from './scheduler/slurm/slurmScheduler.ts';
import type { Scheduler } from './scheduler/scheduler.ts';
import { loadTemplates } from './templates.ts';
import { asError } from './remote/errors.ts';
import { GatewayMetrics } from './observability/metrics.ts';

export interface Gateway {
  config: GatewayConfig;
  db: Database;
  jobs: JobRepository;
  files: FileRepository;
  metrics: GatewayMetrics;
  submitter: Submitter;
  poller: Poller;
  collector: OutputCollector;
  schedulers: Map<string, Scheduler>;
  app: ReturnType<typeof createApp>;
  /** One background cycle for every cluster: submit, poll, collect (also the tests' handle). */
  runCycle(): Promise<void>;
  listen(): Promise<Server>;
  stop(): Promise<void>;
}

function connectCluster(cluster: ClusterConfig, config: GatewayConfig, logger: Logger, metrics: GatewayMetrics): Scheduler {
  const ssh = new SshConnection({
    name: cluster.name, host: cluster.host, port: cluster.port, username: cluster.user,
    privateKey: readFileSync(cluster.privateKeyPath), hostKey: cluster.hostKey,
    maxChannels: cluster.maxChannels, keepaliveIntervalMs: cluster.keepaliveIntervalMs, logger,
  });
  return new SlurmScheduler({
    cluster: cluster.name, ssh, commandTimeoutMs: cluster.commandTimeoutMs, idChunkSize: config.poll.idChunkSize,
    observe: (kind, seconds, ok) => {
      metrics.slurmCommands.inc({ cluster: cluster.name, kind, outcome: ok ? 'ok' : 'error' });
      metrics.slurmCommandDuration.observe({ cluster: cluster.name, kind }, seconds);
      metrics.sshReconnects.set({ cluster: cluster.name }, ssh.stats.connects);
    },
  });
}

export async function buildGateway(config: GatewayConfig, logger: Logger): Promise<Gateway> {
  const db = await openDatabase(config.databaseFile);
  const tempDir = path.join(config.dataDir, 'tmp');
  await mkdir(tempDir, { recursive: true });
  const jobs = new JobRepository(db);
  const files = new FileRepository(db);
  const clusters = new Map(config.clusters.map((c) => [c.name, c]));
  const metrics = new GatewayMetrics();
  const schedulers = new Map(config.clusters.map((c) => [c.name, connectCluster(c, config, logger, metrics)]));
  const apps = loadAppRegistry();
  const submitter = new Submitter({ jobs, files, clusters, schedulers, logger });
  const collector = new OutputCollector({ jobs, clusters, schedulers, outputDir: path.join(config.dataDir, 'outputs'), logger });
  const collect = (cluster: string) => {
    collector.collectCluster(cluster).catch((err: unknown) => logger.error({ cluster, err: asError(err).message }, 'collection pass failed'));
  };
  const poller = new Poller({
    jobs, schedulers, poll: config.poll, logger, onFinished: collect,
    observeCycle: (cluster, seconds) => metrics.pollCycleDuration.observe({ cluster }, seconds),
  });
  const jobService = new JobService({
    jobs, files, schedulers, logger, templates: loadTemplates(),
    planContext: { apps, clusters: config.clusters, defaultCluster: config.defaultCluster! },
    onAccepted: (cluster) => submitter.kick(cluster),
  });
  const fileService = new FileService(files, jobs, path.join(config.dataDir, 'uploads'));
  const jobQueries = new JobQueries(db);
  const app = createApp({ apps, logger, metrics, jobs, jobService, jobQueries, files, fileService, tempDir, maxUploadBytes: config.maxUploadBytes });

  const runCycle = async () => {
    for (const cluster of clusters.keys()) {
      submitter.kick(cluster);
      await poller.pollCluster(cluster);
      await collector.collectCluster(cluster);
    }
    await submitter.idle();
  };
  let cycleRunning = false;
  let task: ReturnType<typeof cron.schedule> | undefined;
  let server: Server | undefined;

  return {
    config, db, jobs, files, metrics, submitter, poller, collector, schedulers, app, runCycle,
    async listen() {
      // Restart = reconcile: the first cycle picks up queued, half-submitted and uncollected jobs.
      task = cron.schedule(config.poll.schedule, () => {
        if (cycleRunning) return;
        cycleRunning = true;
        runCycle().catch((err: unknown) => logger.error({ err: asError(err).message }, 'background cycle failed'))
          .finally(() => { cycleRunning = false; });
      });
      server = app.listen(config.port, config.host);
      await new Promise<void>((resolve) => server!.once('listening', resolve));
      return server;
    },
    async stop() {
      await task?.stop();
      if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
      await submitter.idle();
      for (const scheduler of schedulers.values()) await scheduler.close();
      await db.destroy();
    },
  };
}
