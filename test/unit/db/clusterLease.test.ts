// The lease and the submit claim on SQLite: the default database, where one gateway holds every
// lease, still runs the same statements (several pools on one real file stand in for processes).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../../src/db/database.ts';
import { leaseContract } from '../../support/leaseContract.ts';

leaseContract('SQLite', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'caesar-lease-'));
  const file = path.join(dir, 'gateway.sqlite3');
  return Promise.resolve({
    open: () => openDatabase({ client: 'sqlite', file }),
    cleanup: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
  });
});
