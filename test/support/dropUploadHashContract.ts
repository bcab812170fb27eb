// Migration 007 drops files.sha256. Run against a real SQLite file (unit tests) and a real
// PostgreSQL server (integration): existing uploads and their staged copies on clusters survive
// it — on SQLite a table rebuild would cascade-delete staged_files — and it rolls back.
import { expect } from 'chai';
import { migrationSource, type Database } from '../../src/db/database.ts';
import type { FileRow } from '../../src/db/rows.ts';

export interface MigrationTestDatabase {
  /** A connection pool on a fresh database, migrated to the latest version. */
  open(): Promise<Database>;
  cleanup(): Promise<void>;
}

export function dropUploadHashContract(label: string, setup: () => Promise<MigrationTestDatabase>): void {
  describe(`migration 007_drop_upload_sha256 (${label})`, () => {
    it('keeps every upload and its staged copies, and rolls back to an empty nullable column', async () => {
      const database = await setup();
      const db = await database.open();
      try {
        await db.migrate.down({ migrationSource });
        expect(await db.schema.hasColumn('files', 'sha256')).to.equal(true);
        const file: FileRow = {
          id: 'a'.repeat(32), owner: 'alice', filename_orig: 'field.fits', fileext: 'fits', format: 'fits', size_bytes: 2880,
          tag: 'survey', stored_path: '/data/uploads/a.fits', created_at: new Date().toISOString(),
        };
        await db('files').insert({ ...file, sha256: 'f'.repeat(64) });
        await db('staged_files').insert({ file_id: file.id, cluster: 'local', remote_path: '/scratch/a.fits', staged_at: file.created_at });

        await db.migrate.latest({ migrationSource });
        expect(await db.schema.hasColumn('files', 'sha256')).to.equal(false);
        expect(await db('files').select()).to.deep.equal([file]);
        expect(await db('staged_files').select('file_id', 'cluster', 'remote_path'))
          .to.deep.equal([{ file_id: file.id, cluster: 'local', remote_path: '/scratch/a.fits' }]);

        await db.migrate.down({ migrationSource });
        expect(await db('files').select('id', 'sha256')).to.deep.equal([{ id: file.id, sha256: null }]);
      } finally {
        await db.destroy();
        await database.cleanup();
      }
    });
  });
}
