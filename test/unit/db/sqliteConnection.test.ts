// The SQLite connection's two speed-ups, on a real database file: prepared statements kept by SQL
// text, and deferred runStatements() that commit without an fsync and then restore FULL.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { cachePreparedStatements, openDatabase, type Database } from '../../../src/db/database.ts';
import { runStatements } from '../../../src/db/statements.ts';
import { statementsContract } from '../../support/statementsContract.ts';

/** What SQLite says the connection's synchronous setting is (0 OFF, 1 NORMAL, 2 FULL). */
async function synchronousOf(query: { first(): Promise<unknown> }): Promise<number> {
  const row = await query.first() as { synchronous: number };
  return row.synchronous;
}

describe('db: the SQLite connection', () => {
  let dir: string;
  let db: Database;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'caesar-sqlite-'));
    db = await openDatabase(path.join(dir, 'gateway.sqlite3'));
    await db.schema.createTable('things', (t) => { t.string('id').primary(); t.string('name'); });
  });
  afterEach(async () => {
    await db?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('prepared statements', () => {
    it('prepares a statement once per SQL text and keeps answering with current data', async () => {
      await db('things').insert({ id: 'a', name: 'first' });
      const pool = db.client as { acquireConnection(): Promise<{ prepare(sql: string): unknown }>; releaseConnection(conn: unknown): Promise<void> };
      const conn = await pool.acquireConnection();
      try {
        const sql = 'select name from things where id = ?';
        expect(conn.prepare(sql)).to.equal(conn.prepare(sql));
        expect(conn.prepare(sql)).not.to.equal(conn.prepare('select id from things where id = ?'));
      } finally {
        await pool.releaseConnection(conn);
      }
      expect(await db('things').where({ id: 'a' }).first()).to.deep.equal({ id: 'a', name: 'first' });
      await db('things').where({ id: 'a' }).update({ name: 'second' });
      expect(await db('things').where({ id: 'a' }).first()).to.deep.equal({ id: 'a', name: 'second' });
    });

    it('sees a column a migration added after the statement was first prepared', async () => {
      await db('things').insert({ id: 'a', name: 'first' });
      expect(await db('things').where({ id: 'a' }).first()).to.deep.equal({ id: 'a', name: 'first' });
      await db.schema.alterTable('things', (t) => { t.integer('size').defaultTo(7); });
      expect(await db('things').where({ id: 'a' }).first()).to.deep.equal({ id: 'a', name: 'first', size: 7 });
    });

    it('keeps at most 500 statements, dropping the least recently used', () => {
      const prepared: string[] = [];
      const conn = { pragma: () => undefined, prepare: (sql: string) => { prepared.push(sql); return { sql }; } };
      cachePreparedStatements(conn);
      const first = conn.prepare('select 0');
      for (let i = 1; i < 500; i++) conn.prepare(`select ${i}`);
      expect(conn.prepare('select 0')).to.equal(first); // used again: now the most recent
      conn.prepare('select 500'); // the 501st: 'select 1' is the least recently used and goes
      expect(prepared.length).to.equal(501);
      expect(conn.prepare('select 0')).to.equal(first);
      conn.prepare('select 1');
      expect(prepared.length).to.equal(502);
    });
  });

  describe("runStatements(…, { durability: 'deferred' })", () => {
    const setting = () => db.select('synchronous').from(db.raw('pragma_synchronous()'));

    it('runs its statements at synchronous = NORMAL on its own connection, then restores FULL', async () => {
      expect(await synchronousOf(setting())).to.equal(2);
      const [, inside] = await runStatements(db, [db('things').insert({ id: 'b', name: 'deferred' }), setting()], { durability: 'deferred' });
      expect(inside).to.deep.equal([{ synchronous: 1 }]);
      expect(await synchronousOf(setting())).to.equal(2);
      expect(await db('things').where({ id: 'b' }).first()).to.deep.equal({ id: 'b', name: 'deferred' });
      // Without the option, the statements run at FULL.
      expect((await runStatements(db, [setting()]))[0]).to.deep.equal([{ synchronous: 2 }]);
    });

    it('restores FULL when a statement fails, and the pool still serves queries', async () => {
      let failure: unknown;
      try {
        await runStatements(db, [db('things').insert({ id: 'c', name: 'x' }), db('things').insert({ id: 'c', name: 'duplicate' })], { durability: 'deferred' });
      } catch (err) {
        failure = err;
      }
      expect(String(failure)).to.match(/UNIQUE constraint failed/);
      expect(await synchronousOf(setting())).to.equal(2);
      expect(await db('things').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
    });
  });
});

statementsContract('SQLite', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'caesar-statements-'));
  return Promise.resolve({
    open: () => openDatabase(path.join(dir, 'gateway.sqlite3')),
    cleanup: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
  });
});
