import { Knex } from 'knex';

// SPEC §8: each vendor's dashboard and promo rows live in their own list partition, named so that
// the seed's `SELECT * FROM VENDOR_7_DASHBOARD` keeps working. Called inside the onboarding
// transaction, so a vendor never exists without its partitions.
export async function createVendorPartitions(trx: Knex.Transaction, vendorId: number): Promise<void> {
  if (!Number.isSafeInteger(vendorId) || vendorId <= 0) throw new Error(`bad vendor id ${vendorId}`);
  await trx.raw(`CREATE TABLE vendor_${vendorId}_dashboard PARTITION OF vendor_dashboard FOR VALUES IN (${vendorId})`);
  await trx.raw(`CREATE TABLE vendor_${vendorId}_promo_detail PARTITION OF vendor_promo_detail FOR VALUES IN (${vendorId})`);
}
