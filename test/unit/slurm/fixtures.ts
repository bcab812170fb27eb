// Access to the recorded Slurm output in test/fixtures/slurm (see its README.md and
// scripts/record-slurm-fixtures.sh). Tests only read these files; no cluster is needed.
import { existsSync, readFileSync } from 'node:fs';
import { parseSacct, parseSqueue, type SlurmJobRecord } from '../../../src/scheduler/slurm/parse.ts';

const DIR = new URL('../../fixtures/slurm/', import.meta.url);

export type Scenario =
  | 'completed' | 'clusters' | 'failed' | 'cancelled' | 'timeout' | 'oom' | 'running' | 'suspended' | 'held'
  | 'resources' | 'completingCancelled' | 'completing' | 'nodeFail' | 'invalid';

export interface RecordingInfo {
  slurmVersion: string;
  cluster: string;
  node: string;
  user: string;
  uid: string;
  recordedAt: string;
  jobs: Record<Scenario, string>;
}

export function fixturePath(name: string): URL {
  return new URL(name, DIR);
}

/** Raw bytes of a fixture file, as text (the separators are kept). */
export function fixture(name: string): string {
  const url = fixturePath(name);
  if (!existsSync(url)) throw new Error(`missing fixture test/fixtures/slurm/${name} (scripts/record-slurm-fixtures.sh)`);
  return readFileSync(url, 'utf8');
}

export const recording: RecordingInfo = JSON.parse(fixture('jobs.json')) as RecordingInfo;

export function jobId(scenario: Scenario): string {
  const id = recording.jobs[scenario];
  if (!id || !/^\d+$/.test(id)) throw new Error(`jobs.json has no job id for ${scenario}`);
  return id;
}

export function squeueOf(base: string): SlurmJobRecord[] {
  return parseSqueue(fixture(`${base}.squeue.txt`));
}

export function sacctOf(base: string): SlurmJobRecord[] {
  return parseSacct(fixture(`${base}.sacct.txt`));
}

/** The one record of `id` in a recorded squeue/sacct output; throws if it is not there exactly once. */
export function recordIn(records: SlurmJobRecord[], id: string): SlurmJobRecord {
  const found = records.filter((r) => r.jobId === id);
  if (found.length !== 1) throw new Error(`expected one record for job ${id}, found ${found.length}`);
  return found[0]!;
}

export function live(base: string, scenario: Scenario): SlurmJobRecord {
  return recordIn(squeueOf(base), jobId(scenario));
}

export function accounted(base: string, scenario: Scenario): SlurmJobRecord {
  return recordIn(sacctOf(base), jobId(scenario));
}
