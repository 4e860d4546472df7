import { Knex } from 'knex';

// SPEC §5.3, §5.4, §6, §7: payments. The tables of orders, payments, wallets and promo codes came
// with the first schema; this adds what confirming, refunding and the outbox's jobs need.

export async function up(knex: Knex): Promise<void> {
  // What one booking of a confirmation paid (its price less its share of the discount): what a
  // cancellation gives back.
  await knex.schema.alterTable('bookings', (t) => {
    t.bigInteger('paid_paise');
    // When a gateway confirmation extended the hold while Razorpay was asked (the sweeper's
    // fence): once per hold, so confirming with made-up payment ids cannot keep a slot forever.
    t.timestamp('fenced_at', { useTz: true });
  });

  // A refund owed through Razorpay: written in the transaction that decides it (a cancellation, a
  // late payment whose slot was taken), carried out by a payment-verification job afterwards.
  // The receipt, also its idempotency key at Razorpay, makes it happen once however often the job runs.
  await knex.schema.createTable('refunds', (t) => {
    t.increments('id');
    t.text('payment_id').notNullable().references('payments.id');
    t.integer('booking_id').references('bookings.id');
    t.bigInteger('amount_paise').notNullable();
    t.text('receipt').notNullable().unique();
    t.text('status').notNullable().defaultTo('pending');
    t.text('razorpay_refund_id');
    t.timestamps(true, true);
    t.index(['payment_id']);
  });
  await knex.raw(`ALTER TABLE refunds
    ADD CONSTRAINT refunds_amount_positive CHECK (amount_paise > 0),
    ADD CONSTRAINT refunds_status_valid CHECK (status IN ('pending', 'processed'))`);
  await knex.raw(`CREATE INDEX refunds_pending ON refunds (created_at) WHERE status = 'pending'`);

  await knex.raw(`ALTER TABLE payment_orders
    ADD CONSTRAINT payment_orders_status_valid CHECK (status IN ('created', 'paid', 'expired')),
    ADD CONSTRAINT payment_orders_amount_positive CHECK (amount_paise > 0)`);
  await knex.raw(`CREATE INDEX payment_orders_open ON payment_orders (created_at) WHERE status = 'created'`);
  await knex.raw(`CREATE INDEX payments_captured ON payments (created_at) WHERE status = 'captured'`);
  await knex.raw('CREATE INDEX bookings_transaction ON bookings (transaction_id) WHERE transaction_id IS NOT NULL');

  // The outbox also carries jobs (vendor-sync, refunds) that a transaction implies: the relay
  // adds them to their queue after the commit.
  await knex.raw('ALTER TABLE outbox DROP CONSTRAINT outbox_topic_valid');
  await knex.raw(`ALTER TABLE outbox ADD CONSTRAINT outbox_topic_valid CHECK (topic IN ('socket', 'job'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DELETE FROM outbox WHERE topic = 'job'`);
  await knex.raw('ALTER TABLE outbox DROP CONSTRAINT outbox_topic_valid');
  await knex.raw(`ALTER TABLE outbox ADD CONSTRAINT outbox_topic_valid CHECK (topic IN ('socket'))`);
  await knex.raw('DROP INDEX bookings_transaction');
  await knex.raw('DROP INDEX payments_captured');
  await knex.raw('DROP INDEX payment_orders_open');
  await knex.raw('ALTER TABLE payment_orders DROP CONSTRAINT payment_orders_status_valid, DROP CONSTRAINT payment_orders_amount_positive');
  await knex.schema.dropTable('refunds');
  await knex.schema.alterTable('bookings', (t) => {
    t.dropColumn('paid_paise');
    t.dropColumn('fenced_at');
  });
}
