// The one typed configuration object. Read once at start-up by main.ts; nothing else reads
// process.env. Sources, later ones winning: built-in defaults → JSON config file → environment.
// Without any cluster in the file, the local cluster's connection file (written by
// scripts/local-cluster.sh) supplies the single default cluster.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const positiveInt = z.number().int().positive();

/** Exported for the status benchmark's description. */
export const DEFAULT_STATUS_CACHE_MS = 1000;

const partitionSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'partition names are letters, digits, _ . -'),
  maxTimeMinutes: positiveInt.optional(),
  maxNodes: positiveInt.optional(),
});

const clusterSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'cluster names are lower-case letters, digits, _ -'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(22),
  user: z.string().regex(/^[a-z_][a-z0-9_.-]*$/i, 'not a valid login name'),
  privateKeyPath: z.string().min(1),
  /** Pinned host key: "ssh-ed25519 AAAA…" (as in known_hosts / *.pub) or "SHA256:<base64>". */
  hostKey: z.string().min(1),
  /** Absolute directory on the cluster that holds inputs/ and jobs/. */
  remoteRoot: z.string().regex(/^\/[A-Za-z0-9_./-]+$/, 'an absolute path of letters, digits, _ . / -'),
  sfinderExecutable: z.string().regex(/^\/[A-Za-z0-9_./+-]+$/, 'an absolute path without spaces or shell characters'),
  partitions: z.array(z.union([z.string(), partitionSchema])).min(1)
    .transform((list) => list.map((p) => (typeof p === 'string' ? { name: p } : p))),
  defaultPartition: z.string().optional(),
  account: z.string().regex(/^[A-Za-z0-9_.-]+$/).optional(),
  defaults: z.object({
    timeMinutes: positiveInt.default(10),
    memoryMBPerCpu: positiveInt.default(512),
    nodes: positiveInt.default(1),
  }).prefault({}),
  limits: z.object({
    maxNodes: positiveInt.default(4),
    maxTasks: positiveInt.default(64),
    maxCpusPerTask: positiveInt.default(32),
    maxMemoryMB: positiveInt.default(64_000),
    maxTimeMinutes: positiveInt.default(24 * 60),
  }).prefault({}),
  /** Absolute paths on the cluster that a job's `envfile` may name. Empty: envfiles refused. */
  allowedEnvfiles: z.array(z.string().regex(/^\/[A-Za-z0-9_./-]+$/)).default([]),
  commandTimeoutMs: positiveInt.default(30_000),
  /** Slurm commands per minute this gateway may run on the cluster, shared by all work. */
  commandsPerMinute: positiveInt.default(600),
  /** OpenSSH allows 10 sessions per connection by default; stay below it. */
  maxChannels: z.number().int().min(1).max(8).default(8),
  keepaliveIntervalMs: positiveInt.default(10_000),
});

const limitsSchema = z.object({
  maxActiveJobs: positiveInt,
  submissionsPerMinute: positiveInt,
  maxStoredBytes: positiveInt,
});

const slurmWord = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - only');

/** How one gateway user reaches one cluster: Slurm account/partition/QoS, and optionally an SSH
 *  identity of their own so their jobs run as them and charge their own allocation. */
const userClusterSchema = z.object({
  account: slurmWord.optional(),
  partition: slurmWord.optional(),
  qos: slurmWord.optional(),
  sshUser: z.string().regex(/^[a-z_][a-z0-9_.-]*$/i, 'not a valid login name').optional(),
  privateKeyPath: z.string().min(1).optional(),
  remoteRoot: z.string().regex(/^\/[A-Za-z0-9_./-]+$/, 'an absolute path of letters, digits, _ . / -').optional(),
}).refine((c) => (c.sshUser === undefined) === (c.privateKeyPath === undefined), {
  message: 'sshUser and privateKeyPath go together (a user\'s own identity needs both)',
});

const userSchema = z.object({
  limits: limitsSchema.partial().optional(),
  clusters: z.record(z.string(), userClusterSchema).default({}),
});

