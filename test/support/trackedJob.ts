// A gateway job row for a Slurm job the test submitted itself, so the gateway's poller follows
// a job driven into a chosen state (failure, timeout, out of memory, node failure, …).
import { randomUUID } from 'node:crypto';
import type { Gateway } from '../../src/gateway.ts';
import type { JobRow } from '../../src/db/rows.ts';

export async function trackSlurmJob(gateway: Gateway, slurmJobId: string, cluster = 'local'): Promise<string> {
  const at = new Date().toISOString();
  const row: JobRow = {
    id: randomUUID(), owner: 'anonymous', app: 'caesar', cluster, file_id: '0'.repeat(32), job_inputs: '{}', tag: 'tracked',
    state: 'PENDING', status: `Job submitted to Slurm as job ${slurmJobId}`, submit_phase: 'submitted', submit_attempts: 1,
    last_error: null, next_attempt_at: null, script: '', app_config: '', resources: '{"base":"x"}', input_name: 'x.fits',
    slurm_job_id: slurmJobId, slurm_state: null, slurm_reason: null, slurm_exit_code: null, exit_code: null,
    elapsed_seconds: null, node_list: null, partition: null, slurm_submit_at: null, slurm_start_at: null, slurm_end_at: null,
    cancel_requested: false, missing_since: null, final_seen_at: null, output_phase: 'none', output_attempts: 0,
    output_bytes: null, output_path: null, created_at: at, updated_at: at, finished_at: null,
  };
  await gateway.jobs.insert(row, 'tracked by the test');
  return row.id;
}
