// The Koa application: one error boundary, a JSON body parser for everything but /upload (which
// streams multipart to disk itself), and the routes under the caesar-rest prefix.
import Koa from 'koa';
import Router from '@koa/router';
import { koaBody } from 'koa-body';
import type { Logger } from 'pino';
import type { AppRegistry } from '../apps/registry.ts';
import { errorHandler } from './errorHandler.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { appRoutes } from './routes/apps.ts';
import { fileRoutes, type FileRoutesDeps } from './routes/files.ts';
import { jobRoutes, ownedJob, type JobRoutesDeps } from './routes/jobs.ts';
import { resultRoutes } from './routes/results.ts';

export const API_PREFIX = '/caesar/api/v1.0';

const parseJson = koaBody({ json: true, jsonStrict: true, multipart: false, urlencoded: false, text: false, jsonLimit: '1mb' });

export interface HttpDeps extends FileRoutesDeps, JobRoutesDeps {
  apps: AppRegistry;
  logger: Logger;
  metrics: GatewayMetrics;
}

export function createApp(deps: HttpDeps): Koa {
  const app = new Koa();
  app.proxy = true;
  app.on('error', (err: Error) => deps.logger.error({ err }, 'request failed'));
  app.use(async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      // Label by the route pattern, not the path: ids must not explode the label set.
      const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      deps.metrics.httpRequests.inc({ method: ctx.method, route, status: String(ctx.status) });
      deps.metrics.httpDuration.observe({ method: ctx.method, route }, seconds);
      deps.logger.debug({ method: ctx.method, path: ctx.path, status: ctx.status, ms: seconds * 1000 }, 'request');
    }
  });
  app.use(errorHandler);
  app.use(async (ctx, next) => {
    // Multipart is parsed by the upload route alone, straight to disk.
    if (ctx.is('multipart/form-data')) await next();
    else await parseJson(ctx, next);
  });
  const api = new Router({ prefix: API_PREFIX });
  const results = resultRoutes(deps.apps, (ctx) => ownedJob(deps.jobs, ctx));
  for (const routes of [fileRoutes(deps), jobRoutes(deps), results, appRoutes(deps.apps)]) {
    api.use(routes.routes(), routes.allowedMethods());
  }
  app.use(api.routes());
  app.use(api.allowedMethods());
  const ops = new Router();
  ops.get('/metrics', async (ctx) => {
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });
  app.use(ops.routes());
  return app;
}