const configSchema = z.object({
  port: z.number().int().min(0).max(65535).default(8080),
  host: z.string().default('0.0.0.0'),
  dataDir: z.string().default('var'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  maxUploadBytes: positiveInt.default(4 * 1024 ** 3),
  /** Threads that parse upload bodies and write their files; each carries any number of uploads. */
  uploadThreads: z.number().int().min(1).max(64).default(2),
  /**
   * How long a job's status may be answered from memory. This process's own writes show at once;
   * this bounds how late another instance's writes (a shared PostgreSQL) show. 0: always read.
   */
  statusCacheMs: z.number().int().min(0).max(60_000).default(DEFAULT_STATUS_CACHE_MS),
  poll: z.object({
    /** node-cron schedule of the status poller (seconds field supported). */
    schedule: z.string().default('*/2 * * * * *'),
    /** A job absent from both squeue and sacct this long is declared CLEARED. */
    missingGraceSeconds: positiveInt.default(600),
    /** squeue may report an end before sacct records it; wait this long for sacct's exit code. */
    accountingLagSeconds: positiveInt.default(30),
    /** ...and ask again this soon within the same cycle, once (0: wait for the next cycle). */
    accountingRecheckMs: z.number().int().min(0).max(10_000).default(750),
    /** sacct hangs on some sites past ~200 ids: beyond this many jobs, ask by user and start time. */
    idChunkSize: positiveInt.default(200),
    /** Lease on a cluster's polling (one gateway at a time); a dead holder's lease lapses after this. */
    leaseSeconds: positiveInt.default(10),
    /** NODE_FAIL / PREEMPTED may be followed by a requeue: wait this long before treating them as final. */
    requeueGraceSeconds: positiveInt.default(60),
    /** Jobs pending this long are polled every `slowPollSeconds` instead of every cycle. */
    longPendingSeconds: positiveInt.default(600),
    slowPollSeconds: positiveInt.default(30),
  }).prefault({}),
  outputs: z.object({
    /** A job directory larger than this (as tar.gz) is not collected; the job says why. */
    maxBytes: positiveInt.default(20 * 1024 ** 3),
    maxAttempts: positiveInt.default(20),
  }).prefault({}),
  retention: z.object({
    /** node-cron schedule of the clean-up task. */
    schedule: z.string().default('0 17 * * * *'),
    /** Uploads older than this, and not used by an unfinished job, are removed (0: keep forever). */
    uploadsMaxAgeDays: z.number().min(0).default(30),
    /** Finished jobs' outputs (gateway and cluster side) older than this are removed (0: keep forever). */
    jobsMaxAgeDays: z.number().min(0).default(30),
  }).prefault({}),
  /** For the fault-injection tests only: the gateway kills itself (SIGKILL) at this point. */
  crashAt: z.enum(['before-sbatch', 'after-sbatch', 'during-collection']).optional(),
  database: z.object({
    /** sqlite: embedded, one gateway. postgres: one or more gateways sharing it. Default: postgres when url is set. */
    client: z.enum(['sqlite', 'postgres']).optional(),
    /** postgres://user:password@host:port/database */
    url: z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// or postgresql:// URL').optional(),
  }).prefault({}),
  clusters: z.array(clusterSchema).default([]),
  defaultCluster: z.string().optional(),
  auth: z.object({
    /** anonymous: one implicit user (the local demo); tokens: Authorization: Bearer, users from `npm run admin`. */
    mode: z.enum(['anonymous', 'tokens']).default('anonymous'),
  }).prefault({}),
  /** Limits for every user unless `users.<name>.limits` says otherwise. */
  userLimits: limitsSchema.prefault({ maxActiveJobs: 1000, submissionsPerMinute: 600, maxStoredBytes: 200 * 1024 ** 3 }),
  users: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), userSchema).default({}),
  localClusterConnectionFile: z.string().default('/var/lib/caesar-gateway/local-cluster/connection.json'),
});

export type DatabaseConfig = { client: 'sqlite'; file: string } | { client: 'postgres'; url: string };
export type GatewayConfig = Omit<z.infer<typeof configSchema>, 'database'> & { database: DatabaseConfig; databaseFile: string };
export type ClusterConfig = z.infer<typeof clusterSchema>;
export type PartitionConfig = z.infer<typeof partitionSchema>;
export type UserClusterConfig = z.infer<typeof userClusterSchema>;
export type UserLimitsConfig = z.infer<typeof limitsSchema>;

export class ConfigError extends Error {}

