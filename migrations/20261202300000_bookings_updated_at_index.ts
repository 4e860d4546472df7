import { Knex } from 'knex';

// The vendor tables' audit (sweeper schedule `vendor-audit`) looks only at the bookings changed in
// the last day: every status, slot or date change of a booking sets bookings.updated_at.

export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE INDEX bookings_updated_at ON bookings (updated_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS bookings_updated_at');
}
