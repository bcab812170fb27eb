// Removes what is old: uploads nobody's unfinished job needs, and finished jobs' outputs on the
// gateway and on the cluster. Never touches an unfinished job. Each run logs what it removed.
import { rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { ClusterConfig, GatewayConfig } from '../config.ts';
import type { Database } from '../db/database.ts';
import type { FileRow, JobRow } from '../db/rows.ts';
import type { JobRepository } from '../jobs/jobRepository.ts';
import { stagedCopyToRemove } from '../jobs/inputNames.ts';
import { remoteJobDir } from '../jobs/submitter.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import { asError } from '../remote/errors.ts';

export interface RetentionDeps {
  db: Database;
  /** Job writes go through the repository, which keeps the status cache coherent. */
  jobs: JobRepository;
  clusters: Map<string, ClusterConfig>;
  schedulers: Map<string, Scheduler>;
  retention: GatewayConfig['retention'];
  logger: Logger;
  now?: () => Date;
}

export interface RetentionReport {
  uploadsRemoved: number;
  jobOutputsRemoved: number;
  errors: number;
}

const UNFINISHED = ['PENDING', 'RUNNING', 'UNKNOWN'];
const daysAgo = (now: Date, days: number) => new Date(now.getTime() - days * 86_400_000).toISOString();

export class Retention {
  constructor(private readonly deps: RetentionDeps) {}

  async runOnce(): Promise<RetentionReport> {
    const report: RetentionReport = { uploadsRemoved: 0, jobOutputsRemoved: 0, errors: 0 };
    const now = this.deps.now?.() ?? new Date();
    const { uploadsMaxAgeDays, jobsMaxAgeDays } = this.deps.retention;
    if (jobsMaxAgeDays > 0) await this.removeJobOutputs(daysAgo(now, jobsMaxAgeDays), report);
    if (uploadsMaxAgeDays > 0) await this.removeUploads(daysAgo(now, uploadsMaxAgeDays), report);
    this.deps.logger.info({ ...report }, 'retention run finished');
    return report;
  }

  private async removeJobOutputs(cutoff: string, report: RetentionReport): Promise<void> {
    const { db } = this.deps;
    const old = await db<JobRow>('jobs').whereNotIn('state', UNFINISHED).whereNot('output_phase', 'expired')
      .where('finished_at', '<', cutoff).select('id', 'cluster', 'output_path', 'slurm_job_id');
    for (const [cluster, jobs] of groupBy(old, (j) => j.cluster)) {
      try {
        const config = this.deps.clusters.get(cluster);
        const submitted = jobs.filter((j) => j.slurm_job_id);
        if (config && submitted.length) await this.deps.schedulers.get(cluster)!.removePaths(submitted.map((j) => remoteJobDir(config, j.id)));
        for (const job of jobs) {
          if (job.output_path) await rm(job.output_path, { force: true });
          await this.deps.jobs.patch(job.id, { output_phase: 'expired', output_path: null });
          report.jobOutputsRemoved += 1;
        }
      } catch (err) {
        report.errors += 1;
        this.deps.logger.warn({ cluster, err: asError(err).message }, 'retention: removing job outputs failed; will retry next run');
      }
    }
  }

  private async removeUploads(cutoff: string, report: RetentionReport): Promise<void> {
    const { db } = this.deps;
    const old = await db<FileRow>('files').where('created_at', '<', cutoff)
      .whereNotExists(db('jobs').whereRaw('jobs.file_id = files.id').whereIn('state', UNFINISHED));
    for (const file of old) {
      try {
        const staged = await db('staged_files').where({ file_id: file.id }).select<Array<{ cluster: string; remote_path: string }>>('cluster', 'remote_path');
        for (const [cluster, rows] of groupBy(staged, (s) => s.cluster)) {
          await this.deps.schedulers.get(cluster)?.removePaths(rows.map((r) => stagedCopyToRemove(r.remote_path, file.id)));
        }
        await db('files').where({ id: file.id }).delete();
        await rm(file.stored_path, { force: true });
        report.uploadsRemoved += 1;
      } catch (err) {
        report.errors += 1;
        this.deps.logger.warn({ file: file.id, err: asError(err).message }, 'retention: removing an upload failed; will retry next run');
      }
    }
  }
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