/** Environment variables that override file settings, with how to coerce them. */
const envOverrides: Record<string, (value: string, raw: Record<string, unknown>) => void> = {
  PORT: (v, raw) => { raw.port = Number(v); },
  HOST: (v, raw) => { raw.host = v; },
  CAESAR_GATEWAY_DATA_DIR: (v, raw) => { raw.dataDir = v; },
  CAESAR_GATEWAY_LOG_LEVEL: (v, raw) => { raw.logLevel = v; },
  CAESAR_GATEWAY_MAX_UPLOAD_BYTES: (v, raw) => { raw.maxUploadBytes = Number(v); },
  CAESAR_GATEWAY_UPLOAD_THREADS: (v, raw) => { raw.uploadThreads = Number(v); },
  CAESAR_GATEWAY_STATUS_CACHE_MS: (v, raw) => { raw.statusCacheMs = Number(v); },
  CAESAR_GATEWAY_POLL_SCHEDULE: (v, raw) => { raw.poll = { ...(raw.poll as object), schedule: v }; },
  LOCAL_CLUSTER_CONNECTION: (v, raw) => { raw.localClusterConnectionFile = v; },
  CAESAR_GATEWAY_DATABASE_URL: (v, raw) => { raw.database = { ...(raw.database as object), client: 'postgres', url: v }; },
  CAESAR_GATEWAY_LEASE_SECONDS: (v, raw) => { raw.poll = { ...(raw.poll as object), leaseSeconds: Number(v) }; },
  CAESAR_GATEWAY_CRASH_AT: (v, raw) => { raw.crashAt = v; },
  CAESAR_GATEWAY_AUTH: (v, raw) => { raw.auth = { ...(raw.auth as object), mode: v }; },
};

function readJson(file: string, what: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
}

function describeIssues(error: z.ZodError, source: string): string {
  const lines = error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
  return `invalid configuration (${source}):\n${lines.join('\n')}`;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const file = env.CAESAR_GATEWAY_CONFIG;
  const raw: Record<string, unknown> = file ? readJson(file, 'config file') : {};
  for (const [name, apply] of Object.entries(envOverrides)) {
    const value = env[name];
    if (value !== undefined && value !== '') apply(value, raw);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error, file ?? 'environment'));
  const config = parsed.data;

  if (config.clusters.length === 0) {
    const connection = config.localClusterConnectionFile;
    if (!existsSync(connection)) {
      throw new ConfigError(
        `no cluster configured and no local cluster connection file at ${connection}: ` +
        'run `npm run cluster -- up` or declare clusters in CAESAR_GATEWAY_CONFIG',
      );
    }
    const cluster = clusterSchema.safeParse(readJson(connection, 'local cluster connection file'));
    if (!cluster.success) throw new ConfigError(describeIssues(cluster.error, connection));
    config.clusters = [cluster.data];
  }
  return finish(config);
}

function finish(config: z.infer<typeof configSchema>): GatewayConfig {
  const names = new Set<string>();
  for (const cluster of config.clusters) {
    if (names.has(cluster.name)) throw new ConfigError(`clusters: name '${cluster.name}' is declared twice`);
    names.add(cluster.name);
    cluster.defaultPartition ??= cluster.partitions[0]?.name;
    if (!cluster.partitions.some((p) => p.name === cluster.defaultPartition)) {
      throw new ConfigError(`clusters.${cluster.name}.defaultPartition '${cluster.defaultPartition}' is not among its partitions`);
    }
  }
  for (const [user, settings] of Object.entries(config.users)) {
    for (const clusterName of Object.keys(settings.clusters)) {
      if (!names.has(clusterName)) throw new ConfigError(`users.${user}.clusters.${clusterName}: no cluster named '${clusterName}' is configured`);
    }
  }
  config.defaultCluster ??= config.clusters[0]?.name;
  if (!config.defaultCluster || !names.has(config.defaultCluster)) {
    throw new ConfigError(`defaultCluster '${config.defaultCluster}' is not a configured cluster`);
  }
  const dataDir = path.resolve(config.dataDir);
  const databaseFile = path.join(dataDir, 'gateway.sqlite3');
  const { client = config.database.url ? 'postgres' : 'sqlite', url } = config.database;
  if (client === 'postgres' && !url) throw new ConfigError("database.url is required with database.client 'postgres'");
  if (client === 'sqlite' && url) throw new ConfigError("database.url is only for database.client 'postgres'");
  const database: DatabaseConfig = client === 'postgres' ? { client, url: url! } : { client, file: databaseFile };
  return { ...config, dataDir, database, databaseFile };
}
