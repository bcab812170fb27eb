// Who is asking, as set by the auth middleware. `ownerOf` names the caller (new files and jobs
// belong to it); `scopeOf` is what reads are limited to: the caller's own data, or everything
// (null) for an admin. Another user's ids therefore simply do not exist for the caller.
import type { Context } from 'koa';
import type { Caller } from '../users/userRepository.ts';

export const ANONYMOUS = 'anonymous';

function callerOf(ctx: Context): Caller {
  const caller = (ctx.state as { caller?: Caller }).caller;
  return caller ?? { name: ANONYMOUS, admin: false };
}

export function ownerOf(ctx: Context): string {
  return callerOf(ctx).name;
}

/** null: an admin, who sees every user's files and jobs. */
export type Scope = string | null;

export function scopeOf(ctx: Context): Scope {
  const caller = callerOf(ctx);
  return caller.admin ? null : caller.name;
}
