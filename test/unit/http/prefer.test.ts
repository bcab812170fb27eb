import { expect } from 'chai';
import { preferredWaitSeconds } from '../../../src/http/prefer.ts';

describe('the Prefer: wait header (RFC 7240)', () => {
  const honoured: Array<[string, number]> = [
    ['wait=10', 10], ['WAIT=5', 5], [' wait = 7 ', 7], ['wait="12"', 12], ['respond-async, wait=20', 20],
    ['handling=lenient, wait=3;foo=bar', 3], ['wait=60', 60], ['wait=61', 60], ['wait=999999', 60],
  ];
  for (const [header, seconds] of honoured) {
    it(`honours ${JSON.stringify(header)} as ${seconds} s (more than 60 counts as 60)`, () => {
      expect(preferredWaitSeconds(header)).to.equal(seconds);
    });
  }
  // A preference is a hint: one the server cannot use is ignored, not refused.
  for (const header of [undefined, '', 'respond-async', 'wait', 'wait=', 'wait=0', 'wait=-1', 'wait=1.5', 'wait=abc', 'wait=1e3', 'waiting=5']) {
    it(`ignores ${JSON.stringify(header)}`, () => {
      expect(preferredWaitSeconds(header)).to.equal(undefined);
    });
  }
});
