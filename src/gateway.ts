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
import { trackRequests, type RequestTracker } from './http/drain.ts';
import { JobStatusCache } from './jobs/jobStatusCache.ts';
import { JobChanges } from './jobs/jobChanges.ts';
import { JobRepository } from './jobs/jobRepository.ts';
import { JobService } from './jobs/jobService.ts';
import { JobQueries } from './jobs/jobQueries.ts';
import { Submitter } from './jobs/submitter.ts';
import { JobDirectoryPool } from './jobs/jobDirectoryPool.ts';
import { Poller } from './background/poller.ts';
import { OutputCollector } from './background/outputCollector.ts';
import { ClusterLease } from './background/clusterLease.ts';
import { SshConnection } from './remote/sshConnection.ts';
import { SlurmScheduler } from './scheduler/slurm/slurmScheduler.ts';
import type { Scheduler } from './scheduler/scheduler.ts';
import { loadTemplates } from './templates.ts';
import { asError } from './remote/errors.ts';
import { GatewayMetrics } from './observability/metrics.ts';
import { Retention } from './background/retention.ts';
import { TokenBucket } from './remote/tokenBucket.ts';
import { crashHook } from './faults.ts';
import { UserRepository } from './users/userRepository.ts';
import { UserLimiter } from './users/limits.ts';
import { clusterAccessResolver, connectionTargets, limitsResolver } from './users/clusterAccess.ts';
import { UploadThreads } from './uploads/uploadThreads.ts';

export interface Gateway {
  config: GatewayConfig;
  db: Database;
  jobs: JobRepository;
  /** Tells long-polling status requests that a job was written (and, on stop, to answer now). */
  jobChanges: JobChanges;
  files: FileRepository;
  metrics: GatewayMetrics;
  submitter: Submitter;
  jobDirectories: JobDirectoryPool;
  poller: Poller;
  collector: OutputCollector;
  /** Which clusters this instance works (one instance per cluster when several share PostgreSQL). */
  lease: ClusterLease;
  retention: Retention;
  schedulers: Map<string, Scheduler>;
  app: ReturnType<typeof createApp>;
  /** One background cycle for every cluster: submit, poll, collect (also the tests' handle). */
  runCycle(): Promise<void>;
  listen(): Promise<Server>;
  /** Graceful: stop accepting, let requests finish (up to graceMs), finish the background work, close SSH and the database. */
  stop(options?: { graceMs?: number }): Promise<void>;
}

function connectCluster(cluster: ClusterConfig, config: GatewayConfig, logger: Logger, metrics: GatewayMetrics): Scheduler {
  const ssh = new SshConnection({
    name: cluster.name, host: cluster.host, port: cluster.port, username: cluster.user,
    privateKey: readFileSync(cluster.privateKeyPath), hostKey: cluster.hostKey,
    maxChannels: cluster.maxChannels, keepaliveIntervalMs: cluster.keepaliveIntervalMs, logger,
  });
  return new SlurmScheduler({
    cluster: cluster.name, user: cluster.user, ssh, commandTimeoutMs: cluster.commandTimeoutMs, idChunkSize: config.poll.idChunkSize,
    budget: new TokenBucket(cluster.commandsPerMinute),
    observe: (kind, seconds, ok) => {
      metrics.slurmCommands.inc({ cluster: cluster.name, kind, outcome: ok ? 'ok' : 'error' });
      metrics.slurmCommandDuration.observe({ cluster: cluster.name, kind }, seconds);
      metrics.sshReconnects.set({ cluster: cluster.name }, ssh.stats.connects);
    },
  });
}

