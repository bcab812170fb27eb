import { expect } from 'chai';
import { Semaphore } from '../../../src/remote/semaphore.ts';

describe('Semaphore', () => {
  it('tryAcquire takes a free permit and never queues when none is free', () => {
    const slots = new Semaphore(2);
    const first = slots.tryAcquire();
    const second = slots.tryAcquire();
    expect(first).to.be.a('function');
    expect(second).to.be.a('function');
    expect(slots.tryAcquire()).to.equal(undefined);
    expect(slots.queued).to.equal(0);
    first!();
    first!(); // a second release of the same permit frees nothing more
    expect(slots.inUse).to.equal(1);
    expect(slots.tryAcquire()).to.be.a('function');
  });

  it('a permit released by tryAcquire\'s holder goes to a queued acquire first', async () => {
    const slots = new Semaphore(1);
    const held = slots.tryAcquire()!;
    let granted = false;
    const waiting = slots.acquire().then((release) => { granted = true; return release; });
    expect(slots.queued).to.equal(1);
    held();
    const release = await waiting;
    expect(granted).to.equal(true);
    expect(slots.tryAcquire()).to.equal(undefined);
    release();
    expect(slots.inUse).to.equal(0);
  });
});
