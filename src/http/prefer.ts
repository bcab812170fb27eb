// RFC 7240's `Prefer: wait=<seconds>`: the client would rather have the request processed
// synchronously for up to that long. POST /job honours it by answering once the job has its Slurm
// id (or has ended) instead of at once. Preferences are hints: one that is malformed is ignored,
// as the RFC asks, and the answer's Preference-Applied header says what was honoured.
import { MAX_WAIT_SECONDS } from './statusWait.ts';

/** delta-seconds (RFC 9110 §1.2.1): digits only, optionally quoted as a token may be. */
const DELTA_SECONDS = /^"?(\d{1,9})"?$/;

/** Seconds to wait, capped at MAX_WAIT_SECONDS; undefined when the header asks no (valid, non-zero) wait. */
export function preferredWaitSeconds(header: string | undefined): number | undefined {
  if (!header) return undefined;
  for (const preference of header.split(',')) {
    // Parameters after ';' qualify a preference; `wait` has none.
    const [token = ''] = preference.split(';');
    const equals = token.indexOf('=');
    if (equals < 0 || token.slice(0, equals).trim().toLowerCase() !== 'wait') continue;
    const value = DELTA_SECONDS.exec(token.slice(equals + 1).trim());
    if (!value) return undefined;
    const seconds = Math.min(Number(value[1]), MAX_WAIT_SECONDS);
    return seconds > 0 ? seconds : undefined;
  }
  return undefined;
}
