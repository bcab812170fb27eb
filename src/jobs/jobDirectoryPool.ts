// Job directories made on a cluster before the jobs that will use them exist. A job's directory
// is named by its id, and `mkdir` is a process of its own on the cluster: about 4 ms of the
// ~25 ms from POST /job to a Slurm id on the local cluster (bench/submission.ts). So ids are
// handed out whose directories were made ahead, a batch at a time in one command, after a
// submission rather than in the way of one.
//
// The pool only saves time: the submission script makes a missing directory itself, so an id
// from an empty pool (just started, a burst, an instance that does not submit) works the same.
// Directories no job took are removed at shutdown; after a crash they stay behind, empty (or
// holding the files of a job whose acceptance the crash cut short, see prepareAhead).
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ClusterConfig } from '../config.ts';
import { asError } from '../remote/errors.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import { remoteJobDir } from './submitter.ts';

export interface JobDirectoryPoolDeps {
  clusters: Map<string, ClusterConfig>;
  schedulers: Map<string, Scheduler>;
  logger: Logger;
  /** Directories made per command; a new batch is made once fewer than half of one are left. */
  batchSize?: number;
}

export class JobDirectoryPool {
  /** Per cluster: ids whose directories exist and that no job has taken. */
  private readonly ready = new Map<string, string[]>();
  private readonly filling = new Map<string, Promise<void>>();
  private readonly batchSize: number;

  constructor(private readonly deps: JobDirectoryPoolDeps) {
    this.batchSize = deps.batchSize ?? 32;
  }

  /** The id for a new job on this cluster: one whose directory is made, if any is left. */
  newJobId(cluster: string): string {
    return this.ready.get(cluster)?.shift() ?? randomUUID();
  }

  /** Ids ready for this cluster (tests, diagnostics). */
  readyCount(cluster: string): number {
    return this.ready.get(cluster)?.length ?? 0;
  }

  /** Make a batch when fewer than half of one are left. Never fails: a failure is only logged. */
  topUp(cluster: string): Promise<void> {
    const left = this.readyCount(cluster);
    if (left >= this.batchSize / 2) return Promise.resolve();
    let filling = this.filling.get(cluster);
    if (!filling) {
      filling = this.fill(cluster, this.batchSize - left).finally(() => this.filling.delete(cluster));
      this.filling.set(cluster, filling);
    }
    return filling;
  }

  /** Shutdown: remove the directories no job took (best effort). */
  async discard(): Promise<void> {
    await Promise.all([...this.filling.values()]);
    for (const [cluster, ids] of this.ready) {
      this.ready.delete(cluster);
      if (ids.length === 0) continue;
      const config = this.deps.clusters.get(cluster)!;
      await this.deps.schedulers.get(cluster)!.removePaths(ids.map((id) => remoteJobDir(config, id)))
        .catch((err: unknown) => this.deps.logger.warn({ cluster, err: asError(err).message }, 'could not remove unused job directories'));
    }
  }

  private async fill(cluster: string, count: number): Promise<void> {
    const config = this.deps.clusters.get(cluster);
    const scheduler = this.deps.schedulers.get(cluster);
    if (!config || !scheduler) return;
    const ids = Array.from({ length: count }, () => randomUUID());
    try {
      await scheduler.makeDirectories(ids.map((id) => remoteJobDir(config, id)));
      this.ready.set(cluster, [...(this.ready.get(cluster) ?? []), ...ids]);
    } catch (err) {
      this.deps.logger.warn({ cluster, err: asError(err).message }, 'could not make job directories ahead; jobs make their own');
    }
  }
}
