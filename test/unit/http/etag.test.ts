import { expect } from 'chai';
import { etagOf, ifNoneMatchHas } from '../../../src/http/etag.ts';

describe('ETags of rendered bodies', () => {
  it('is a quoted, strong tag that depends only on the bytes', () => {
    const tag = etagOf('{"state":"PENDING"}');
    expect(tag).to.match(/^"[A-Za-z0-9_-]{22}"$/);
    expect(etagOf('{"state":"PENDING"}')).to.equal(tag);
    expect(etagOf('{"state":"RUNNING"}')).to.not.equal(tag);
  });

  const tag = etagOf('x');
  const other = etagOf('y');
  const cases: Array<[string, string, boolean]> = [
    ['the tag itself', tag, true],
    ['another tag', other, false],
    ['a list containing it', `${other}, ${tag}`, true],
    ['a list without it', `${other},${etagOf('z')}`, false],
    ['its weak form (If-None-Match compares weakly)', `W/${tag}`, true],
    ['"*"', ' * ', true],
    ['the tag without quotes', tag.slice(1, -1), false],
    ['an empty value', '', false],
  ];
  for (const [what, header, expected] of cases) {
    it(`If-None-Match with ${what}: ${expected ? 'matches' : 'does not match'}`, () => {
      expect(ifNoneMatchHas(header, tag)).to.equal(expected);
    });
  }
});
