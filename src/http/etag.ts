// Entity tags for JSON bodies the gateway renders, and the If-None-Match comparison (RFC 9110
// §13.1.2: weak comparison, a list of tags or "*").
import { createHash } from 'node:crypto';

/** A strong tag: the same bytes always get the same tag, in every gateway instance. */
export function etagOf(body: string): string {
  // 128 bits of SHA-256 tell two statuses of a job apart; the tag is not a security boundary.
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
}

/** Whether an If-None-Match header value names `etag` (so a GET may answer 304). */
export function ifNoneMatchHas(header: string, etag: string): boolean {
  if (header === etag) return true; // what a client that echoes our ETag sends: no parsing
  const trimmed = header.trim();
  if (trimmed === '*') return true;
  return trimmed.split(',').some((candidate) => {
    const tag = candidate.trim();
    return (tag.startsWith('W/') ? tag.slice(2) : tag) === etag;
  });
}
