// Parsers for Slurm's output. Defensive: Slurm may print warnings before the data, sacct lists
// job steps unless told not to, and "Unknown"/"None" stand for missing values.
import { FIELD_SEPARATOR, SACCT_FIELDS, SQUEUE_FIELDS } from './commands.ts';

export interface SlurmJobRecord {
  jobId: string;
  jobName: string;
  /** Raw state as printed ("CANCELLED by 1001", "COMPLETING"). */
  state: string;
  reason: string | null;
  /** "3:0" (exit code 3, no signal); sacct only. */
  exitCode: string | null;
  elapsedSeconds: number | null;
  nodeList: string | null;
  partition: string | null;
  submitAt: number | null;
  startAt: number | null;
  endAt: number | null;
}

/** `sbatch --parsable` prints "<id>" or "<id>;<cluster>" as its last line. */
export function parseSbatchJobId(stdout: string): string | undefined {
  const lines = stdout.trim().split('\n').map((l) => l.trim()).filter(Boolean);
  const last = lines.at(-1)?.split(';')[0];
  return last && /^\d+$/.test(last) ? last : undefined;
}

function epoch(value: string | undefined): number | null {
  if (!value || !/^\d+$/.test(value) || value === '0') return null;
  return Number(value);
}

function text(value: string | undefined): string | null {
  if (value === undefined) return null;
  const v = value.trim();
  return v === '' || v === 'None' || v === '(null)' || v === 'None assigned' || v === 'Unknown' ? null : v;
}

/** squeue's %M: "[days-][hours:]minutes:seconds". */
export function parseSlurmDuration(value: string | undefined): number | null {
  if (!value) return null;
  const m = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$/.exec(value.trim());
  if (!m) return null;
  const [, d = '0', h = '0', min = '0', s = '0'] = m;
  return ((Number(d) * 24 + Number(h)) * 60 + Number(min)) * 60 + Number(s);
}

function rows(stdout: string, width: number): string[][] {
  return stdout.split('\n')
    .filter((line) => line.includes(FIELD_SEPARATOR))
    .map((line) => line.split(FIELD_SEPARATOR))
    .filter((fields) => fields.length === width);
}

export function parseSqueue(stdout: string): SlurmJobRecord[] {
  return rows(stdout, SQUEUE_FIELDS.length)
    .filter(([id]) => id !== undefined && /^\d+$/.test(id.trim()))
    .map(([id, name, state, reason, nodes, partition, submit, start, end, used]) => ({
      jobId: id!.trim(),
      jobName: name ?? '',
      state: (state ?? '').trim(),
      reason: text(reason),
      exitCode: null,
      elapsedSeconds: parseSlurmDuration(used),
      nodeList: text(nodes),
      partition: text(partition),
      submitAt: epoch(submit),
      startAt: epoch(start),
      endAt: epoch(end),
    }));
}

export function parseSacct(stdout: string): SlurmJobRecord[] {
  return rows(stdout, SACCT_FIELDS.length)
    // Allocation rows only: step rows ("123.batch", "123.0") have states of their own.
    .filter(([id]) => id !== undefined && /^\d+$/.test(id.trim()))
    .map(([id, name, state, exit, elapsed, nodes, partition, submit, start, end]) => ({
      jobId: id!.trim(),
      jobName: name ?? '',
      state: (state ?? '').trim(),
      reason: null,
      exitCode: text(exit),
      elapsedSeconds: elapsed && /^\d+$/.test(elapsed) ? Number(elapsed) : null,
      nodeList: text(nodes),
      partition: text(partition),
      submitAt: epoch(submit),
      startAt: epoch(start),
      endAt: epoch(end),
    }));
}

/** Real signals are 1–64; Slurm reports OUT_OF_MEMORY as "0:125", a marker rather than a signal. */
const MAX_SIGNAL = 64;

/** "3:0" → 3; "0:9" (killed by signal 9) → 128 + 9, as a shell would report it; "0:125" → unknown. */
export function exitStatusOf(exitCode: string | null): number | null {
  if (!exitCode) return null;
  const m = /^(\d+):(\d+)$/.exec(exitCode);
  if (!m) return null;
  const code = Number(m[1]);
  const signal = Number(m[2]);
  if (code === 0 && signal > MAX_SIGNAL) return null;
  return code === 0 && signal > 0 ? 128 + signal : code;
}
