import { Knex } from 'knex';

// SPEC §8: a dashboard row's upcoming → current → completed follows the cafe's clock. The clock
// job looks only at rows still upcoming or current on a day that has come; this partial index on
// the parent is created on every vendor's partition, now and when a vendor is onboarded.

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX vendor_dashboard_running ON vendor_dashboard (date) WHERE book_status IN ('upcoming', 'current')`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS vendor_dashboard_running');
}
