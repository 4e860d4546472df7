import { Knex } from 'knex';

// SPEC §2: the request ledger replaces the per-column request ids on bookings and the
// idempotency_keys table; the transactional outbox carries what a transaction implies for the
// outside world. SPEC §4/§5.2/§5.3: a cafe's customers, and which holds a cafe made for them.

export async function up(knex: Knex): Promise<void> {
  // One row per job-backed request, written in the transaction of the request's effect: a re-run
  // of the request (BullMQ is at-least-once) finds it and answers as before; Idempotency-Key
  // replays and GET /jobs/:id read it after the BullMQ job is gone. Pruned after a retention.
  await knex.schema.createTable('request_ledger', (t) => {
    t.text('id').primary(); // the request id: derived from (caller, endpoint, key) when keyed
    t.integer('user_id').notNullable(); // the caller
    t.text('endpoint').notNullable();
    t.text('idempotency_key');
    t.text('body_hash');
    // The public job ids that carried this request: a request resubmitted under its id (an
    // Idempotency-Key retry whose first job vanished) or repeated in one batch has several.
    t.specificType('job_ids', 'text[]').notNullable();
    t.text('state').notNullable();
    t.integer('status'); // the HTTP status of the answer
    t.json('answer'); // json, not jsonb: a replay answers the very bytes of the first answer
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['created_at']);
  });
  await knex.raw('CREATE INDEX request_ledger_job_ids ON request_ledger USING gin (job_ids)');
  await knex.raw(`ALTER TABLE request_ledger
    ADD CONSTRAINT request_ledger_state_valid CHECK (state IN ('running', 'completed')),
    ADD CONSTRAINT request_ledger_answer_when_completed CHECK (state <> 'completed' OR (status IS NOT NULL AND answer IS NOT NULL))`);

  // Inserted by the transaction that changes a booking; relayed right after its commit, and by a
  // periodic relay for whatever a crash left behind; deleted once sent.
  await knex.schema.createTable('outbox', (t) => {
    t.uuid('id').primary(); // the event id clients deduplicate on
    t.text('topic').notNullable();
    t.jsonb('payload').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['created_at']);
  });
  await knex.raw(`ALTER TABLE outbox ADD CONSTRAINT outbox_topic_valid CHECK (topic IN ('socket'))`);

  await knex.schema.createTable('vendor_customers', (t) => {
    t.integer('vendor_id').notNullable().references('vendors.id').onDelete('CASCADE');
    t.integer('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['vendor_id', 'user_id']);
  });

  await knex.schema.alterTable('bookings', (t) => {
    t.dropUnique(['hold_request_id', 'slot_id']);
    t.dropColumn('hold_request_id');
    t.dropColumn('last_change_request_id');
    // Set when a cafe held for its customer: such holds count against the cafe's own allowance.
    t.integer('held_by_vendor_id').references('vendors.id');
    t.index(['user_id', 'vendor_id']);
  });

  // A walk-in customer may have no email.
  await knex.raw('ALTER TABLE users ALTER COLUMN email DROP NOT NULL');

  await knex.schema.dropTable('idempotency_keys');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.createTable('idempotency_keys', (t) => {
    t.integer('user_id').notNullable();
    t.text('endpoint').notNullable();
    t.text('key').notNullable();
    t.text('request_hash').notNullable();
    t.text('job_id').notNullable();
    t.integer('response_status');
    t.jsonb('response_body');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['user_id', 'endpoint', 'key']);
  });
  await knex.raw(`UPDATE users SET email = 'user-' || id || '@example.invalid' WHERE email IS NULL`);
  await knex.raw('ALTER TABLE users ALTER COLUMN email SET NOT NULL');
  await knex.schema.alterTable('bookings', (t) => {
    t.dropIndex(['user_id', 'vendor_id']);
    t.dropColumn('held_by_vendor_id');
    t.text('hold_request_id');
    t.text('last_change_request_id');
  });
  await knex.raw(`UPDATE bookings SET hold_request_id = 'migrated-' || id`);
  await knex.raw('ALTER TABLE bookings ALTER COLUMN hold_request_id SET NOT NULL');
  await knex.schema.alterTable('bookings', (t) => {
    t.unique(['hold_request_id', 'slot_id']);
  });
  await knex.schema.dropTable('vendor_customers');
  await knex.schema.dropTable('outbox');
  await knex.schema.dropTable('request_ledger');
}
