// Sends each input image to a cluster once: a campaign of 500 jobs on one image stages it a
// single time. Concurrent jobs on the same image share one transfer; the database remembers
// what is already there across restarts.
import type { ClusterConfig } from '../config.ts';
import type { FileRow } from '../db/rows.ts';
import type { FileRepository } from '../files/fileRepository.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import { stagedInputPath, usableStagedCopy } from './inputNames.ts';

export class InputStager {
  private readonly transfers = new Map<string, Promise<string>>();

  constructor(private readonly files: FileRepository) {}

  /** `input.stagedPath`: where the database says the file already is on this cluster, if anywhere
   *  (staged again if it is under another remote root, see usableStagedCopy). */
  async ensureStaged(input: { file: FileRow; stagedPath: string | undefined }, cluster: ClusterConfig, scheduler: Scheduler): Promise<string> {
    const { file } = input;
    const stagedPath = usableStagedCopy(input.stagedPath, cluster.remoteRoot);
    if (stagedPath) return stagedPath;
    const key = `${cluster.name}/${file.id}`;
    let transfer = this.transfers.get(key);
    if (!transfer) {
      transfer = this.stage(file, cluster, scheduler).finally(() => this.transfers.delete(key));
      this.transfers.set(key, transfer);
    }
    return transfer;
  }

  private async stage(file: FileRow, cluster: ClusterConfig, scheduler: Scheduler): Promise<string> {
    const remotePath = stagedInputPath(cluster.remoteRoot, file);
    await scheduler.stageFile(file.stored_path, remotePath);
    await this.files.recordStaged(file.id, cluster.name, remotePath);
    return remotePath;
  }
}
