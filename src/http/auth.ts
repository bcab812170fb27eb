// Who is calling. With auth.mode "tokens" every request carries `Authorization: Bearer <token>`
// (401 otherwise); in the default anonymous mode, for the local demo, everyone is "anonymous".
import type { Context, Next } from 'koa';
import type { UserRepository } from '../users/userRepository.ts';
import { HttpError } from './httpError.ts';

export type AuthMode = 'anonymous' | 'tokens';

export function authenticate(mode: AuthMode, users: UserRepository) {
  return async (ctx: Context, next: Next): Promise<void> => {
    if (mode === 'anonymous') {
      ctx.state.caller = { name: 'anonymous', admin: false };
      await next();
      return;
    }
    const header = ctx.get('authorization');
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    const caller = token ? await users.authenticate(token) : undefined;
    if (!caller) {
      ctx.set('WWW-Authenticate', 'Bearer realm="caesar-gateway"');
      throw new HttpError(401, 'unauthorized', token
        ? 'The bearer token is unknown or revoked; ask an administrator for a new one'
        : 'Authentication required: send Authorization: Bearer <token> (tokens come from `npm run admin -- token create`)');
    }
    ctx.state.caller = caller;
    await next();
  };
}
