// Database access for uploaded files. Every read is scoped to an owner: another user's file
// simply does not exist.
import type { Database } from '../db/database.ts';
import type { FileRow } from '../db/rows.ts';

export class FileRepository {
  constructor(private readonly db: Database) {}

  async insert(row: FileRow): Promise<void> {
    await this.db('files').insert(row);
  }

  /** `owner` null: any owner (an admin's view). */
  async findOwned(owner: string | null, id: string): Promise<FileRow | undefined> {
    return this.db<FileRow>('files').where(owner === null ? { id } : { owner, id }).first();
  }

  async findOwnedByPath(owner: string, storedPath: string): Promise<FileRow | undefined> {
    return this.db<FileRow>('files').where({ owner, stored_path: storedPath }).first();
  }

  async listOwned(owner: string | null): Promise<FileRow[]> {
    return this.db<FileRow>('files').where(owner === null ? {} : { owner }).orderBy('created_at', 'asc');
  }

  async remove(id: string): Promise<void> {
    await this.db('files').where({ id }).delete();
  }

  async stagedPath(fileId: string, cluster: string): Promise<string | undefined> {
    const row = await this.db('staged_files').where({ file_id: fileId, cluster }).first<{ remote_path: string } | undefined>();
    return row?.remote_path;
  }

  async recordStaged(fileId: string, cluster: string, remotePath: string): Promise<void> {
    await this.db('staged_files')
      .insert({ file_id: fileId, cluster, remote_path: remotePath, staged_at: new Date().toISOString() })
      .onConflict(['file_id', 'cluster']).merge();
  }
}
