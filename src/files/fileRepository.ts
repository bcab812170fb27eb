// Database access for uploaded files. Every read is scoped to an owner: another user's file
// simply does not exist.
import type { Database } from '../db/database.ts';
import type { FileRow } from '../db/rows.ts';
import { readFirst } from '../db/statements.ts';

/** An uploaded file, and where it already is on one cluster (undefined: not staged there yet). */
export interface StagedInput {
  file: FileRow;
  stagedPath: string | undefined;
}

export class FileRepository {
  constructor(private readonly db: Database) {}

  async insert(row: FileRow): Promise<void> {
    await this.db('files').insert(row);
  }

  /** `owner` null: any owner (an admin's view). */
  async findOwned(owner: string | null, id: string): Promise<FileRow | undefined> {
    return this.db<FileRow>('files').where(owner === null ? { id } : { owner, id }).first();
  }

  async listOwned(owner: string | null): Promise<FileRow[]> {
    return this.db<FileRow>('files').where(owner === null ? {} : { owner }).orderBy('created_at', 'asc');
  }

  async remove(id: string): Promise<void> {
    await this.db('files').where({ id }).delete();
  }

  /** A job's input named by uuid or by the `path` upload returned, with where it is staged on
   *  the cluster (undefined: not yet), in one query. Undefined when the caller has no such file. */
  async findInputOwned(owner: string, reference: string, cluster: string): Promise<StagedInput | undefined> {
    const byId = /^[0-9a-f]{32}$/.test(reference);
    return this.withStagedPath(cluster, byId ? { 'files.owner': owner, 'files.id': reference } : { 'files.owner': owner, 'files.stored_path': reference });
  }

  /** A job's input as the submitter needs it, in one query: the file, and where it is already
   *  staged on the cluster (undefined: not yet). Undefined when the file is gone. */
  async findForSubmission(owner: string, id: string, cluster: string): Promise<StagedInput | undefined> {
    return this.withStagedPath(cluster, { 'files.owner': owner, 'files.id': id });
  }

  private async withStagedPath(cluster: string, where: Record<string, string>): Promise<StagedInput | undefined> {
    const row = await readFirst<FileRow & { staged_remote_path: string | null }>(this.db, this.db<FileRow>('files')
      .leftJoin('staged_files', (on) => on.on('staged_files.file_id', '=', 'files.id').andOnVal('staged_files.cluster', '=', cluster))
      .where(where)
      .first('files.*', 'staged_files.remote_path as staged_remote_path'));
    if (!row) return undefined;
    const { staged_remote_path: stagedPath, ...file } = row;
    return { file, stagedPath: stagedPath ?? undefined };
  }

  async recordStaged(fileId: string, cluster: string, remotePath: string): Promise<void> {
    await this.db('staged_files')
      .insert({ file_id: fileId, cluster, remote_path: remotePath, staged_at: new Date().toISOString() })
      .onConflict(['file_id', 'cluster']).merge();
  }
}
