// Route parameters as strings (Koa types them loosely).
import type { Context } from 'koa';

export function routeParam(ctx: Context, name: string): string {
  const params = (ctx as Context & { params?: Record<string, unknown> }).params ?? {};
  const value = params[name];
  return typeof value === 'string' ? value : '';
}
