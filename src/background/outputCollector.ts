// Collects each finished job's directory from the cluster as one tar.gz stream (tar -cz on the
// cluster side, not file by file) into the gateway's output store. Written under a temporary
// name and renamed when complete, so a crash mid-transfer leaves nothing that looks finished;
// the job stays 'pending' and the next pass starts again.
import { createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import type { CrashHook } from '../faults.ts';
import { withoutPaths } from '../jobs/clientMessage.ts';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ClusterConfig } from '../config.ts';
import type { JobRow } from '../db/rows.ts';
import type { JobRepository } from '../jobs/jobRepository.ts';
import { remoteJobDir } from '../jobs/submitter.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import { asError } from '../remote/errors.ts';

export interface OutputCollectorDeps {
  jobs: JobRepository;
  clusters: Map<string, ClusterConfig>;
  schedulers: Map<string, Scheduler>;
  outputDir: string;
  logger: Logger;
  maxAttempts: number;
  maxBytes: number;
  crash?: CrashHook;
}

class OutputTooLargeError extends Error {}

/** Counts bytes on their way to disk and refuses to go past the limit. */
function sizeLimit(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > maxBytes) done(new OutputTooLargeError(`the job's output is larger than the limit of ${maxBytes} bytes (outputs.maxBytes)`));
      else done(null, chunk);
    },
  });
}

export class OutputCollector {
  private readonly busy = new Set<string>();

  constructor(private readonly deps: OutputCollectorDeps) {}

  static outputFile(outputDir: string, jobId: string): string {
    return path.join(outputDir, `job_${jobId}.tar.gz`);
  }

  async collectCluster(cluster: string): Promise<void> {
    if (this.busy.has(cluster)) return;
    this.busy.add(cluster);
    try {
      for (const job of await this.deps.jobs.awaitingOutput(cluster)) await this.collect(job);
    } finally {
      this.busy.delete(cluster);
    }
  }

  private async collect(job: JobRow): Promise<void> {
    const { jobs, logger, outputDir } = this.deps;
    const cluster = this.deps.clusters.get(job.cluster)!;
    const final = OutputCollector.outputFile(outputDir, job.id);
    const partial = `${final}.part`;
    await mkdir(outputDir, { recursive: true });
    try {
      const limited = sizeLimit(this.deps.maxBytes);
      // 1 MiB, not 16 KiB, may wait while a write is on the thread pool: the SSH channel goes on
      // being read (and its window reopened) meanwhile instead of pausing at every write.
      const file = createWriteStream(partial, { highWaterMark: 1024 * 1024 });
      limited.pipe(file);
      let crashed = false;
      limited.on('data', () => {
        if (!crashed) { crashed = true; this.deps.crash?.('during-collection'); }
      });
      await this.deps.schedulers.get(job.cluster)!.streamDirectory(remoteJobDir(cluster, job.id), limited);
      if (!file.writableFinished) await once(file, 'finish');
      await rename(partial, final);
      const { size } = await stat(final);
      await jobs.patch(job.id, { output_phase: 'done', output_path: final, output_bytes: size, output_attempts: job.output_attempts + 1 });
      logger.info({ job: job.id, bytes: size }, 'output collected');
    } catch (err) {
      await rm(partial, { force: true });
      const attempts = job.output_attempts + 1;
      if (err instanceof OutputTooLargeError) {
        await jobs.patch(job.id, { output_attempts: attempts, output_phase: 'failed', last_error: err.message, status: `${job.status}; output not collected: ${withoutPaths(err.message)}` });
        logger.warn({ job: job.id, err: err.message }, 'output not collected: too large');
        return;
      }
      const givingUp = attempts >= this.deps.maxAttempts;
      await jobs.patch(job.id, { output_attempts: attempts, output_phase: givingUp ? 'failed' : 'pending', last_error: asError(err).message });
      logger.warn({ job: job.id, attempts, err: asError(err).message }, givingUp ? 'output collection abandoned' : 'output collection failed; will retry');
    }
  }
}
