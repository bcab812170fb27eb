// What clients see of a job: every field both caesar-rest generations used, plus the raw Slurm
// truth. No server path appears here.
import { publicClusterName } from '../users/clusterAccess.ts';
import type { JobRow } from '../db/rows.ts';
import type { JobView } from './schemas.ts';

export function jobView(job: JobRow): JobView {
  const jobInputs = JSON.parse(job.job_inputs) as Record<string, unknown>;
  return {
    job_id: job.id,
    app: job.app,
    cluster: publicClusterName(job.cluster),
    state: job.state,
    status: job.status,
    exit_status: job.exit_code,
    exit_code: job.exit_code,
    elapsed_time: job.elapsed_seconds,
    pid: job.slurm_job_id,
    tag: job.tag,
    job_inputs: jobInputs,
    data_inputs: job.file_id,
    submit_date: job.created_at,
    end_date: job.finished_at,
    output_available: job.output_phase === 'done',
    slurm: {
      job_id: job.slurm_job_id,
      state: job.slurm_state,
      reason: job.slurm_reason,
      exit_code: job.slurm_exit_code,
      node_list: job.node_list,
      partition: job.partition,
      submit: job.slurm_submit_at,
      start: job.slurm_start_at,
      end: job.slurm_end_at,
    },
  };
}
