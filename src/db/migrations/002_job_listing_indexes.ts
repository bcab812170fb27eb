// GET /jobs filters by state, tag or app and pages by creation time; these indexes keep each
// page an index range scan even with 100,000 jobs per user.
import type { Knex } from 'knex';

const INDEXES: Array<[string, string[]]> = [
  ['jobs_owner_state_created', ['owner', 'state', 'created_at', 'id']],
  ['jobs_owner_tag_created', ['owner', 'tag', 'created_at', 'id']],
  ['jobs_owner_app_created', ['owner', 'app', 'created_at', 'id']],
  ['jobs_owner_created_id', ['owner', 'created_at', 'id']],
];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('jobs', (t) => {
    for (const [name, columns] of INDEXES) t.index(columns, name);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('jobs', (t) => {
    for (const [name, columns] of INDEXES) t.dropIndex(columns, name);
  });
}
