// The long-poll of GET /job/<id>/status?wait=<s>: hold the request until the job's status is no
// longer the one the client has, or the wait ends. A waiter is woken by this process's writes to
// the job (JobChanges) and also looks again every `recheckMs`, because another gateway instance
// sharing the database writes without telling us. Waiters cost a socket and a closure each; past
// `maxWaiters` a request answers at once, as if its wait had ended, and the client polls instead.
import type { ServerResponse } from 'node:http';
import type { JobChanges } from '../jobs/jobChanges.ts';
import { badRequest } from './httpError.ts';

export const MAX_WAIT_SECONDS = 60;

export interface StatusWaits {
  changes: JobChanges;
  /** How often a waiter reads the status again without having been told of a write. */
  recheckMs: number;
  maxWaiters: number;
}

// Plain decimal seconds: "20", "2.5". Not "1e1", "0x10", "-1", " 5" or an empty value.
const SECONDS = /^\d+(\.\d+)?$/;

/** The `wait` query value in milliseconds; `undefined` when the parameter is absent. */
export function waitMilliseconds(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = typeof value === 'string' && SECONDS.test(value) ? Number(value) : Number.NaN;
  if (!(seconds > 0 && seconds <= MAX_WAIT_SECONDS)) {
    throw badRequest(`'wait' must be given once, as seconds greater than 0 and at most ${MAX_WAIT_SECONDS} (e.g. wait=30 or wait=2.5); got ${JSON.stringify(value)}`);
  }
  return Math.round(seconds * 1000);
}

export interface WaitFor<T> {
  id: string;
  /** The status the request found; returned when there is no waiting to do. */
  initial: T;
  /**
   * `initial` is what the job is now, not a read that a write may have overtaken before the
   * subscription (a job this request just created, that nothing else writes until Slurm answers
   * over the network): it is not read again before the first wake-up.
   */
  initialIsCurrent?: boolean;
  timeoutMs: number;
  /** Reads the status again; `undefined`: the job is gone. */
  read(): Promise<T | undefined>;
  /** Whether the status read differs from the one the client has. */
  changed(status: T): boolean;
  /**
   * The response: when the client goes away first, waiting stops. Its 'close' is watched, not the
   * request's: since Node 16 a request whose body was read (a POST) closes at once.
   */
  res: ServerResponse;
}

/** The status once it changed, or as it is when the wait ends, shutdown begins or the client leaves. */
export async function waitForChange<T>(waits: StatusWaits, w: WaitFor<T>): Promise<T | undefined> {
  const { changes } = waits;
  if (changes.shuttingDown || changes.size >= waits.maxWaiters || clientGone(w.res)) return w.initial;
  const deadline = Date.now() + w.timeoutMs;
  // Starts true: a write between the caller's read and the subscription is looked for at once.
  let told = !w.initialIsCurrent;
  let gone = false;
  let wake: (() => void) | undefined;
  const unsubscribe = changes.subscribe(w.id, () => {
    told = true;
    wake?.();
  });
  const leave = () => {
    gone = true;
    wake?.();
  };
  w.res.once('close', leave);
  try {
    let latest: T | undefined = w.initial;
    for (;;) {
      const left = deadline - Date.now();
      if (!told && !gone && left > 0 && !changes.shuttingDown) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => wake?.(), Math.min(left, waits.recheckMs));
          wake = () => {
            wake = undefined;
            clearTimeout(timer);
            resolve();
          };
        });
      }
      if (gone) return latest;
      told = false;
      latest = await w.read();
      if (latest === undefined || w.changed(latest) || changes.shuttingDown || Date.now() >= deadline) return latest;
    }
  } finally {
    unsubscribe();
    w.res.off('close', leave);
  }
}

/** The connection ended before the response was sent. */
function clientGone(res: ServerResponse): boolean {
  return res.destroyed || !res.socket || res.socket.destroyed;
}
