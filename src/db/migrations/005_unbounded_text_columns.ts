// SQLite ignores varchar lengths; PostgreSQL enforces them. Columns holding what a client sent
// (an upload's file name and tag) or what a site decides (paths, Slurm node lists) have no
// length limit in the API, so on PostgreSQL they become text: the same request that works on
// SQLite must not fail there with "value too long". varchar → text rewrites nothing in
// PostgreSQL; on SQLite there is nothing to do.
import type { Knex } from 'knex';

const COLUMNS: Record<string, string[]> = {
  files: ['filename_orig', 'fileext', 'tag', 'stored_path'],
  jobs: ['node_list', 'output_path'],
  staged_files: ['remote_path'],
};

const isPostgres = (knex: Knex) => (knex.client as { dialect?: string }).dialect === 'postgresql';

export async function up(knex: Knex): Promise<void> {
  if (!isPostgres(knex)) return;
  for (const [table, columns] of Object.entries(COLUMNS)) {
    for (const column of columns) await knex.raw('ALTER TABLE ?? ALTER COLUMN ?? TYPE text', [table, column]);
  }
}

export async function down(knex: Knex): Promise<void> {
  if (!isPostgres(knex)) return;
  for (const [table, columns] of Object.entries(COLUMNS)) {
    for (const column of columns) await knex.raw('ALTER TABLE ?? ALTER COLUMN ?? TYPE varchar(255)', [table, column]);
  }
}
