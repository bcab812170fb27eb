// The real PostgreSQL server that scripts/postgres.sh starts, for tests: a fresh database per
// test gateway (created through the test role, which may create databases) and dropped after.
// CAESAR_TEST_DATABASE=postgres runs every test gateway on PostgreSQL instead of SQLite.
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const POSTGRES_URL_FILE = '/var/lib/caesar-gateway/postgres/url';

export const testsUsePostgres = (): boolean => process.env.CAESAR_TEST_DATABASE === 'postgres';

/** The URL of the test role's own database (scripts/postgres.sh up writes it). */
export function postgresAdminUrl(): string {
  if (process.env.CAESAR_TEST_POSTGRES_URL) return process.env.CAESAR_TEST_POSTGRES_URL;
  if (!existsSync(POSTGRES_URL_FILE)) {
    throw new Error(`no PostgreSQL for the tests: ${POSTGRES_URL_FILE} is missing; run \`bash scripts/postgres.sh up\``);
  }
  return readFileSync(POSTGRES_URL_FILE, 'utf8').trim();
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresAdminUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const PREFIX = 'caesar_t_';
const STALE_MS = 6 * 3600_000;
const created = new Set<string>();
let sweptStale = false;

/** Databases left by runs that died (their name carries their creation time). */
async function dropStale(client: pg.Client): Promise<void> {
  if (sweptStale) return;
  sweptStale = true;
  // starts_with, not LIKE: '_' is a LIKE wildcard, and 'caesar_t_%' would match caesar_test itself.
  const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [PREFIX]);
  for (const { datname } of rows) {
    const at = Number(datname.slice(PREFIX.length).split('_')[0]);
    if (Number.isFinite(at) && Date.now() - at > STALE_MS) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `${PREFIX}${Date.now()}_${process.pid}_${randomBytes(3).toString('hex')}`;
  await admin(async (client) => {
    await dropStale(client);
    await client.query(`CREATE DATABASE "${name}"`);
  });
  created.add(name);
  const url = new URL(postgresAdminUrl());
  url.pathname = `/${name}`;
  return { name, url: url.toString(), drop: () => dropTestDatabase(name) };
}

export async function dropTestDatabase(name: string): Promise<void> {
  if (!created.delete(name)) return;
  // FORCE: a gateway killed with SIGKILL may leave its connections behind for a moment.
  await admin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

/** On PostgreSQL, the database goes with the data directory: a gateway restarted on it finds its state. */
const byDataDir = new Map<string, TestDatabase>();

/** With CAESAR_TEST_DATABASE=postgres, the database of a test gateway's data directory (created on first use). */
export async function testDatabaseFor(dataDir: string): Promise<TestDatabase | undefined> {
  if (!testsUsePostgres()) return undefined;
  let database = byDataDir.get(dataDir);
  if (!database) {
    database = await createTestDatabase();
    byDataDir.set(dataDir, database);
  }
  return database;
}

/** Drop a data directory's database (its gateway is gone and so is the directory). */
export async function dropTestDatabaseFor(dataDir: string): Promise<void> {
  const database = byDataDir.get(dataDir);
  byDataDir.delete(dataDir);
  await database?.drop();
}

// Databases a test kept (a data directory it passed in, to restart a gateway on) go when the run ends.
let sweeping = false;
process.on('beforeExit', () => {
  if (sweeping || created.size === 0) return;
  sweeping = true;
  void Promise.allSettled([...created].map((name) => dropTestDatabase(name)));
});
