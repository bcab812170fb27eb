// knex on SQLite (a real file through better-sqlite3, the default) or PostgreSQL (shared by
// several gateways). The same queries run on both. Migrations are TypeScript modules listed here rather than found on disk,
// so they run the same under tsx, in tests and in any working copy.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import type { DatabaseConfig } from '../config.ts';
import * as initial from './migrations/001_initial.ts';
import * as jobListingIndexes from './migrations/002_job_listing_indexes.ts';
import * as idempotencyKeys from './migrations/003_idempotency_keys.ts';
import * as clusterLeases from './migrations/004_cluster_leases.ts';
import * as unboundedTextColumns from './migrations/005_unbounded_text_columns.ts';
import * as usersAndTokens from './migrations/006_users_and_tokens.ts';
import * as dropUploadSha256 from './migrations/007_drop_upload_sha256.ts';

type Migration = { up(knex: Knex): Promise<void>; down(knex: Knex): Promise<void> };
const migrations: Record<string, Migration> = {
  '001_initial': initial,
  '002_job_listing_indexes': jobListingIndexes,
  '003_idempotency_keys': idempotencyKeys,
  '004_cluster_leases': clusterLeases,
  '005_unbounded_text_columns': unboundedTextColumns,
  '006_users_and_tokens': usersAndTokens,
  '007_drop_upload_sha256': dropUploadSha256,
};

/** Exported for tests that roll a migration back and forward again. */
export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: () => Promise.resolve(Object.keys(migrations).sort()),
  getMigrationName: (name) => name,
  getMigration: (name) => {
    const migration = migrations[name];
    if (!migration) throw new Error(`unknown migration ${name}`);
    return Promise.resolve(migration);
  },
};

export type Database = Knex;

function openSqlite(file: string): Database {
  mkdirSync(path.dirname(file), { recursive: true });
  return knexFactory({
    // better-sqlite3 runs each statement synchronously on the event loop: a few hundred
    // microseconds, against a millisecond or more for sqlite3's hop through libuv's thread pool.
    client: 'better-sqlite3',
    connection: { filename: file },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: 1,
      // WAL lets readers (status requests) proceed while the poller writes. synchronous = FULL
      // syncs the WAL at every commit, so an accepted job survives a power cut too (better-sqlite3
      // is built with NORMAL as its WAL default). busy_timeout makes a second process (the admin
      // CLI, a restarted gateway) wait instead of failing at once.
      afterCreate: (conn: SqliteConnection, done: (err: Error | null, conn: unknown) => void) => {
        try {
          for (const pragma of ['journal_mode = WAL', 'synchronous = FULL', 'busy_timeout = 5000', 'foreign_keys = ON']) conn.pragma(pragma);
          cachePreparedStatements(conn);
          done(null, conn);
        } catch (err) {
          done(err as Error, conn);
        }
      },
    },
  });
}

/** What afterCreate uses of a better-sqlite3 connection. */
interface SqliteConnection {
  pragma(source: string): unknown;
  prepare(source: string): unknown;
}

/** Distinct statements kept per connection; the gateway issues about a hundred. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * knex prepares every query anew, and preparing one against the jobs table (40 columns, nine
 * indexes) takes 0.1 to 0.4 ms, more than running it. The connection keeps its prepared
 * statements by SQL text instead (knex binds values separately, so the texts repeat); SQLite
 * re-prepares a kept statement by itself if a migration changes the schema under it.
 */
export function cachePreparedStatements(conn: SqliteConnection): void {
  const prepare = conn.prepare.bind(conn);
  const statements = new Map<string, unknown>();
  conn.prepare = (source) => {
    let statement = statements.get(source);
    if (statement === undefined) {
      statement = prepare(source);
      if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value!);
    } else {
      statements.delete(source); // re-inserted last: Map order is the eviction order
    }
    statements.set(source, statement);
    return statement;
  };
}

// bigint columns (sizes, lease expiry) and count(*) as numbers, as SQLite returns them: every value
// the gateway stores is far below 2^53. Set per connection, not on pg's global registry.
const INT8_OID = 20;
const pgTypes = {
  getTypeParser: (oid: number, format: string): unknown =>
    oid === INT8_OID && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text'),
};

function openPostgres(url: string): Database {
  return knexFactory({
    client: 'pg',
    connection: { connectionString: url, types: pgTypes },
    pool: { min: 0, max: 10 },
  });
}

/** Any constant: the advisory lock that serialises migrations of gateways starting together. */
const MIGRATION_LOCK = 0x63_61_65_73;

/** Open (and migrate) the database. A string is a SQLite file, as before PostgreSQL support. */
export async function openDatabase(target: DatabaseConfig | string): Promise<Database> {
  const config: DatabaseConfig = typeof target === 'string' ? { client: 'sqlite', file: target } : target;
  if (config.client === 'sqlite') {
    const db = openSqlite(config.file);
    await db.migrate.latest({ migrationSource });
    return db;
  }
  const db = openPostgres(config.url);
  try {
    // knex's own migration lock makes a second gateway starting at the same moment fail instead
    // of wait; a session advisory lock, held on a connection of its own, makes it wait.
    await withPooledConnection<pg.Client, void>(db, async (conn) => {
      await conn.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      try {
        await db.migrate.latest({ migrationSource });
      } finally {
        await conn.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
      }
    });
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return db;
}

type PoolClient<C> = { acquireConnection(): Promise<C>; releaseConnection(conn: C): Promise<void> };

/** `work` on one of the pool's connections, held (from everyone else) until it ends. */
export async function withPooledConnection<C, T>(db: Database, work: (conn: C) => Promise<T>): Promise<T> {
  const pool = db.client as PoolClient<C>;
  const conn = await pool.acquireConnection();
  try {
    return await work(conn);
  } finally {
    await pool.releaseConnection(conn);
  }
}

/** Which SQL dialect a knex instance speaks (the few statements that differ ask this). */
export function dialectOf(db: Knex): 'sqlite' | 'postgres' {
  return (db.client as { dialect?: string }).dialect === 'postgresql' ? 'postgres' : 'sqlite';
}
