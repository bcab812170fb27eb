// Per-request context: a request id (the caller's X-Request-Id when it is a plain token, else a
// new UUID), echoed in the response and carried by ctx.state.log into every log line of the
// request; HTTP metrics and one "request completed" line once the response is done. Headers are
// never logged, so credentials (Authorization) cannot reach the logs.
import { randomUUID } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import type { GatewayMetrics } from '../observability/metrics.ts';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

export interface RequestState {
  requestId: string;
  log: Logger;
}

/** The request's logger (with its requestId), or the fallback outside a request. */
export function requestLog(ctx: Context | undefined, fallback: Logger): Logger {
  const log = (ctx?.state as Partial<RequestState> | undefined)?.log;
  return log ?? fallback;
}

export function requestContext(logger: Logger, metrics: GatewayMetrics): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    const incoming = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(incoming) ? incoming : randomUUID();
    // The child logger is made only when something logs during the request: most requests log
    // just the completion line below, and a child per request is a measurable share of a status read.
    let log: Logger | undefined;
    const requestLogger = () => (log ??= logger.child({ requestId }));
    ctx.state.requestId = requestId;
    Object.defineProperty(ctx.state, 'log', { get: requestLogger, enumerable: true });
    ctx.set('X-Request-Id', requestId);
    // Logged when the response is over (a download's last byte, or the client gone), so `ms`
    // covers streaming too.
    ctx.res.once('close', () => {
      // Label by the route pattern, not the path: ids must not explode the label set.
      const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const status = ctx.status;
      metrics.httpRequests.inc({ method: ctx.method, route, status: String(status) });
      metrics.httpDuration.observe({ method: ctx.method, route }, seconds);
      const fields = { method: ctx.method, route, path: ctx.path, status, ms: Math.round(seconds * 1e4) / 10 };
      if (ctx.res.writableFinished) logger.info({ requestId, ...fields }, 'request completed');
      else requestLogger().warn(fields, 'request aborted before the response was complete');
    });
    await next();
  };
}
