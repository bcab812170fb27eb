// Idempotency-Key on POST /job: a retried request finds the job its first attempt created.
// The key row is written in the same transaction as the job, so a crash leaves both or neither.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('idempotency_keys', (t) => {
    t.string('owner').notNullable();
    t.string('key', 255).notNullable();
    t.string('request_hash', 64).notNullable();
    t.string('job_id', 36).notNullable();
    t.string('created_at').notNullable();
    t.primary(['owner', 'key']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('idempotency_keys');
}
