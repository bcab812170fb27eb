// runStatements()/readFirst() (src/db/statements.ts) give the same answers on a real SQLite file
// (unit tests) and a real PostgreSQL server (integration), though SQLite runs them without knex.
import { expect } from 'chai';
import type { Database } from '../../src/db/database.ts';
import { readFirst, runStatements } from '../../src/db/statements.ts';
import type { MigrationTestDatabase } from './dropUploadHashContract.ts';

export function statementsContract(label: string, setup: () => Promise<MigrationTestDatabase>): void {
  describe(`db: runStatements and readFirst (${label})`, () => {
    let database: MigrationTestDatabase;
    let db: Database;
    beforeEach(async () => {
      database = await setup();
      db = await database.open();
      await db.schema.createTable('things', (t) => { t.string('id').primary(); t.string('name'); t.boolean('flag'); });
    });
    afterEach(async () => {
      await db?.destroy();
      await database?.cleanup();
    });

    it('runs statements in order and answers rows for reads and returning, counts for other writes', async () => {
      const results = await runStatements(db, [
        db('things').insert({ id: 'a', name: 'first', flag: true }),
        db('things').insert({ id: 'b', name: 'second', flag: false }),
        db('things').where({ id: 'a' }).update({ name: 'renamed' }),
        db('things').where({ id: 'b' }).update({ name: 'again' }).returning(['id', 'name']),
        db('things').orderBy('id').select('id', 'name'),
      ]);
      expect(results.slice(2)).to.deep.equal([
        1,
        [{ id: 'b', name: 'again' }],
        [{ id: 'a', name: 'renamed' }, { id: 'b', name: 'again' }],
      ]);
      // Booleans bound as knex binds them: the flag reads back the same through knex.
      expect(Boolean((await db('things').where({ id: 'a' }).first<{ flag: unknown }>()).flag)).to.equal(true);
    });

    it('commits all or none: a failing statement takes the earlier ones back with it', async () => {
      await db('things').insert({ id: 'taken', name: 'before' });
      let failure: unknown;
      try {
        await runStatements(db, [
          db('things').insert({ id: 'new', name: 'x' }),
          db('things').where({ id: 'taken' }).update({ name: 'changed' }),
          db('things').insert({ id: 'taken', name: 'duplicate' }),
        ]);
      } catch (err) {
        failure = err;
      }
      expect(String(failure)).to.match(/UNIQUE constraint failed|duplicate key/);
      expect(await db('things').orderBy('id').select('id', 'name')).to.deep.equal([{ id: 'taken', name: 'before' }]);
      // The connection is usable afterwards (nothing left open).
      expect(await runStatements(db, [db('things').insert({ id: 'after', name: 'y' })], { durability: 'deferred' })).to.have.length(1);
      expect(await db('things').count({ n: '*' }).first()).to.deep.equal({ n: 2 });
    });

    it('readFirst answers the first row, or undefined when there is none', async () => {
      await db('things').insert([{ id: 'a', name: 'one' }, { id: 'b', name: 'two' }]);
      expect(await readFirst(db, db('things').orderBy('id', 'desc').first('id', 'name'))).to.deep.equal({ id: 'b', name: 'two' });
      expect(await readFirst(db, db('things').where({ id: 'none' }).first('id'))).to.equal(undefined);
    });
  });
}
