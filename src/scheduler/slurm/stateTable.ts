// Slurm's job states (squeue's long names, sacct's words) mapped onto ours. Kept apart from
// running commands so the table can be tested on recorded output alone.
import type { JobState } from '../../jobs/states.ts';

export interface MappedState {
  state: JobState;
  /** Slurm may still act on the job (COMPLETING, STAGE_OUT): never collect outputs yet. */
  settled: boolean;
  /** NODE_FAIL / PREEMPTED may be followed by a requeue: wait before treating as final. */
  mayRequeue: boolean;
  /** Human words for the status sentence. */
  words: string;
}

const TABLE: Record<string, Omit<MappedState, 'settled' | 'mayRequeue'> & { settled?: boolean; mayRequeue?: boolean }> = {
  PENDING: { state: 'PENDING', words: 'pending' },
  CONFIGURING: { state: 'PENDING', words: 'nodes are being configured' },
  REQUEUED: { state: 'PENDING', words: 'requeued' },
  REQUEUE_FED: { state: 'PENDING', words: 'requeued (federation)' },
  REQUEUE_HOLD: { state: 'PENDING', words: 'requeued and held' },
  RESV_DEL_HOLD: { state: 'PENDING', words: 'held after its reservation was deleted' },
  SPECIAL_EXIT: { state: 'PENDING', words: 'held after a special exit' },
  RUNNING: { state: 'RUNNING', words: 'running' },
  COMPLETING: { state: 'RUNNING', words: 'completing', settled: false },
  STAGE_OUT: { state: 'RUNNING', words: 'staging out', settled: false },
  SIGNALING: { state: 'RUNNING', words: 'being signalled', settled: false },
  RESIZING: { state: 'RUNNING', words: 'resizing' },
  SUSPENDED: { state: 'RUNNING', words: 'suspended' },
  STOPPED: { state: 'RUNNING', words: 'stopped' },
  COMPLETED: { state: 'SUCCESS', words: 'completed' },
  FAILED: { state: 'FAILURE', words: 'failed' },
  OUT_OF_MEMORY: { state: 'FAILURE', words: 'out of memory' },
  NODE_FAIL: { state: 'FAILURE', words: 'node failure', mayRequeue: true },
  BOOT_FAIL: { state: 'FAILURE', words: 'node boot failure' },
  DEADLINE: { state: 'FAILURE', words: 'deadline reached' },
  PREEMPTED: { state: 'FAILURE', words: 'preempted', mayRequeue: true },
  TIMEOUT: { state: 'TIMED-OUT', words: 'time limit reached' },
  CANCELLED: { state: 'CANCELED', words: 'cancelled' },
  // Federation: the job runs on a sibling cluster; keep polling.
  REVOKED: { state: 'PENDING', words: 'revoked here, running on a sibling cluster' },
};

/** sacct's short codes, as printed by `sacct -o State%2` or some site wrappers. */
const SHORT: Record<string, string> = {
  BF: 'BOOT_FAIL', CA: 'CANCELLED', CD: 'COMPLETED', DL: 'DEADLINE', F: 'FAILED', NF: 'NODE_FAIL',
  OOM: 'OUT_OF_MEMORY', PD: 'PENDING', PR: 'PREEMPTED', R: 'RUNNING', RQ: 'REQUEUED', RS: 'RESIZING',
  RV: 'REVOKED', S: 'SUSPENDED', TO: 'TIMEOUT', CG: 'COMPLETING', CF: 'CONFIGURING', SO: 'STAGE_OUT',
  ST: 'STOPPED', SI: 'SIGNALING', SE: 'SPECIAL_EXIT',
};

/** "CANCELLED by 1001" → "CANCELLED"; "cancelled+" → "CANCELLED". */
export function baseStateWord(raw: string): string {
  const word = (raw.trim().split(/\s+/)[0] ?? '').replace(/\+$/, '').toUpperCase();
  return SHORT[word] ?? word;
}

export function mapSlurmState(raw: string): MappedState {
  const word = baseStateWord(raw);
  const entry = TABLE[word];
  if (!entry) return { state: 'UNKNOWN', settled: false, mayRequeue: false, words: `unrecognised Slurm state '${word || raw}'` };
  return { settled: true, mayRequeue: false, ...entry };
}

/** Who cancelled, from "CANCELLED by 1001". */
export function cancelledBy(raw: string): string | undefined {
  return /\bby\s+(\S+)/.exec(raw)?.[1];
}
