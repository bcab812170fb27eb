// Admin command for users and tokens, run next to the gateway (same configuration, same database):
//   npm run admin -- user add NAME [--admin] | user list | user disable NAME
//   npm run admin -- token create USER [--label TEXT] | token list [USER] | token revoke ID
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.ts';
import { openDatabase } from '../db/database.ts';
import { UserRepository } from '../users/userRepository.ts';

const USAGE = `usage: npm run admin -- <command>
  user add NAME [--admin]        create a user (admins see every user's files and jobs)
  user list                      list users
  user disable NAME              refuse all of the user's tokens from now on
  token create USER [--label T]  create a bearer token for USER (shown once)
  token list [USER]              list tokens (never the tokens themselves)
  token revoke ID                revoke one token`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { admin: { type: 'boolean' }, label: { type: 'string' } } });
  const [noun, verb, arg] = positionals;
  const config = loadConfig();
  const db = await openDatabase(config.database);
  const users = new UserRepository(db);
  try {
    switch (`${noun} ${verb}`) {
      case 'user add':
        if (!arg) break;
        await users.addUser(arg, values.admin === true);
        console.log(`user ${arg} created${values.admin ? ' (admin)' : ''}`);
        return 0;
      case 'user list':
        for (const u of await users.listUsers()) console.log(`${u.name}\t${u.is_admin ? 'admin' : 'user'}\t${u.disabled_at ? `disabled ${u.disabled_at}` : 'active'}`);
        return 0;
      case 'user disable':
        if (!arg) break;
        console.log((await users.disableUser(arg)) ? `user ${arg} disabled` : `no active user ${arg}`);
        return 0;
      case 'token create': {
        if (!arg) break;
        const { id, token } = await users.createToken(arg, values.label);
        console.log(`token ${id} for ${arg} (store it now, it is not shown again):\n${token}`);
        return 0;
      }
      case 'token list':
        for (const t of await users.listTokens(verb === 'list' ? arg : undefined)) {
          console.log(`${t.id}\t${t.user_name}\t${t.label ?? ''}\t${t.revoked_at ? `revoked ${t.revoked_at}` : 'active'}\tlast used ${t.last_used_at ?? 'never'}`);
        }
        return 0;
      case 'token revoke':
        if (!arg) break;
        console.log((await users.revokeToken(arg)) ? `token ${arg} revoked` : `no active token ${arg}`);
        return 0;
    }
    console.error(USAGE);
    return 2;
  } finally {
    await db.destroy();
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  console.error(`admin: ${err instanceof ConfigError ? err.message : (err as Error).message}`);
  process.exitCode = 1;
}
