import { UniqueViolationError } from 'objection';
import { db, Transaction } from './knex';
import { User } from './models';
import { Conflict, NotFound } from '../errors';

// A cafe's customers (SPEC §4, §5.2): the walk-ins it registered, and everyone with a booking
// there. A cafe sees contact details, and holds slots, only for its own customers.

export interface NewCustomer {
  name: string;
  phone: string;
  email: string | null;
}

/** Digits and a leading +: "98450 12345" and "98450-12345" are one phone. */
const PHONE_KEY_SQL = `regexp_replace(u.phone, '[^0-9+]', '', 'g')`;
const phoneKey = (phone: string) => phone.replace(/[^0-9+]/g, '');

/** SQL: the user `user` is a customer of the cafe `vendor` (column names, or `?` bound twice). */
function isCustomer(user: string, vendor: string): string {
  return `${user} IN (SELECT user_id FROM vendor_customers WHERE vendor_id = ${vendor} UNION SELECT user_id FROM bookings WHERE vendor_id = ${vendor})`;
}

/**
 * Which of these (cafe, user) pairs are a cafe and its customer, as `vendorId:userId`. The
 * relation only grows, so a read without a lock can only miss someone registered a moment ago.
 */
export async function customersAmong(trx: Transaction, pairs: Array<{ vendorId: number; userId: number }>): Promise<Set<string>> {
  if (pairs.length === 0) return new Set();
  const rows: Array<{ vendor_id: number; user_id: number }> = (await trx.raw(
    `SELECT p.vendor_id, p.user_id FROM unnest(?::int[], ?::int[]) AS p(vendor_id, user_id)
      WHERE ${isCustomer('p.user_id', 'p.vendor_id')}`,
    [pairs.map((p) => p.vendorId), pairs.map((p) => p.userId)],
  )).rows;
  return new Set(rows.map((row) => `${row.vendor_id}:${row.user_id}`));
}

/**
 * Registers a walk-in, or finds the customer of this cafe with that phone. The vendor row's lock
 * serialises one cafe's registrations, so two at once with one phone make one customer (lock,
 * then read); NO KEY UPDATE leaves the row's key share to the holds that reference it.
 */
export async function registerCustomer(vendorId: number, input: NewCustomer): Promise<{ user: User; created: boolean }> {
  return db.transaction(async (trx) => {
    const vendor = await trx('vendors').where('id', vendorId).forNoKeyUpdate().first('id');
    if (!vendor) throw new NotFound('Vendor');
    const existing: User | undefined = await User.query(trx)
      .alias('u')
      .whereRaw(isCustomer('u.id', '?'), [vendorId, vendorId])
      .whereRaw(`${PHONE_KEY_SQL} = ?`, [phoneKey(input.phone)])
      .orderBy('u.id')
      .first();
    if (existing) {
      await trx('vendor_customers').insert({ vendor_id: vendorId, user_id: existing.id }).onConflict(['vendor_id', 'user_id']).ignore();
      return { user: existing, created: false };
    }
    let user: User;
    try {
      user = await User.query(trx).insertAndFetch({ name: input.name, phone: input.phone, email: input.email } as Partial<User>);
    } catch (error) {
      // Someone else's email: the cafe learns only that it is taken, never whose it is.
      if (error instanceof UniqueViolationError) throw new Conflict('duplicate', 'A user with this email already exists');
      throw error;
    }
    await trx('vendor_customers').insert({ vendor_id: vendorId, user_id: user.id });
    return { user, created: true };
  });
}

/** The cafe's customers, newest first, optionally matching `q` in name, phone or email. */
export async function listCustomers(vendorId: number, query: { q?: string; limit: number }): Promise<User[]> {
  return User.query()
    .alias('u')
    .whereRaw(isCustomer('u.id', '?'), [vendorId, vendorId])
    .modify((q) => {
      if (!query.q) return;
      const pattern = `%${query.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      q.where((w) => w.whereILike('u.name', pattern).orWhereILike('u.email', pattern).orWhereILike('u.phone', pattern));
    })
    .orderBy('u.id', 'desc')
    .limit(query.limit);
}
