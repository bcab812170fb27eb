// Who is asking. Until user accounts exist every request belongs to the single anonymous user;
// all data access already goes through this so that adding tokens changes one place.
import type { Context } from 'koa';

export const ANONYMOUS = 'anonymous';

export function ownerOf(ctx: Context): string {
  const owner = (ctx.state as { owner?: unknown }).owner;
  return typeof owner === 'string' ? owner : ANONYMOUS;
}
