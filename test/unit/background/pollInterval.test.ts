import { expect } from 'chai';
import { pollIntervalSeconds } from '../../../src/background/poller.ts';
import type { JobRow } from '../../../src/db/rows.ts';

const poll = { schedule: '', missingGraceSeconds: 600, accountingLagSeconds: 30, accountingRecheckMs: 750, idChunkSize: 200, leaseSeconds: 10, requeueGraceSeconds: 60, longPendingSeconds: 600, slowPollSeconds: 30 };
const now = new Date('2026-11-30T12:00:00Z');
const job = (state: JobRow['state'], ageSeconds: number, extra: Partial<JobRow> = {}) =>
  ({ state, created_at: new Date(now.getTime() - ageSeconds * 1000).toISOString(), final_seen_at: null, missing_since: null, ...extra }) as JobRow;

describe('background/pollIntervalSeconds', () => {
  it('polls every cycle while a job runs or was just submitted', () => {
    expect(pollIntervalSeconds([job('RUNNING', 5000)], now, poll)).to.equal(0);
    expect(pollIntervalSeconds([job('PENDING', 10)], now, poll)).to.equal(0);
    expect(pollIntervalSeconds([job('UNKNOWN', 5000)], now, poll)).to.equal(0);
  });

  it('keeps polling every cycle while a final state waits for accounting or a job is missing', () => {
    expect(pollIntervalSeconds([job('PENDING', 5000, { final_seen_at: now.toISOString() })], now, poll)).to.equal(0);
    expect(pollIntervalSeconds([job('PENDING', 5000, { missing_since: now.toISOString() })], now, poll)).to.equal(0);
  });

  it('slows down when every job has been pending for long', () => {
    expect(pollIntervalSeconds([job('PENDING', 601), job('PENDING', 5000)], now, poll)).to.equal(30);
    expect(pollIntervalSeconds([job('PENDING', 601), job('RUNNING', 5000)], now, poll)).to.equal(0);
  });
});
