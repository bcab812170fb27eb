// Operations endpoints, at the root (not under the API prefix): liveness, readiness, Prometheus
// metrics and the OpenAPI description (also served under the API prefix).
import Router from '@koa/router';
import type { Database } from '../../db/database.ts';
import type { GatewayMetrics } from '../../observability/metrics.ts';
import { asError } from '../../remote/errors.ts';
import type { Scheduler } from '../../scheduler/scheduler.ts';
import { openApiDocument } from '../openapi.ts';
import type { Readiness, ReadinessCheck } from '../schemas.ts';

export interface OpsRoutesDeps {
  db: Database;
  schedulers: Map<string, Scheduler>;
  metrics: GatewayMetrics;
  /** Where the caesar-rest routes live; the OpenAPI document is served there too. */
  apiPrefix: string;
  /** How long /readyz waits for the database and for each cluster. */
  readinessTimeoutMs?: number;
}

export function opsRoutes(deps: OpsRoutesDeps): Router {
  const router = new Router();
  const timeoutMs = deps.readinessTimeoutMs ?? 5_000;

  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  router.get('/readyz', async (ctx) => {
    const [database, ...clusters] = await Promise.all([
      check(() => deps.db.raw('select 1'), timeoutMs),
      ...[...deps.schedulers.values()].map((s) => check(() => s.ping(timeoutMs), timeoutMs)),
    ]);
    const names = [...deps.schedulers.keys()];
    const body: Readiness = {
      status: database.ok && clusters.every((c) => c.ok) ? 'ready' : 'not ready',
      checks: { database, clusters: Object.fromEntries(names.map((name, i) => [name, clusters[i]!])) },
    };
    ctx.status = body.status === 'ready' ? 200 : 503;
    ctx.body = body;
  });

  router.get('/metrics', async (ctx) => {
    // Jobs by state straight from the database at scrape time: one grouped count.
    const counts: Array<{ state: string; n: number | string }> = await deps.db('jobs').select('state').count({ n: '*' }).groupBy('state');
    deps.metrics.setJobCounts(counts);
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });

  const openapi = openApiDocument(deps.apiPrefix);
  for (const route of ['/openapi.json', `${deps.apiPrefix}/openapi.json`]) {
    router.get(route, (ctx) => {
      ctx.body = openapi;
    });
  }
  return router;
}

async function check(probe: () => Promise<unknown>, timeoutMs: number): Promise<ReadinessCheck> {
  const started = process.hrtime.bigint();
  let timer: NodeJS.Timeout | undefined;
  const elapsed = () => Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs); }),
    ]);
    return { ok: true, ms: elapsed() };
  } catch (err) {
    return { ok: false, ms: elapsed(), error: asError(err).message };
  } finally {
    clearTimeout(timer);
  }
}
