// The job states clients see (caesar-rest v1.0 vocabulary plus CLEARED/UNKNOWN), and which of
// them are final. Transitions are checked here so no writer can move a finished job back.

export const JOB_STATES = [
  'PENDING', 'RUNNING', 'SUCCESS', 'FAILURE', 'TIMED-OUT', 'CANCELED', 'ABORTED', 'CLEARED', 'UNKNOWN',
] as const;
export type JobState = (typeof JOB_STATES)[number];

const FINAL: ReadonlySet<JobState> = new Set(['SUCCESS', 'FAILURE', 'TIMED-OUT', 'CANCELED', 'ABORTED', 'CLEARED']);

export function isFinal(state: JobState): boolean {
  return FINAL.has(state);
}

/** A final state is never left; anything else may move anywhere (Slurm can requeue a job). */
export function canTransition(from: JobState, to: JobState): boolean {
  return from === to || !isFinal(from);
}

export function isJobState(value: string): value is JobState {
  return (JOB_STATES as readonly string[]).includes(value);
}
