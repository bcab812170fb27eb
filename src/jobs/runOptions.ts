// The seed-era run-control and batch options that live in job_inputs next to CAESAR's own
// options but drive the sbatch script instead of the CAESAR config. Each is either mapped onto
// the script or refused with a message that says why.
import type { ClusterConfig, UserClusterConfig } from '../config.ts';
import type { OptionError, OptionValue } from '../apps/types.ts';

/** caesar-rest added these to every run; clients that send them anyway are told nothing new. */
const ALWAYS_ON_FLAGS = ['save-regions', 'save-catalog-to-json', 'save-summaryplot'] as const;

/** Keys handled here and removed before the app's own option validation. */
export const RUN_CONTROL_KEYS = [
  'inputfile', 'run', 'envfile', 'queue', 'jobwalltime', 'jobcpus', 'jobnodes', 'jobmemory', 'jobusergroup',
  ...ALWAYS_ON_FLAGS,
] as const;

export interface Resources {
  partition: string;
  timeLimitMinutes: number;
  nodes: number;
  tasksPerNode: number;
  cpusPerTask: number;
  memoryMB: number;
  account: string | undefined;
  qos: string | undefined;
  mpi: boolean;
  envfile: string | undefined;
}

type Inputs = Record<string, unknown>;

function positiveInteger(inputs: Inputs, key: string, errors: OptionError[], max: number): number | undefined {
  const raw = inputs[key];
  if (raw === undefined) return undefined;
  const value = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    errors.push({ option: key, message: `option '${key}': expected a whole number between 1 and ${max}, got ${JSON.stringify(raw)}` });
    return undefined;
  }
  return value;
}

/** jobwalltime: "HH:MM:SS", "D-HH:MM:SS", "MM" minutes, or a number of minutes. Slurm rounds up to minutes. */
export function parseWallTime(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isInteger(raw) && raw > 0 ? raw : undefined;
  if (typeof raw !== 'string') return undefined;
  const m = /^(?:(\d+)-)?(\d{1,3}):(\d{1,2}):(\d{1,2})$/.exec(raw.trim());
  if (m) {
    const [, days = '0', h = '0', min = '0', s = '0'] = m;
    const seconds = ((Number(days) * 24 + Number(h)) * 60 + Number(min)) * 60 + Number(s);
    return seconds > 0 ? Math.ceil(seconds / 60) : undefined;
  }
  return /^\d+$/.test(raw.trim()) && Number(raw) > 0 ? Number(raw) : undefined;
}

export function resolveResources(
  inputs: Inputs, appValues: Map<string, OptionValue>, cluster: ClusterConfig, errors: OptionError[],
  access: UserClusterConfig = {},
): Resources | undefined {
  const { limits, defaults } = cluster;
  const before = errors.length;
  const partitionName = inputs.queue ?? access.partition ?? cluster.defaultPartition;
  const partition = cluster.partitions.find((p) => p.name === partitionName);
  if (!partition) {
    errors.push({ option: 'queue', message: `option 'queue': partition ${JSON.stringify(partitionName)} is not available on cluster ${cluster.name}; use one of ${cluster.partitions.map((p) => p.name).join(', ')}` });
  }
  const maxTime = Math.min(partition?.maxTimeMinutes ?? limits.maxTimeMinutes, limits.maxTimeMinutes);
  let timeLimitMinutes = defaults.timeMinutes;
  if (inputs.jobwalltime !== undefined) {
    const parsed = parseWallTime(inputs.jobwalltime);
    if (parsed === undefined || parsed > maxTime) {
      errors.push({ option: 'jobwalltime', message: `option 'jobwalltime': expected a time limit such as "00:30:00" or minutes, at most ${maxTime} minutes on this partition, got ${JSON.stringify(inputs.jobwalltime)}` });
    } else timeLimitMinutes = parsed;
  }
  timeLimitMinutes = Math.min(timeLimitMinutes, maxTime);

  const nodes = positiveInteger(inputs, 'jobnodes', errors, Math.min(limits.maxNodes, partition?.maxNodes ?? Infinity)) ?? defaults.nodes;
  const mpi = appValues.get('no-mpi') !== true;
  const nproc = Number(appValues.get('nproc') ?? 1);
  const tasksPerNode = mpi ? nproc : 1;
  if (tasksPerNode * nodes > limits.maxTasks) {
    errors.push({ option: 'nproc', message: `option 'nproc': ${tasksPerNode} ranks on ${nodes} node(s) exceeds this cluster's limit of ${limits.maxTasks} MPI ranks` });
  }
  const nthreads = Number(appValues.get('nthreads') ?? 1);
  const cpusPerTask = positiveInteger(inputs, 'jobcpus', errors, limits.maxCpusPerTask) ?? Math.max(1, nthreads);
  if (cpusPerTask > limits.maxCpusPerTask) {
    errors.push({ option: 'nthreads', message: `option 'nthreads': ${cpusPerTask} threads per rank exceeds this cluster's limit of ${limits.maxCpusPerTask}` });
  }
  let memoryMB = defaults.memoryMBPerCpu * tasksPerNode * cpusPerTask;
  if (inputs.jobmemory !== undefined) {
    const gb = typeof inputs.jobmemory === 'string' ? Number(inputs.jobmemory) : inputs.jobmemory;
    if (typeof gb !== 'number' || !Number.isFinite(gb) || gb <= 0 || gb * 1024 > limits.maxMemoryMB) {
      errors.push({ option: 'jobmemory', message: `option 'jobmemory': expected memory per node in GB, more than 0 and at most ${Math.floor(limits.maxMemoryMB / 1024)}, got ${JSON.stringify(inputs.jobmemory)}` });
    } else memoryMB = Math.ceil(gb * 1024);
  }
  const account = inputs.jobusergroup ?? access.account ?? cluster.account;
  if (account !== undefined && (typeof account !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(account))) {
    errors.push({ option: 'jobusergroup', message: `option 'jobusergroup': a Slurm account name is letters, digits, _ . - (got ${JSON.stringify(account)})` });
  }
  const envfile = resolveEnvfile(inputs.envfile, cluster, errors);
  for (const flag of ['run', ...ALWAYS_ON_FLAGS]) {
    if (inputs[flag] !== undefined && typeof inputs[flag] !== 'boolean') {
      errors.push({ option: flag, message: `option '${flag}' is a flag: use true or false, got ${JSON.stringify(inputs[flag])}` });
    }
  }
  if (errors.length > before || !partition) return undefined;
  return {
    partition: partition.name, timeLimitMinutes, nodes, tasksPerNode, cpusPerTask, memoryMB,
    account: account as string | undefined, qos: access.qos, mpi, envfile,
  };
}

function resolveEnvfile(raw: unknown, cluster: ClusterConfig, errors: OptionError[]): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw === 'string' && cluster.allowedEnvfiles.includes(raw)) return raw;
  const allowed = cluster.allowedEnvfiles.length
    ? `allowed on cluster ${cluster.name}: ${cluster.allowedEnvfiles.join(', ')}`
    : `cluster ${cluster.name} allows no envfiles (an admin lists them in the cluster's allowedEnvfiles)`;
  errors.push({ option: 'envfile', message: `option 'envfile': ${JSON.stringify(raw)} is not an allowed environment file; ${allowed}` });
  return undefined;
}
