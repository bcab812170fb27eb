// Per-request context: a request id (the caller's X-Request-Id when it is a plain token, else a
// new UUID), echoed in the response and carried by ctx.state.log into every log line of the
// request; HTTP metrics and one "request completed" line once the response is done (at debug for routine reads, see isRoutineRead). Headers are
// never logged, so credentials (Authorization) cannot reach the logs.
import { randomUUID } from 'node:crypto';
import { Stream } from 'node:stream';
import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import type { GatewayMetrics } from '../observability/metrics.ts';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** ctx.state's first fields. The child logger is made only when something logs during the
 *  request: most requests log only their completion line, and a child each is a measurable
 *  share of a status read. */
export class RequestState {
  private child: Logger | undefined;
  /** Time the handler spent waiting on purpose (a status long-poll's ?wait=): not slowness. */
  waitedSeconds = 0;

  constructor(readonly requestId: string, private readonly base: Logger) {}

  get log(): Logger {
    return (this.child ??= this.base.child({ requestId: this.requestId }));
  }
}

/** Record that the request waited `seconds` because the client asked it to (see waitedSeconds). */
export function recordDeliberateWait(ctx: Context, seconds: number): void {
  if (ctx.state instanceof RequestState) ctx.state.waitedSeconds += seconds;
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
    const state = new RequestState(requestId, logger);
    ctx.state = state;
    ctx.set('X-Request-Id', requestId);
    // Logged when the response is over (a download's last byte, or the client gone), so `ms`
    // covers streaming too.
    ctx.res.once('close', () => {
      // Label by the route pattern, not the path: ids must not explode the label set.
      const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const status = ctx.status;
      metrics.observeHttp(ctx.method, route, status, seconds);
      const fields = { method: ctx.method, route, path: ctx.path, status, ms: Math.round(seconds * 1e4) / 10 };
      if (!ctx.res.writableFinished) state.log.warn(fields, 'request aborted before the response was complete');
      else if (isRoutineRead(ctx, seconds - state.waitedSeconds)) logger.debug({ requestId, ...fields }, 'request completed');
      else logger.info({ requestId, ...fields }, 'request completed');
    });
    await next();
  };
}

/**
 * A quick, successful GET answered with JSON (a status, a list, a description). Campaigns poll
 * these many times a second and nginx keeps an access log of them, so they are logged at debug;
 * writes, file transfers, failures and slow requests stay at info. A long-poll's wait does not
 * count as slowness: `seconds` is the time the request took minus the time it waited on purpose.
 */
function isRoutineRead(ctx: Context, seconds: number): boolean {
  return (ctx.method === 'GET' || ctx.method === 'HEAD') && ctx.status < 400 && seconds < 1 && !(ctx.body instanceof Stream);
}
