import { expect } from 'chai';
import { TokenBucket } from '../../../src/remote/tokenBucket.ts';

describe('remote/TokenBucket', () => {
  it('lets a burst through at once, then paces the rest to the per-minute rate', async () => {
    const bucket = new TokenBucket(600, 5); // 10 per second after a burst of 5
    const started = Date.now();
    for (let i = 0; i < 5; i += 1) await bucket.take();
    expect(Date.now() - started).to.be.below(50);
    for (let i = 0; i < 5; i += 1) await bucket.take();
    // Five more tokens at 10/s need about half a second: the bucket made us wait.
    expect(Date.now() - started).to.be.at.least(400);
  });
});
