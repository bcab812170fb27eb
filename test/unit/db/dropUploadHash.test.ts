// Migration 007 on a real SQLite file, foreign keys on as the gateway opens it.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../../src/db/database.ts';
import { dropUploadHashContract } from '../../support/dropUploadHashContract.ts';

dropUploadHashContract('SQLite', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'caesar-migration-'));
  return Promise.resolve({
    open: () => openDatabase({ client: 'sqlite', file: path.join(dir, 'gateway.sqlite3') }),
    cleanup: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
  });
});
