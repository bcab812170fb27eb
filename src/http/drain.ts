// Graceful stop of the HTTP server: stop accepting, let the requests under way finish (a
// download may take a while) up to a grace period, then close whatever is left.
import type { Server } from 'node:http';

export interface RequestTracker {
  readonly inFlight: number;
  /** Resolves once the server is closed; `forced` counts requests cut off at the deadline. */
  drain(graceMs: number): Promise<{ forced: number }>;
}

export function trackRequests(server: Server): RequestTracker {
  let active = 0;
  let draining = false;
  let idle: (() => void) | undefined;
  server.on('request', (_req, res) => {
    active += 1;
    // While draining, no connection is kept alive past its current response.
    if (draining && !res.headersSent) res.setHeader('Connection', 'close');
    res.once('close', () => {
      active -= 1;
      if (active === 0) idle?.();
    });
  });
  return {
    get inFlight() {
      return active;
    },
    async drain(graceMs) {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (active > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs);
          idle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      const forced = active;
      // Keep-alive connections whose last response just ended, and anything past the deadline.
      server.closeAllConnections();
      await closed;
      return { forced };
    },
  };
}
