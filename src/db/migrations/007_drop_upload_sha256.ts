// Uploads are no longer hashed: a SHA-256 of every chunk on the event loop cost about 40% of
// upload throughput, and nothing ever read files.sha256 (no response, no query, no job).
//
// Native ALTER TABLE … DROP COLUMN on both databases (SQLite has it since 3.35; the SQLite
// driver bundles a newer one), not knex's dropColumn() or alter(): on SQLite those rebuild the
// table (create a copy, DROP the original, rename) inside the migration's transaction, where
// PRAGMA foreign_keys = OFF has no effect, so dropping the original `files` would cascade-delete
// every staged_files row. Making the column nullable instead would need that same rebuild.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE ?? DROP COLUMN ??', ['files', 'sha256']);
}

/** The hashes are gone: the column comes back empty, so nullable. */
export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('files', (t) => {
    t.string('sha256', 64);
  });
}
