// argv builders for the Slurm commands the gateway runs, and the prelude that makes their output
// independent of the site's and the user's environment.
import { shellCommand, shellQuote } from '../../remote/quote.ts';

/** ASCII unit separator: cannot appear in job names we set, node lists or states. */
export const FIELD_SEPARATOR = '\x1f';

/** Variables that change what squeue/sacct print or what sbatch submits are dropped, and
 *  times come as epoch seconds (no time-zone guesswork). Runs under /bin/sh whatever the
 *  login shell is. */
const HERMETIC_PRELUDE = [
  'unset SQUEUE_FORMAT SQUEUE_FORMAT2 SQUEUE_SORT SQUEUE_STATES SQUEUE_USERS SQUEUE_ACCOUNT',
  'unset SQUEUE_PARTITION SQUEUE_NAMES SQUEUE_CLUSTERS SACCT_FORMAT SACCT_FEDERATION SACCT_LOCAL',
  'for v in $(env | sed -n "s/^\\(SBATCH_[A-Za-z0-9_]*\\)=.*/\\1/p"); do unset "$v"; done',
  'export LC_ALL=C TZ=UTC SLURM_TIME_FORMAT=%s',
].join('; ');

/** Wrap a shell script so it runs hermetically under /bin/sh on the cluster. */
export function remoteScript(script: string): string {
  return `/bin/sh -c ${shellQuote(`${HERMETIC_PRELUDE}; ${script}`)}`;
}

export const SQUEUE_FIELDS = ['%i', '%j', '%T', '%r', '%N', '%P', '%V', '%S', '%e', '%M'] as const;
export const SACCT_FIELDS = [
  'JobIDRaw', 'JobName', 'State', 'ExitCode', 'ElapsedRaw', 'NodeList', 'Partition', 'Submit', 'Start', 'End',
] as const;

export function squeueArgv(jobIds: readonly string[]): string[] {
  return ['squeue', '--noheader', '--states=all', `--jobs=${jobIds.join(',')}`, `--format=${SQUEUE_FIELDS.join(FIELD_SEPARATOR)}`];
}

export function squeueByNameArgv(jobName: string): string[] {
  return ['squeue', '--noheader', '--states=all', `--name=${jobName}`, `--format=${SQUEUE_FIELDS.join(FIELD_SEPARATOR)}`];
}

export function sacctArgv(jobIds: readonly string[]): string[] {
  return [
    'sacct', '--noheader', '--allocations', '--parsable2', `--delimiter=${FIELD_SEPARATOR}`,
    `--jobs=${jobIds.join(',')}`, `--format=${SACCT_FIELDS.join(',')}`,
  ];
}

/** Every job of one user (any state, still known to slurmctld): one command however many jobs. */
export function squeueByUserArgv(user: string): string[] {
  return ['squeue', '--noheader', '--states=all', `--user=${user}`, `--format=${SQUEUE_FIELDS.join(FIELD_SEPARATOR)}`];
}

/** Every allocation of one user since a time: one command however many jobs. */
export function sacctByUserArgv(user: string, sinceEpochSeconds: number): string[] {
  return [
    'sacct', '--noheader', '--allocations', '--parsable2', `--delimiter=${FIELD_SEPARATOR}`,
    `--user=${user}`, `--starttime=${new Date(sinceEpochSeconds * 1000).toISOString().slice(0, 19)}`,
    `--format=${SACCT_FIELDS.join(',')}`,
  ];
}

/** By name needs an explicit window: without --jobs sacct only looks at today. */
export function sacctByNameArgv(jobName: string, sinceEpochSeconds: number): string[] {
  return [
    'sacct', '--noheader', '--allocations', '--parsable2', `--delimiter=${FIELD_SEPARATOR}`,
    `--name=${jobName}`, `--starttime=${new Date(sinceEpochSeconds * 1000).toISOString().slice(0, 19)}`,
    `--format=${SACCT_FIELDS.join(',')}`,
  ];
}

export function scancelArgv(jobId: string): string[] {
  return ['scancel', jobId];
}

export interface SubmissionFiles {
  jobDir: string;
  /** Relative name → content, written before sbatch runs. */
  files: Record<string, string>;
  /** Relative link name → absolute target (an input staged under the older layout, see inputNames.ts). */
  links: Record<string, string>;
  scriptName: string;
  jobName: string;
}

/** One round trip: enter the job directory (made ahead, see JobDirectoryPool, or made now),
 *  write its files, submit. Every value is quoted; the tag (job name) is on sbatch's command line
 *  so no template edit can drop it. cd and printf are shell builtins, so a directory made
 *  ahead saves the mkdir process. */
export function prepareAndSubmitScript(sub: SubmissionFiles): string {
  return [enterJobDir(sub.jobDir), ...jobFileSteps(sub), sbatchCommand(sub)].join(' && ');
}

/** The first half of prepareAndSubmitScript on its own: the job directory with its files and
 *  links, nothing submitted. Rewrites whatever an earlier attempt left there. */
export function prepareJobDirScript(sub: SubmissionFiles): string {
  return [enterJobDir(sub.jobDir), ...jobFileSteps(sub)].join(' && ');
}

/** The second half: sbatch of a job directory prepareJobDirScript has filled. */
export function submitPreparedScript(sub: Pick<SubmissionFiles, 'jobDir' | 'scriptName' | 'jobName'>): string {
  return `cd ${shellQuote(sub.jobDir)} && ${sbatchCommand(sub)}`;
}

function enterJobDir(jobDir: string): string {
  const dir = shellQuote(jobDir);
  return `{ cd ${dir} 2>/dev/null || { mkdir -p ${dir} && cd ${dir}; }; }`;
}

/** Relative to the job directory, which the caller has entered. */
function jobFileSteps(sub: Pick<SubmissionFiles, 'files' | 'links'>): string[] {
  const steps: string[] = [];
  for (const [name, target] of Object.entries(sub.links)) {
    steps.push(`ln -sfn ${shellQuote(target)} ${shellQuote(name)}`);
  }
  for (const [name, content] of Object.entries(sub.files)) {
    steps.push(`printf %s ${shellQuote(content)} > ${shellQuote(name)}`);
  }
  return steps;
}

function sbatchCommand(sub: Pick<SubmissionFiles, 'jobDir' | 'scriptName' | 'jobName'>): string {
  return shellCommand(['sbatch', '--parsable', `--job-name=${sub.jobName}`, `--chdir=${sub.jobDir}`, sub.scriptName]);
}

/** Stream the job directory as tar.gz on stdout; links (an input staged under the older layout) are kept as links. */
export function tarJobDirScript(jobDir: string): string {
  return shellCommand(['tar', '-cz', '-C', jobDir, '.']);
}
