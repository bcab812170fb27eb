// The one error boundary: whatever a route throws becomes JSON with a 4xx that says what to fix,
// or a 500 that says nothing about the server's insides (the details go to the log).
import type { Context, Next } from 'koa';
import { z } from 'zod';
import { JobRequestError } from '../jobs/jobPlan.ts';
import { IdempotencyConflictError } from '../jobs/jobService.ts';
import { LimitExceededError } from '../users/limits.ts';
import { HttpError } from './httpError.ts';

interface ErrorBody {
  status: string;
  error: { code: string; message: string; details?: unknown };
}

function body(code: string, message: string, details?: unknown): ErrorBody {
  return { status: message, error: { code, message, ...(details === undefined ? {} : { details }) } };
}

/** Errors from JSON body parsing (co-body) carry a status of their own. */
function clientStatus(err: unknown): number | undefined {
  const e = err as { status?: unknown; httpCode?: unknown; expose?: unknown };
  const status = typeof e.httpCode === 'number' ? e.httpCode : typeof e.status === 'number' ? e.status : undefined;
  return status !== undefined && status >= 400 && status < 500 ? status : undefined;
}

export async function errorHandler(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
    if (ctx.status === 404 && ctx.body === undefined) {
      ctx.status = 404;
      ctx.body = body('not_found', `No such endpoint: ${ctx.method} ${ctx.path}`);
    } else if (ctx.status === 405 && ctx.body === undefined) {
      ctx.body = body('method_not_allowed', `${ctx.method} is not allowed on ${ctx.path} (allowed: ${ctx.response.get('Allow')})`);
    }
  } catch (err) {
    if (err instanceof HttpError) {
      ctx.status = err.httpStatus;
      ctx.body = body(err.code, err.message, err.details);
    } else if (err instanceof LimitExceededError) {
      ctx.status = err.httpStatus;
      if (err.retryAfterSeconds !== undefined) ctx.set('Retry-After', String(err.retryAfterSeconds));
      ctx.body = body(err.httpStatus === 429 ? 'rate_limited' : 'quota_exceeded', err.message);
    } else if (err instanceof IdempotencyConflictError) {
      ctx.status = 422;
      ctx.body = body('idempotency_key_reused', err.message);
    } else if (err instanceof JobRequestError) {
      ctx.status = 400;
      ctx.body = body('invalid_job_request', `Invalid job request: ${err.message}`, err.errors);
    } else if (err instanceof z.ZodError) {
      ctx.status = 400;
      const details = err.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message }));
      ctx.body = body('invalid_request', `Invalid request: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`, details);
    } else if (clientStatus(err) !== undefined) {
      const status = clientStatus(err)!;
      ctx.status = status;
      const message = status === 413 ? 'Request too large' : (err as Error).message;
      ctx.body = body(status === 413 ? 'too_large' : 'bad_request', `${message}`);
    } else {
      ctx.status = 500;
      ctx.body = body('internal', 'Internal error; the gateway logged the details');
      ctx.app.emit('error', err, ctx);
    }
  }
}
