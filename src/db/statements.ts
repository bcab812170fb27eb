// The statements on the path from POST /job to the Slurm id (the limit check, the input's lookup,
// the job's insert, the Slurm id's record), run with the least overhead each database allows.
//
// knex runs every statement through a chain of promises (pool, runner, transaction client). On
// SQLite, where better-sqlite3 executes a statement synchronously, that chain was most of the
// cost: timed inside the gateway during benchmark rounds on this 2-core machine, inserting a job
// (BEGIN, two inserts, COMMIT with its fsync) took 3.0 ms end to end for 1.0 ms of SQLite's own
// work; run here, 2.0 to 2.3 ms. The statements are still built by knex, but on SQLite they run
// back to back on the pooled connection in one synchronous block. PostgreSQL runs them through
// knex, in a transaction when there are several.
import type { Knex } from 'knex';
import { dialectOf, withPooledConnection, type Database } from './database.ts';

export type Statement = Knex.QueryBuilder | Knex.Raw;

/** What a statement gave: its rows when it reads or has a `returning`, else how many rows it changed. */
export type StatementResult = unknown[] | number;

export interface RunOptions {
  /**
   * 'deferred': the commit may return before it reaches the disk. Only for a write the gateway
   * rebuilds if a power cut loses it. On SQLite the block runs at synchronous = NORMAL: the
   * commit is in the write-ahead log, which survives a crash of the gateway, and the next FULL
   * commit syncs it to disk (the log is synced in order). That saves an fsync, 0.7 to 1.7 ms here.
   * PostgreSQL commits as usual.
   */
  durability?: 'full' | 'deferred';
}

/** better-sqlite3's side of a pooled connection (see openSqlite). */
interface SqliteConnection {
  pragma(source: string): unknown;
  prepare(source: string): SqliteStatement;
  transaction<T>(work: () => T): () => T;
}

interface SqliteStatement {
  /** Whether the statement returns rows (a select, or a write with `returning`). */
  reader: boolean;
  all(values: unknown[]): unknown[];
  run(values: unknown[]): { changes: number };
}

/** Runs `statements` in order, as one transaction when there are several; all or none commit. */
export async function runStatements(db: Database, statements: Statement[], options: RunOptions = {}): Promise<StatementResult[]> {
  if (dialectOf(db) === 'postgres') return runOnPostgres(db, statements);
  return withPooledConnection<SqliteConnection, StatementResult[]>(db, (conn) => {
    const deferred = options.durability === 'deferred';
    if (deferred) conn.pragma('synchronous = NORMAL');
    try {
      const runAll = () => statements.map((statement) => runOnSqlite(conn, statement));
      return Promise.resolve(statements.length === 1 ? runAll() : conn.transaction(runAll)());
    } finally {
      if (deferred) conn.pragma('synchronous = FULL');
    }
  });
}

/** The first row a query (built with .first()) reads, or undefined. */
export async function readFirst<T>(db: Database, query: Knex.QueryBuilder): Promise<T | undefined> {
  if (dialectOf(db) === 'postgres') return (await query) as T | undefined;
  const [rows] = await runStatements(db, [query]);
  return Array.isArray(rows) ? rows[0] as T | undefined : undefined;
}

function runOnSqlite(conn: SqliteConnection, statement: Statement): StatementResult {
  const compiled = statement.toSQL();
  // knex compiles a few operations (none of those used here) into several statements.
  if (Array.isArray(compiled)) throw new Error('runStatements: a statement that knex compiles into several');
  const { sql, bindings } = compiled;
  const prepared = conn.prepare(sql);
  // As knex's better-sqlite3 client binds them.
  const values = bindings.map((value) => (typeof value === 'boolean' ? Number(value) : value instanceof Date ? value.valueOf() : value));
  return prepared.reader ? prepared.all(values) : prepared.run(values).changes;
}

async function runOnPostgres(db: Database, statements: Statement[]): Promise<StatementResult[]> {
  const asResult = (value: unknown): StatementResult => (Array.isArray(value) ? value as unknown[] : typeof value === 'number' ? value : 0);
  if (statements.length === 1) return [asResult(await statements[0]!)];
  return db.transaction(async (trx) => {
    const results: StatementResult[] = [];
    for (const statement of statements) results.push(asResult(await statement.transacting(trx)));
    return results;
  });
}
