import { db } from './knex';
import { Vendor } from './models';
import { createVendorPartitions } from './vendor-partitions';

export interface NewVendor {
  cafe_name: string;
  timezone?: string;
  opening_days?: string[];
}

/** Onboards a vendor and its dashboard/promo partitions in one transaction. */
export async function createVendor(input: NewVendor): Promise<Vendor> {
  return db.transaction(async (trx) => {
    const vendor = await Vendor.query(trx).insertAndFetch({
      cafe_name: input.cafe_name,
      ...(input.timezone ? { timezone: input.timezone } : {}),
      ...(input.opening_days ? { opening_days: input.opening_days } : {}),
    });
    await createVendorPartitions(trx, vendor.id);
    return vendor;
  });
}

export async function findVendor(vendorId: number): Promise<Vendor | undefined> {
  return Vendor.query().findById(vendorId);
}

/** The vendor after the change, or undefined when there is no such vendor. */
export async function setOpeningDays(vendorId: number, openingDays: string[]): Promise<Vendor | undefined> {
  const [vendor] = await Vendor.query()
    .patch({ opening_days: openingDays, updated_at: db.fn.now() } as Partial<Vendor>)
    .where('id', vendorId)
    .returning('*');
  return vendor as Vendor | undefined;
}
