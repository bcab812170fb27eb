// Host key pinning: the configured key must match exactly; there is no trust on first use.
import { createHash } from 'node:crypto';

/** Accepts "ssh-ed25519 AAAA… [comment]" (known_hosts / .pub form) or "SHA256:<base64>". */
export function hostKeyMatcher(pinned: string): (presented: Buffer) => boolean {
  const trimmed = pinned.trim();
  if (trimmed.startsWith('SHA256:')) {
    const expected = trimmed.slice('SHA256:'.length).replace(/=+$/, '');
    return (key) => createHash('sha256').update(key).digest('base64').replace(/=+$/, '') === expected;
  }
  const fields = trimmed.split(/\s+/);
  const blob = fields.length >= 2 ? fields[1] : fields[0];
  if (!blob || !/^[A-Za-z0-9+/]+=*$/.test(blob)) {
    throw new Error('hostKey must be "<type> <base64>" as in a .pub file, or "SHA256:<fingerprint>"');
  }
  const expected = Buffer.from(blob, 'base64');
  return (key) => key.equals(expected);
}

export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}
