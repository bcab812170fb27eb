import { expect } from 'chai';
import type { JobRow } from '../../../src/db/rows.ts';
import { JobStatusCache, type JobStatusSnapshot, type StatusEvent } from '../../../src/jobs/jobStatusCache.ts';

function snapshot(state: string): JobStatusSnapshot {
  return { job: { id: 'j', state } as JobRow, events: [] };
}

describe('JobStatusCache', () => {
  let clock = 0;
  const now = () => clock;
  beforeEach(() => { clock = 1_000; });

  it('answers from memory until maxAgeMs has passed, then reads again', async () => {
    const cache = new JobStatusCache({ maxAgeMs: 500, now });
    let loads = 0;
    const load = () => { loads += 1; return Promise.resolve(snapshot(`v${loads}`)); };
    expect((await cache.read('j', load))!.job.state).to.equal('v1');
    clock += 499;
    expect((await cache.read('j', load))!.job.state).to.equal('v1');
    clock += 1;
    expect((await cache.read('j', load))!.job.state).to.equal('v2');
    expect(loads).to.equal(2);
  });

  it('reads again at once after forget()', async () => {
    const cache = new JobStatusCache({ maxAgeMs: 60_000, now });
    let loads = 0;
    const load = () => { loads += 1; return Promise.resolve(snapshot(`v${loads}`)); };
    await cache.read('j', load);
    cache.forget('j');
    expect((await cache.read('j', load))!.job.state).to.equal('v2');
  });

  it('does not keep a read that a write overtook', async () => {
    const cache = new JobStatusCache({ maxAgeMs: 60_000, now });
    let release!: () => void;
    const slowOldRead = cache.read('j', () => new Promise((resolve) => { release = () => resolve(snapshot('old')); }));
    cache.forget('j'); // the write commits while the old read is in flight
    release();
    expect((await slowOldRead)!.job.state).to.equal('old');
    expect((await cache.read('j', () => Promise.resolve(snapshot('new'))))!.job.state).to.equal('new');
  });

  it('does not remember a job that does not exist', async () => {
    const cache = new JobStatusCache({ maxAgeMs: 60_000, now });
    await cache.read('j', () => Promise.resolve(undefined));
    expect(cache.size).to.equal(0);
  });

  it('keeps at most maxEntries, dropping the least recently stored', async () => {
    const cache = new JobStatusCache({ maxAgeMs: 60_000, maxEntries: 2, now });
    for (const id of ['a', 'b', 'c']) await cache.read(id, () => Promise.resolve(snapshot(id)));
    expect(cache.size).to.equal(2);
    let reloaded = false;
    await cache.read('a', () => { reloaded = true; return Promise.resolve(snapshot('a')); });
    expect(reloaded).to.equal(true);
  });

  it('with maxAgeMs 0 always reads', async () => {
    const cache = new JobStatusCache({ maxAgeMs: 0, now });
    let loads = 0;
    for (let i = 0; i < 3; i += 1) await cache.read('j', () => { loads += 1; return Promise.resolve(snapshot('x')); });
    expect(loads).to.equal(3);
    expect(cache.size).to.equal(0);
  });

  describe('afterWrite: keeping what a write wrote instead of reading it back', () => {
    const never = () => Promise.reject(new Error('should have been answered from memory'));

    it('keeps a whole snapshot (a job just inserted)', async () => {
      const cache = new JobStatusCache({ maxAgeMs: 60_000, now });
      const token = cache.beforeWrite();
      cache.afterWrite('j', token, { snapshot: snapshot('inserted') });
      expect((await cache.read('j', never))!.job.state).to.equal('inserted');
    });

    it('given only the new row, keeps the cached history with it', async () => {
      const cache = new JobStatusCache({ maxAgeMs: 60_000, now });
      const history: StatusEvent[] = [{ at: 't0', from_state: null, to_state: 'PENDING', reason: 'accepted' }];
      await cache.read('j', () => Promise.resolve({ job: { id: 'j', state: 'PENDING' } as JobRow, events: history }));
      const token = cache.beforeWrite();
      cache.afterWrite('j', token, { job: { id: 'j', state: 'PENDING', slurm_job_id: '42' } as JobRow });
      const kept = (await cache.read('j', never))!;
      expect(kept.job.slurm_job_id).to.equal('42');
      expect(kept.events).to.deep.equal(history);
    });

    it('given only the new row of a job it does not hold, forgets (the history is unknown)', () => {
      const cache = new JobStatusCache({ maxAgeMs: 60_000, now });
      cache.afterWrite('j', cache.beforeWrite(), { job: { id: 'j', state: 'PENDING' } as JobRow });
      expect(cache.size).to.equal(0);
    });

    it('only forgets when another write was told in between (it may have committed after ours)', async () => {
      const cache = new JobStatusCache({ maxAgeMs: 60_000, now });
      await cache.read('j', () => Promise.resolve(snapshot('PENDING')));
      const token = cache.beforeWrite();
      cache.forget('j'); // the poller's write, told while ours was in flight
      cache.afterWrite('j', token, { snapshot: snapshot('ours') });
      let reads = 0;
      expect((await cache.read('j', () => { reads += 1; return Promise.resolve(snapshot('from the database')); }))!.job.state).to.equal('from the database');
      expect(reads).to.equal(1);
    });

    it('makes a read in flight during the write drop its older answer', async () => {
      const cache = new JobStatusCache({ maxAgeMs: 60_000, now });
      let release!: () => void;
      const slowOldRead = cache.read('j', () => new Promise((resolve) => { release = () => resolve(snapshot('old')); }));
      cache.afterWrite('j', cache.beforeWrite(), { snapshot: snapshot('new') });
      release();
      expect((await slowOldRead)!.job.state).to.equal('old');
      expect((await cache.read('j', never))!.job.state).to.equal('new');
    });

    it('keeps nothing with the cache off', () => {
      const cache = new JobStatusCache({ maxAgeMs: 0, now });
      cache.afterWrite('j', cache.beforeWrite(), { snapshot: snapshot('x') });
      expect(cache.size).to.equal(0);
    });
  });
});
