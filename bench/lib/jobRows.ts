// Job rows written straight into a gateway's SQLite database, for benchmarks that need the
// gateway to believe in jobs it did not submit itself (held Slurm jobs, a prepared job directory).
import { randomUUID } from 'node:crypto';
import type { JobRow } from '../../src/db/rows.ts';

/** A job as the submitter leaves it after sbatch: submitted, with its Slurm id; `patch` adjusts it. */
export function jobRow(slurmJobId: string, patch: Partial<JobRow> = {}): Partial<JobRow> {
  const at = new Date().toISOString();
  return {
    id: randomUUID(), owner: 'anonymous', app: 'caesar', cluster: 'local', file_id: '0'.repeat(32),
    job_inputs: '{}', tag: 'bench', state: 'PENDING', status: `Job submitted to Slurm as job ${slurmJobId}`,
    submit_phase: 'submitted', submit_attempts: 1, script: '#!/bin/sh\n', app_config: '', resources: '{}',
    input_name: 'input.fits', slurm_job_id: slurmJobId, cancel_requested: false, output_phase: 'none', output_attempts: 0,
    created_at: at, updated_at: at, ...patch,
  };
}
