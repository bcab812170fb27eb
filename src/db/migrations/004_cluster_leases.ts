// Which gateway polls (and submits to, and collects from) each cluster: one row per cluster, held
// by one gateway instance until expires_at. Several gateways on one PostgreSQL database share
// the clusters this way; on SQLite the single gateway simply always holds every lease.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('cluster_leases', (t) => {
    t.string('cluster').primary();
    /** hostname:pid:random of the holding gateway process. */
    t.string('holder').notNullable();
    /** Milliseconds since the epoch, by the database server's clock on PostgreSQL. */
    t.bigInteger('expires_at').notNullable();
    /** When the current holder took the lease (same clock): renewals keep it. */
    t.bigInteger('acquired_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('cluster_leases');
}
