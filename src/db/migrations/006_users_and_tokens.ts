// Users and their bearer tokens. Tokens are stored as SHA-256 hashes: they are long random
// strings, so a fast hash is enough, and a leaked database does not leak usable tokens.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (t) => {
    t.string('name', 64).primary();
    t.boolean('is_admin').notNullable().defaultTo(false);
    t.string('created_at').notNullable();
    t.string('disabled_at');
  });
  await knex.schema.createTable('tokens', (t) => {
    t.string('id', 16).primary();
    t.string('user_name', 64).notNullable().references('name').inTable('users');
    t.string('token_hash', 64).notNullable().unique();
    t.string('label', 128);
    t.string('created_at').notNullable();
    t.string('revoked_at');
    t.string('last_used_at');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('tokens');
  await knex.schema.dropTableIfExists('users');
}
