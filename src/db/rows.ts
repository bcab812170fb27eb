// Row shapes as stored. Only repositories see these; services work with them directly since
// they map one to one, and the HTTP layer shapes what clients see.
import type { JobState } from '../jobs/states.ts';

export interface FileRow {
  id: string;
  owner: string;
  filename_orig: string;
  fileext: string;
  format: string;
  size_bytes: number;
  tag: string | null;
  stored_path: string;
  created_at: string;
}

export type SubmitPhase = 'queued' | 'submitting' | 'submitted' | 'abandoned';
export type OutputPhase = 'none' | 'pending' | 'done' | 'failed' | 'expired';

export interface JobRow {
  id: string;
  owner: string;
  app: string;
  cluster: string;
  file_id: string;
  job_inputs: string;
  tag: string | null;
  state: JobState;
  status: string;
  submit_phase: SubmitPhase;
  submit_attempts: number;
  last_error: string | null;
  next_attempt_at: string | null;
  script: string;
  app_config: string;
  resources: string;
  input_name: string;
  slurm_job_id: string | null;
  slurm_state: string | null;
  slurm_reason: string | null;
  slurm_exit_code: string | null;
  exit_code: number | null;
  elapsed_seconds: number | null;
  node_list: string | null;
  partition: string | null;
  slurm_submit_at: string | null;
  slurm_start_at: string | null;
  slurm_end_at: string | null;
  cancel_requested: number | boolean;
  missing_since: string | null;
  final_seen_at: string | null;
  output_phase: OutputPhase;
  output_attempts: number;
  output_bytes: number | null;
  output_path: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

export interface JobEventRow {
  id: number;
  job_id: string;
  at: string;
  from_state: JobState | null;
  to_state: JobState;
  reason: string;
}
