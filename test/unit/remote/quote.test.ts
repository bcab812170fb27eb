import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import { shellCommand, shellQuote } from '../../../src/remote/quote.ts';
import { hostKeyMatcher, fingerprint } from '../../../src/remote/hostKey.ts';

const HOSTILE = ["'; rm -rf ~ #", '$(id)', '`id`', 'a\nb', '../../etc/passwd', '"double"', 'back\\slash', "it's", '*', '$HOME', '; echo pwned'];

describe('remote/shellQuote', () => {
  for (const value of HOSTILE) {
    it(`passes ${JSON.stringify(value)} through a real shell unchanged`, () => {
      // The shell must see exactly one word equal to the input, with nothing executed.
      const out = execFileSync('/bin/sh', ['-c', `printf %s ${shellQuote(value)}`]).toString();
      expect(out).to.equal(value);
    });
  }

  it('leaves plain words bare and refuses NUL', () => {
    expect(shellQuote('--jobs=1,2')).to.equal('--jobs=1,2');
    expect(() => shellQuote('a\0b')).to.throw(/NUL/);
  });

  it('quotes every argument of a command', () => {
    const out = execFileSync('/bin/sh', ['-c', `${shellCommand(['printf', '%s|', 'a b', '$(id)'])}`]).toString();
    expect(out).to.equal('a b|$(id)|');
  });
});

describe('remote/hostKeyMatcher', () => {
  const key = Buffer.from('pretend-ssh-ed25519-key-blob');
  const pub = `ssh-ed25519 ${key.toString('base64')} host@example`;

  it('accepts the pinned key in .pub form and in SHA256 form', () => {
    expect(hostKeyMatcher(pub)(key)).to.equal(true);
    expect(hostKeyMatcher(fingerprint(key))(key)).to.equal(true);
  });

  it('refuses any other key', () => {
    const other = Buffer.from('another-key-blob');
    expect(hostKeyMatcher(pub)(other)).to.equal(false);
    expect(hostKeyMatcher(fingerprint(key))(other)).to.equal(false);
  });

  it('refuses a malformed pin at configuration time', () => {
    expect(() => hostKeyMatcher('ssh-ed25519 not*base64')).to.throw(/hostKey/);
  });
});
