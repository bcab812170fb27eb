// Users and tokens. A token is shown once, when created; only its hash is kept.
import { createHash, randomBytes } from 'node:crypto';
import type { Database } from '../db/database.ts';

export interface UserRow {
  name: string;
  is_admin: boolean | number;
  created_at: string;
  disabled_at: string | null;
}

export interface TokenRow {
  id: string;
  user_name: string;
  token_hash: string;
  label: string | null;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

export interface Caller {
  name: string;
  admin: boolean;
}

const TOKEN_PREFIX = 'cgw_';
export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');
const now = () => new Date().toISOString();

export class UserRepository {
  constructor(private readonly db: Database) {}

  async addUser(name: string, admin: boolean): Promise<void> {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new Error('a user name is 1 to 64 letters, digits, _ . -');
    await this.db('users').insert({ name, is_admin: admin, created_at: now() });
  }

  async listUsers(): Promise<UserRow[]> {
    return this.db<UserRow>('users').orderBy('name');
  }

  async disableUser(name: string): Promise<boolean> {
    return (await this.db('users').where({ name }).whereNull('disabled_at').update({ disabled_at: now() })) === 1;
  }

  /** Returns the new token; it cannot be shown again. */
  async createToken(userName: string, label?: string): Promise<{ id: string; token: string }> {
    const user = await this.db<UserRow>('users').where({ name: userName }).first();
    if (!user) throw new Error(`no user named ${userName}`);
    const id = randomBytes(6).toString('hex');
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    await this.db('tokens').insert({ id, user_name: userName, token_hash: hashToken(token), label: label ?? null, created_at: now() });
    return { id, token };
  }

  async listTokens(userName?: string): Promise<Array<Omit<TokenRow, 'token_hash'>>> {
    const query = this.db<TokenRow>('tokens').select('id', 'user_name', 'label', 'created_at', 'revoked_at', 'last_used_at').orderBy('created_at');
    if (userName) void query.where({ user_name: userName });
    return query;
  }

  async revokeToken(id: string): Promise<boolean> {
    return (await this.db('tokens').where({ id }).whereNull('revoked_at').update({ revoked_at: now() })) === 1;
  }

  /** The caller a bearer token stands for, or undefined if unknown, revoked or its user disabled. */
  async authenticate(token: string): Promise<Caller | undefined> {
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const row = await this.db('tokens').join('users', 'users.name', 'tokens.user_name')
      .where({ 'tokens.token_hash': hashToken(token) }).whereNull('tokens.revoked_at').whereNull('users.disabled_at')
      .first<{ id: string; name: string; is_admin: boolean | number; last_used_at: string | null } | undefined>('tokens.id', 'users.name', 'users.is_admin', 'tokens.last_used_at');
    if (!row) return undefined;
    // Note use at most every few minutes: a write per request would cost every read its speed.
    if (!row.last_used_at || Date.now() - Date.parse(row.last_used_at) > 300_000) {
      await this.db('tokens').where({ id: row.id }).update({ last_used_at: now() });
    }
    return { name: row.name, admin: Boolean(row.is_admin) };
  }
}
