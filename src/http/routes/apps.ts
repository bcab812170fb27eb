// /apps and /app/<name>/describe: the registry as clients see it.
import Router from '@koa/router';
import { describeApp } from '../../apps/describe.ts';
import type { AppRegistry } from '../../apps/registry.ts';
import { badRequest } from '../httpError.ts';
import { routeParam } from '../params.ts';

export function appRoutes(apps: AppRegistry): Router {
  const router = new Router();
  router.get('/apps', (ctx) => {
    ctx.body = { apps: apps.names() };
  });
  router.get('/app/:name/describe', (ctx) => {
    const name = routeParam(ctx, 'name');
    const app = apps.get(name);
    if (!app) throw badRequest(`Unknown app ${name}!`);
    ctx.body = describeApp(app);
  });
  return router;
}
