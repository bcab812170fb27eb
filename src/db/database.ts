// knex on SQLite (a real file). Migrations are TypeScript modules listed here rather than found
// on disk, so they run the same under tsx, in tests and in any working copy.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import * as initial from './migrations/001_initial.ts';
import * as jobListingIndexes from './migrations/002_job_listing_indexes.ts';

type Migration = { up(knex: Knex): Promise<void>; down(knex: Knex): Promise<void> };
const migrations: Record<string, Migration> = {
  '001_initial': initial,
  '002_job_listing_indexes': jobListingIndexes,
};

const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: () => Promise.resolve(Object.keys(migrations).sort()),
  getMigrationName: (name) => name,
  getMigration: (name) => {
    const migration = migrations[name];
    if (!migration) throw new Error(`unknown migration ${name}`);
    return Promise.resolve(migration);
  },
};

export type Database = Knex;

export async function openDatabase(file: string): Promise<Database> {
  mkdirSync(path.dirname(file), { recursive: true });
  const db = knexFactory({
    client: 'sqlite3',
    connection: { filename: file },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: 1,
      // WAL lets readers (status requests) proceed while the poller writes; busy_timeout makes a
      // second process (the admin CLI, a restarted gateway) wait instead of failing at once.
      afterCreate: (conn: { run(sql: string, cb: (err: Error | null) => void): void }, done: (err: Error | null, conn: unknown) => void) => {
        conn.run('PRAGMA journal_mode = WAL', () =>
          conn.run('PRAGMA busy_timeout = 5000', () =>
            conn.run('PRAGMA foreign_keys = ON', (err) => done(err, conn))));
      },
    },
  });
  await db.migrate.latest({ migrationSource });
  return db;
}
