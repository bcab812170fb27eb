// Initial schema: uploaded files, jobs, their state history, and which input files are already
// staged on which cluster (so a campaign on one image sends it once).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('files', (t) => {
    t.string('id', 32).primary();
    t.string('owner').notNullable();
    t.string('filename_orig').notNullable();
    t.string('fileext').notNullable();
    t.string('format').notNullable();
    t.bigInteger('size_bytes').notNullable();
    t.string('sha256', 64).notNullable();
    t.string('tag');
    t.string('stored_path').notNullable();
    t.string('created_at').notNullable();
    t.index(['owner', 'created_at']);
  });

  await knex.schema.createTable('jobs', (t) => {
    t.string('id', 36).primary();
    t.string('owner').notNullable();
    t.string('app').notNullable();
    t.string('cluster').notNullable();
    // No foreign key: a finished job keeps naming its input after the file is deleted.
    t.string('file_id', 32).notNullable();
    t.text('job_inputs').notNullable();
    t.string('tag');
    t.string('state').notNullable();
    t.text('status').notNullable();
    // submission: queued → submitting → submitted (→ cancelled before submit)
    t.string('submit_phase').notNullable();
    t.integer('submit_attempts').notNullable().defaultTo(0);
    t.text('last_error');
    t.string('next_attempt_at');
    t.text('script').notNullable();
    t.text('app_config').notNullable();
    t.text('resources').notNullable();
    t.string('input_name').notNullable();
    t.string('slurm_job_id');
    t.string('slurm_state');
    t.text('slurm_reason');
    t.string('slurm_exit_code');
    t.integer('exit_code');
    t.integer('elapsed_seconds');
    t.string('node_list');
    t.string('partition');
    t.string('slurm_submit_at');
    t.string('slurm_start_at');
    t.string('slurm_end_at');
    t.boolean('cancel_requested').notNullable().defaultTo(false);
    t.string('missing_since');
    t.string('final_seen_at');
    // output collection: none → pending → done | failed
    t.string('output_phase').notNullable().defaultTo('none');
    t.integer('output_attempts').notNullable().defaultTo(0);
    t.bigInteger('output_bytes');
    t.string('output_path');
    t.string('created_at').notNullable();
    t.string('updated_at').notNullable();
    t.string('finished_at');
    t.index(['owner', 'created_at']);
    t.index(['cluster', 'state']);
    t.index(['submit_phase']);
    t.index(['output_phase']);
  });

  await knex.schema.createTable('job_events', (t) => {
    t.increments('id');
    t.string('job_id', 36).notNullable().references('id').inTable('jobs').onDelete('CASCADE');
    t.string('at').notNullable();
    t.string('from_state');
    t.string('to_state').notNullable();
    t.text('reason').notNullable();
    t.index(['job_id', 'id']);
  });

  await knex.schema.createTable('staged_files', (t) => {
    t.string('file_id', 32).notNullable().references('id').inTable('files').onDelete('CASCADE');
    t.string('cluster').notNullable();
    t.string('remote_path').notNullable();
    t.string('staged_at').notNullable();
    t.primary(['file_id', 'cluster']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['staged_files', 'job_events', 'jobs', 'files']) await knex.schema.dropTableIfExists(table);
}
