// Decides a job's state from one poll cycle's squeue and sacct records. Pure, so every rule is
// tested on recorded Slurm output:
// - squeue is the live truth; sacct is history and lags a little after submit and after the end;
// - a job absent from both is not finished: only after a grace window is it CLEARED;
// - a final state waits for sacct's row (for the exit code), but not forever;
// - NODE_FAIL / PREEMPTED wait out a requeue window before they count as final.
import type { JobRow } from '../db/rows.ts';
import { exitStatusOf, type SlurmJobRecord } from '../scheduler/slurm/parse.ts';
import { cancelledBy, mapSlurmState, type MappedState } from '../scheduler/slurm/stateTable.ts';
import { isFinal, type JobState } from './states.ts';
import type { JobPatch } from './jobRepository.ts';

export interface VerdictInput {
  job: Pick<JobRow, 'state' | 'missing_since' | 'final_seen_at' | 'slurm_job_id'>;
  live: SlurmJobRecord | undefined;
  accounted: SlurmJobRecord | undefined;
  accountingAnswered: boolean;
  now: Date;
  accountingLagSeconds: number;
  missingGraceSeconds: number;
  requeueGraceSeconds: number;
}

export interface Verdict {
  state: JobState;
  status: string;
  patch: JobPatch;
  /** squeue has shown the end and sacct has not recorded it yet: asking again soon pays off. */
  waitingForAccounting?: boolean;
}

const iso = (epoch: number | null) => (epoch ? new Date(epoch * 1000).toISOString() : null);
const secondsSince = (stamp: string | null, now: Date) => (stamp ? (now.getTime() - Date.parse(stamp)) / 1000 : 0);

function slurmFields(record: SlurmJobRecord, other: SlurmJobRecord | undefined): JobPatch {
  // A record still showing the job as live carries a placeholder exit code ("0:0") and no end:
  // only a record that has seen the end may lend its exit code or times.
  const lender = other && isFinal(mapSlurmState(other.state).state) ? other : undefined;
  const recordFinal = isFinal(mapSlurmState(record.state).state);
  const exit = record.exitCode ?? lender?.exitCode ?? null;
  return {
    slurm_state: record.state,
    slurm_reason: record.reason ?? other?.reason ?? null,
    slurm_exit_code: exit,
    exit_code: exitStatusOf(exit),
    elapsed_seconds: record.elapsedSeconds ?? other?.elapsedSeconds ?? null,
    node_list: record.nodeList ?? other?.nodeList ?? null,
    partition: record.partition ?? other?.partition ?? null,
    slurm_submit_at: iso(record.submitAt ?? other?.submitAt ?? null),
    // sacct's final word on start ("None": it never started) is not overridden by squeue, which
    // prints the cancel time as the start of a job cancelled while pending.
    slurm_start_at: iso(recordFinal ? record.startAt : record.startAt ?? other?.startAt ?? null),
    slurm_end_at: iso(record.endAt ?? lender?.endAt ?? null),
  };
}

export function statusSentence(mapped: MappedState, record: SlurmJobRecord, exit: string | null): string {
  const id = record.jobId;
  switch (mapped.state) {
    case 'PENDING':
      return `Job pending in Slurm (job ${id}${record.reason ? `, reason: ${record.reason}` : ''}${mapped.words === 'pending' ? '' : `; ${mapped.words}`})`;
    case 'RUNNING':
      return mapped.words === 'running'
        ? `Job running in Slurm (job ${id}${record.nodeList ? ` on ${record.nodeList}` : ''})`
        : `Job ${mapped.words} in Slurm (job ${id})`;
    case 'SUCCESS':
      return 'Job completed with success';
    case 'CANCELED': {
      const who = cancelledBy(record.state);
      return `Job canceled${who ? ` by uid ${who}` : ''}`;
    }
    case 'TIMED-OUT':
      return 'Job stopped: time limit reached';
    case 'FAILURE':
      return mapped.words === 'failed' ? `Job failed with exit code ${exit ?? 'unknown'}` : `Job failed: ${mapped.words}${exit ? ` (exit code ${exit})` : ''}`;
    default:
      return `Slurm reports ${mapped.words}; still watching the job`;
  }
}

export function decideVerdict(input: VerdictInput): Verdict | undefined {
  const { live, accounted, now } = input;
  const liveMapped = live ? mapSlurmState(live.state) : undefined;
  const acctMapped = accounted ? mapSlurmState(accounted.state) : undefined;

  if (!live && !accounted) {
    if (!input.accountingAnswered) return undefined;
    const since = input.job.missing_since ?? now.toISOString();
    if (secondsSince(since, now) >= input.missingGraceSeconds) {
      return {
        state: 'CLEARED',
        status: `Job ${input.job.slurm_job_id} vanished from both squeue and sacct for over ${input.missingGraceSeconds} s; its outcome is unknown`,
        patch: { missing_since: since },
      };
    }
    return { state: input.job.state, status: 'Job not (yet) visible in Slurm; still watching', patch: { missing_since: since } };
  }

  // sacct has the final word once the job is over and squeue no longer shows it settling.
  const liveSettling = liveMapped !== undefined && (!liveMapped.settled || !isFinal(liveMapped.state));
  let chosen: { record: SlurmJobRecord; mapped: MappedState; other: SlurmJobRecord | undefined };
  if (accounted && acctMapped && isFinal(acctMapped.state) && !liveSettling) {
    chosen = { record: accounted, mapped: acctMapped, other: live };
  } else if (live && liveMapped) {
    chosen = { record: live, mapped: liveMapped, other: accounted };
  } else {
    chosen = { record: accounted!, mapped: acctMapped!, other: live };
  }
  const patch: JobPatch = { ...slurmFields(chosen.record, chosen.other), missing_since: null };
  const { mapped } = chosen;
  const status = statusSentence(mapped, chosen.record, patch.slurm_exit_code ?? null);

  if (isFinal(mapped.state)) {
    const firstSeen = input.job.final_seen_at ?? now.toISOString();
    patch.final_seen_at = firstSeen;
    const waited = secondsSince(firstSeen, now);
    // squeue saw the end before accounting did: give sacct a moment to record the exit code.
    if (chosen.record === live && waited < input.accountingLagSeconds) {
      return { state: input.job.state, status: `${status}; waiting for accounting`, patch, waitingForAccounting: true };
    }
    if (mapped.mayRequeue && waited < input.requeueGraceSeconds) {
      return { state: input.job.state, status: `${status}; waiting in case Slurm requeues it`, patch };
    }
  } else {
    patch.final_seen_at = null;
  }
  return { state: mapped.state, status, patch };
}
