import { Knex } from 'knex';

// The whole data model of SPEC.md. Money is integer paise everywhere; booking dates are calendar
// days in the vendor's time zone; every inventory change is guarded by the CHECK on slot_inventory.

const BOOKING_STATUSES = ['pending_verified', 'confirmed', 'cancelled', 'verification_failed', 'refunded'];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('vendors', (t) => {
    t.increments('id');
    t.text('cafe_name').notNullable();
    t.text('timezone').notNullable().defaultTo('Asia/Kolkata');
    t.specificType('opening_days', 'text[]').notNullable()
      .defaultTo(knex.raw(`'{mon,tue,wed,thu,fri,sat,sun}'::text[]`));
    t.timestamps(true, true);
  });
  await knex.raw(`ALTER TABLE vendors ADD CONSTRAINT vendors_opening_days_valid
    CHECK (opening_days <@ '{mon,tue,wed,thu,fri,sat,sun}'::text[])`);

  await knex.schema.createTable('gaming_types', (t) => {
    t.increments('id');
    t.text('name').notNullable();
    t.text('description').notNullable().defaultTo('');
    t.timestamps(true, true);
  });
  await knex.raw('CREATE UNIQUE INDEX gaming_types_name_unique ON gaming_types (lower(name))');

  await knex.schema.createTable('games', (t) => {
    t.increments('id');
    t.integer('vendor_id').notNullable().references('vendors.id').onDelete('CASCADE');
    t.integer('gaming_type_id').references('gaming_types.id').onDelete('RESTRICT');
    t.text('game_name').notNullable();
    t.integer('total_slots').notNullable();
    t.bigInteger('single_slot_price_paise').notNullable();
    t.timestamps(true, true);
    t.index(['vendor_id']);
    t.index(['gaming_type_id']);
  });
  await knex.raw(`ALTER TABLE games
    ADD CONSTRAINT games_total_slots_positive CHECK (total_slots > 0),
    ADD CONSTRAINT games_price_not_negative CHECK (single_slot_price_paise >= 0)`);

  await knex.schema.createTable('slots', (t) => {
    t.increments('id');
    t.integer('game_id').notNullable().references('games.id').onDelete('CASCADE');
    t.time('start_time').notNullable();
    t.time('end_time').notNullable();
    t.unique(['game_id', 'start_time']);
  });
  await knex.raw('ALTER TABLE slots ADD CONSTRAINT slots_end_after_start CHECK (end_time > start_time)');

  // One row per (slot, date) that has ever been held; created on first hold with the game's
  // capacity. `available` is what booking workers decrement and increment with conditional updates.
  await knex.schema.createTable('slot_inventory', (t) => {
    t.integer('slot_id').notNullable().references('slots.id').onDelete('CASCADE');
    t.date('book_date').notNullable();
    t.integer('game_id').notNullable().references('games.id').onDelete('CASCADE');
    t.integer('capacity').notNullable();
    t.integer('available').notNullable();
    t.primary(['slot_id', 'book_date']);
    t.index(['game_id', 'book_date']);
  });
  await knex.raw(`ALTER TABLE slot_inventory ADD CONSTRAINT slot_inventory_available_in_range
    CHECK (available >= 0 AND available <= capacity)`);

  await knex.schema.createTable('consoles', (t) => {
    t.increments('id');
    t.integer('vendor_id').notNullable().references('vendors.id').onDelete('CASCADE');
    t.text('console_number').notNullable();
    t.text('model_number').notNullable();
    t.text('brand').notNullable();
    t.text('console_type').notNullable();
    t.text('status').notNullable().defaultTo('available');
    t.timestamps(true, true);
    t.unique(['vendor_id', 'console_number']);
  });
  await knex.raw(`ALTER TABLE consoles ADD CONSTRAINT consoles_status_valid
    CHECK (status IN ('available', 'in_use', 'maintenance'))`);

  await knex.schema.createTable('console_games', (t) => {
    t.integer('console_id').notNullable().references('consoles.id').onDelete('CASCADE');
    t.integer('game_id').notNullable().references('games.id').onDelete('CASCADE');
    t.primary(['console_id', 'game_id']);
    t.index(['game_id']);
  });

  await knex.schema.createTable('users', (t) => {
    t.increments('id');
    t.text('name').notNullable();
    t.text('email').notNullable();
    t.text('phone').notNullable();
    t.timestamps(true, true);
  });
  await knex.raw('CREATE UNIQUE INDEX users_email_unique ON users (lower(email))');

  await knex.schema.createTable('access_codes', (t) => {
    t.increments('id');
    t.specificType('code', 'char(6)').notNullable().unique();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`ALTER TABLE access_codes ADD CONSTRAINT access_codes_format CHECK (code ~ '^[A-Z0-9]{6}$')`);

  await knex.schema.createTable('promo_codes', (t) => {
    t.increments('id');
    t.text('code').notNullable();
    t.integer('vendor_id').references('vendors.id').onDelete('CASCADE');
    t.text('discount_type').notNullable();
    t.bigInteger('discount_value').notNullable();
    t.bigInteger('max_discount_paise');
    t.bigInteger('min_amount_paise');
    t.timestamp('valid_from', { useTz: true });
    t.timestamp('valid_until', { useTz: true });
    t.integer('max_redemptions');
    t.integer('per_user_limit');
    t.integer('redemption_count').notNullable().defaultTo(0);
    t.boolean('is_active').notNullable().defaultTo(true);
    t.timestamps(true, true);
  });
  await knex.raw('CREATE UNIQUE INDEX promo_codes_code_unique ON promo_codes (upper(code))');
  await knex.raw(`ALTER TABLE promo_codes
    ADD CONSTRAINT promo_codes_type_valid CHECK (discount_type IN ('percent', 'flat')),
    ADD CONSTRAINT promo_codes_value_valid CHECK (discount_value > 0 AND (discount_type <> 'percent' OR discount_value <= 100)),
    ADD CONSTRAINT promo_codes_redemptions_within_limit CHECK (max_redemptions IS NULL OR redemption_count <= max_redemptions)`);

  // A confirmation: what was paid, how, and with which promo. Bookings point here.
  await knex.schema.createTable('transactions', (t) => {
    t.increments('id');
    t.integer('user_id').notNullable().references('users.id');
    t.integer('vendor_id').notNullable().references('vendors.id');
    t.text('payment_mode').notNullable();
    t.bigInteger('amount_paise').notNullable();
    t.bigInteger('discount_paise').notNullable().defaultTo(0);
    t.integer('promo_code_id').references('promo_codes.id');
    t.text('payment_id');
    t.text('status').notNullable().defaultTo('paid');
    t.timestamps(true, true);
    t.index(['user_id']);
  });
  await knex.raw(`ALTER TABLE transactions
    ADD CONSTRAINT transactions_mode_valid CHECK (payment_mode IN ('payment_gateway', 'wallet')),
    ADD CONSTRAINT transactions_amounts_valid CHECK (amount_paise >= 0 AND discount_paise >= 0),
    ADD CONSTRAINT transactions_status_valid CHECK (status IN ('paid', 'refunded', 'partially_refunded'))`);

  await knex.schema.createTable('bookings', (t) => {
    t.increments('id');
    t.integer('user_id').notNullable().references('users.id');
    t.integer('vendor_id').notNullable().references('vendors.id');
    t.integer('game_id').notNullable().references('games.id');
    t.integer('slot_id').notNullable().references('slots.id');
    t.date('book_date').notNullable();
    t.text('status').notNullable().defaultTo('pending_verified');
    t.bigInteger('price_paise').notNullable();
    t.timestamp('hold_expires_at', { useTz: true });
    // The booking job that created this hold: a job run twice finds its bookings here instead of
    // holding again (BullMQ is at-least-once).
    t.text('hold_request_id').notNullable();
    // The request (job) that made the latest status or slot change: a job run twice recognises
    // its own change and answers as the first run did.
    t.text('last_change_request_id');
    t.integer('transaction_id').references('transactions.id');
    t.integer('access_code_id').references('access_codes.id');
    t.timestamps(true, true);
    t.unique(['hold_request_id', 'slot_id']);
    t.index(['user_id', 'status']);
    t.index(['slot_id', 'book_date', 'status']);
    t.index(['transaction_id']);
  });
  await knex.raw(`ALTER TABLE bookings ADD CONSTRAINT bookings_status_valid
    CHECK (status IN (${BOOKING_STATUSES.map((s) => `'${s}'`).join(', ')}))`);
  await knex.raw(`CREATE INDEX bookings_pending_expiry ON bookings (hold_expires_at)
    WHERE status = 'pending_verified'`);

  // Idempotency-Key records, scoped to (user, endpoint). The answer is stored by the job's own
  // transaction, so a retry returns the first answer even after the job itself was removed.
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

  await knex.schema.createTable('payment_orders', (t) => {
    t.text('id').primary(); // Razorpay order id
    t.integer('user_id').notNullable().references('users.id');
    t.bigInteger('amount_paise').notNullable();
    t.bigInteger('discount_paise').notNullable().defaultTo(0);
    t.text('currency').notNullable().defaultTo('INR');
    t.text('receipt').notNullable();
    t.specificType('booking_ids', 'integer[]').notNullable().defaultTo('{}');
    t.integer('promo_code_id').references('promo_codes.id');
    t.text('status').notNullable().defaultTo('created');
    t.timestamps(true, true);
    t.index(['user_id']);
  });

  await knex.schema.createTable('payments', (t) => {
    t.text('id').primary(); // Razorpay payment id: confirms at most one set of bookings
    t.text('order_id').notNullable().references('payment_orders.id');
    t.integer('user_id').notNullable().references('users.id');
    t.bigInteger('amount_paise').notNullable();
    t.text('status').notNullable();
    t.integer('transaction_id').references('transactions.id');
    t.text('refund_id');
    t.timestamps(true, true);
  });
  await knex.raw(`ALTER TABLE payments ADD CONSTRAINT payments_status_valid
    CHECK (status IN ('captured', 'confirmed', 'refunded'))`);

  await knex.schema.createTable('webhook_events', (t) => {
    t.text('event_id').primary(); // X-Razorpay-Event-Id
    t.text('event').notNullable();
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('wallets', (t) => {
    t.integer('user_id').primary().references('users.id').onDelete('CASCADE');
    t.bigInteger('balance_paise').notNullable().defaultTo(0);
    t.timestamps(true, true);
  });
  await knex.raw('ALTER TABLE wallets ADD CONSTRAINT wallets_balance_not_negative CHECK (balance_paise >= 0)');

  await knex.schema.createTable('wallet_ledger', (t) => {
    t.increments('id');
    t.integer('user_id').notNullable().references('wallets.user_id').onDelete('CASCADE');
    t.bigInteger('amount_paise').notNullable(); // credit > 0, debit < 0
    t.text('reason').notNullable();
    t.integer('transaction_id').references('transactions.id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['user_id', 'id']);
  });
  await knex.raw('ALTER TABLE wallet_ledger ADD CONSTRAINT wallet_ledger_amount_nonzero CHECK (amount_paise <> 0)');

  await knex.schema.createTable('promo_redemptions', (t) => {
    t.increments('id');
    t.integer('promo_code_id').notNullable().references('promo_codes.id');
    t.integer('user_id').notNullable().references('users.id');
    t.integer('transaction_id').notNullable().unique().references('transactions.id');
    t.bigInteger('discount_paise').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['promo_code_id', 'user_id']);
  });

  // SPEC §8: one list partition per vendor (vendor_{id}_dashboard, vendor_{id}_promo_detail),
  // created by src/db/vendor-partitions.ts in the transaction that onboards the vendor.
  await knex.raw(`CREATE TABLE vendor_dashboard (
    vendor_id integer NOT NULL,
    book_id integer NOT NULL,
    user_id integer NOT NULL,
    username text NOT NULL,
    game_id integer NOT NULL,
    game_name text NOT NULL,
    console_id integer,
    date date NOT NULL,
    start_time time NOT NULL,
    end_time time NOT NULL,
    book_status text NOT NULL CHECK (book_status IN ('upcoming', 'current', 'completed', 'cancelled', 'refunded')),
    amount bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (vendor_id, book_id)
  ) PARTITION BY LIST (vendor_id)`);
  await knex.raw(`CREATE TABLE vendor_promo_detail (
    vendor_id integer NOT NULL,
    booking_id integer NOT NULL,
    transaction_id integer NOT NULL,
    promo_code text NOT NULL,
    discount_applied bigint NOT NULL,
    actual_price bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (vendor_id, booking_id)
  ) PARTITION BY LIST (vendor_id)`);
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'vendor_promo_detail', 'vendor_dashboard', 'promo_redemptions', 'wallet_ledger', 'wallets',
    'webhook_events', 'payments', 'payment_orders', 'idempotency_keys', 'bookings', 'transactions',
    'promo_codes', 'access_codes', 'users', 'console_games', 'consoles', 'slot_inventory', 'slots',
    'games', 'gaming_types', 'vendors',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