export async function buildGateway(config: GatewayConfig, logger: Logger): Promise<Gateway> {
  const db = await openDatabase(config.database);
  const tempDir = path.join(config.dataDir, 'tmp');
  await mkdir(tempDir, { recursive: true });
  const jobChanges = new JobChanges();
  const jobs = new JobRepository(db, new JobStatusCache({ maxAgeMs: config.statusCacheMs }), jobChanges);
  const files = new FileRepository(db);
  const lease = new ClusterLease({ db, ttlSeconds: config.poll.leaseSeconds, logger });
  // Configured clusters plus users' own SSH identities on them: each is polled on its own.
  const targets = connectionTargets(config);
  const clusters = new Map(targets.map((c) => [c.name, c]));
  const metrics = new GatewayMetrics();
  const schedulers = new Map(targets.map((c) => [c.name, connectCluster(c, config, logger, metrics)]));
  const users = new UserRepository(db);
  const limiter = new UserLimiter(db, limitsResolver(config));
  const resolveCluster = clusterAccessResolver(config);
  const apps = loadAppRegistry();
  const crash = crashHook(config.crashAt);
  const jobDirectories = new JobDirectoryPool({ clusters, schedulers, logger });
  const submitter = new Submitter({ jobs, files, clusters, schedulers, logger, crash, jobDirectories });
  const collector = new OutputCollector({
    jobs, clusters, schedulers, outputDir: path.join(config.dataDir, 'outputs'), logger, crash, ...config.outputs,
  });
  const retention = new Retention({ db, jobs, clusters, schedulers, retention: config.retention, logger });
  // Work started outside a cycle (collections, retention): shutdown waits for it.
  const background = new Set<Promise<unknown>>();
  const track = (work: Promise<unknown>) => {
    background.add(work);
    void work.finally(() => background.delete(work));
  };
  const collect = (cluster: string) => {
    track(collector.collectCluster(cluster).catch((err: unknown) => logger.error({ cluster, err: asError(err).message }, 'collection pass failed')));
  };
  const poller = new Poller({
    jobs, schedulers, poll: config.poll, logger, onFinished: collect,
    observeCycle: (cluster, seconds) => metrics.pollCycleDuration.observe({ cluster }, seconds),
  });
  const jobService = new JobService({
    jobs, files, schedulers, logger, templates: loadTemplates(),
    apps, clusterNames: config.clusters.map((c) => c.name), resolveCluster,
    checkLimits: (owner) => limiter.checkSubmission(owner),
    newJobId: (cluster) => jobDirectories.newJobId(cluster),
    // Only the lease holder submits: two submitters would each reconcile the other's in-flight
    // sbatch. Accepted elsewhere, the job waits (queued) for the holder's next cycle.
    submissions: {
      reserve: (jobId, cluster) => (lease.holds(cluster) ? submitter.reserve(jobId, cluster) : undefined),
      kick: (cluster) => { if (lease.holds(cluster)) submitter.kick(cluster); },
    },
  });
  const fileService = new FileService(files, jobs, path.join(config.dataDir, 'uploads'));
  const uploads = new UploadThreads(config.uploadThreads);
  const jobQueries = new JobQueries(db);
  const app = createApp({
    apps, logger, metrics, jobs, jobService, jobQueries, files, fileService, tempDir, maxUploadBytes: config.maxUploadBytes, uploads, db, schedulers,
    authMode: config.auth.mode, users, checkStorage: (owner, bytes) => limiter.checkStorage(owner, bytes),
    // Another instance's writes show in the status cache within statusCacheMs: looking again
    // more often would read the same cached entry.
    statusWaits: { changes: jobChanges, recheckMs: config.statusCacheMs > 0 ? config.statusCacheMs : 1000, maxWaiters: 10_000 },
  });

  const runCycle = async () => {
    for (const cluster of clusters.keys()) {
      if (!await lease.tryAcquire(cluster)) continue;
      submitter.kick(cluster);
      await poller.pollCluster(cluster);
      await collector.collectCluster(cluster);
    }
    await submitter.idle();
  };
  let cycleRunning = false;
  let cycle: Promise<void> | undefined;
  let task: ReturnType<typeof cron.schedule> | undefined;
  let retentionTask: ReturnType<typeof cron.schedule> | undefined;
  let server: Server | undefined;
  let requests: RequestTracker | undefined;

  return {
    config, db, jobs, jobChanges, files, metrics, submitter, jobDirectories, poller, collector, lease, retention, schedulers, app, runCycle,
    async listen() {
      // Restart = reconcile: the first cycle picks up queued, half-submitted and uncollected jobs.
      task = cron.schedule(config.poll.schedule, () => {
        if (cycleRunning) return;
        cycleRunning = true;
        cycle = runCycle().catch((err: unknown) => logger.error({ err: asError(err).message }, 'background cycle failed'))
          .finally(() => { cycleRunning = false; });
      });
      retentionTask = cron.schedule(config.retention.schedule, () => {
        // One instance cleans up: the one working the default cluster.
        if (!lease.holds(config.defaultCluster!)) return;
        track(retention.runOnce().catch((err: unknown) => logger.error({ err: asError(err).message }, 'retention run failed')));
      }, { noOverlap: true });
      server = app.listen(config.port, config.host);
      requests = trackRequests(server);
      await new Promise<void>((resolve) => server!.once('listening', resolve));
      return server;
    },
    async stop(options = {}) {
      const graceMs = options.graceMs ?? 25_000;
      const inFlight = requests?.inFlight ?? 0;
      // Stop listening first, then say so: a client reacting to the line must find the port closed.
      const drained = requests?.drain(graceMs) ?? Promise.resolve({ forced: 0 });
      // Long-polls answer now with the status as it is, instead of holding the drain for up to a
      // minute; the database is still open for their last read. After the listener closed, so
      // that a wait that starts later (a keep-alive connection) sees shuttingDown and does not wait.
      jobChanges.wakeAll();
      logger.info({ inFlight, graceMs, longPolls: jobChanges.size }, 'shutdown: no longer accepting connections; waiting for requests in flight');
      await task?.stop();
      await retentionTask?.stop();
      const { forced } = await drained;
      logger.info({ forced }, forced > 0 ? 'shutdown: grace period over, remaining requests cut off' : 'shutdown: requests finished');
      await uploads.close();
      await cycle;
      logger.info('shutdown: background cycle finished');
      await submitter.idle();
      await Promise.race([Promise.all(background), new Promise((r) => setTimeout(r, graceMs).unref())]);
      logger.info('shutdown: submissions and collections finished');
      await jobDirectories.discard();
      // Whatever fails from here on, SSH and the database still get closed.
      await lease.release().catch((err: unknown) => logger.warn({ err: asError(err).message }, 'shutdown: releasing cluster leases failed'));
      for (const scheduler of schedulers.values()) await scheduler.close();
      logger.info('shutdown: SSH connections closed');
      await db.destroy();
      logger.info('shutdown: database closed');
    },
  };
}
