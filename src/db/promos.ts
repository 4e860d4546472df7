import { Knex } from 'knex';
import { db, Transaction } from './knex';
import { Conflict, Invalid, NotFound } from '../errors';
import { decidePromo, PromoRule } from '../domain/promo';

// Promo codes (SPEC §7). A redemption locks the code's row (lock order 5, src/db/locks.ts) and
// decides from statements run after the lock, so concurrent confirmations are serialised on the
// code and can never exceed max_redemptions or per_user_limit; the CHECK on redemption_count is
// the database's last word.

const UNIQUE_VIOLATION = '23505';
const FOREIGN_KEY_VIOLATION = '23503';

const RULE_COLUMNS = [
  'id', 'code', 'vendor_id', 'discount_type', 'discount_value', 'max_discount_paise', 'min_amount_paise',
  'valid_from', 'valid_until', 'max_redemptions', 'per_user_limit', 'redemption_count', 'is_active',
];

export interface PromoInput {
  userId: number;
  vendorId: number;
  totalPaise: number;
  now?: Date;
}

export type PromoResult = { ok: true; discountPaise: number; promoCodeId: number; code: string } | { ok: false; reason: string };

const UNKNOWN_CODE: PromoResult = { ok: false, reason: 'Unknown promo code' };

/** Locks the code's row, then decides: what a confirmation calls in its transaction. Writes nothing. */
export async function lockPromo(trx: Transaction, code: string, input: PromoInput): Promise<PromoResult> {
  const locked: Array<{ id: number }> = (await trx.raw('SELECT id FROM promo_codes WHERE upper(code) = upper(?) FOR UPDATE', [code])).rows;
  if (locked.length === 0) return UNKNOWN_CODE;
  return decide(trx, (query) => query.where('id', locked[0].id), input);
}

/** The decision a confirmation would take now, without locking: for previews. */
export async function previewPromo(conn: Knex, code: string, input: PromoInput): Promise<PromoResult> {
  return decide(conn, (query) => query.whereRaw('upper(code) = upper(?)', [code]), input);
}

async function decide(conn: Knex, which: (query: Knex.QueryBuilder) => Knex.QueryBuilder, input: PromoInput): Promise<PromoResult> {
  const rule: PromoRule | undefined = await which(conn('promo_codes')).first(RULE_COLUMNS);
  if (!rule) return UNKNOWN_CODE;
  const used = await conn('promo_redemptions').where({ promo_code_id: rule.id, user_id: input.userId }).count({ count: '*' }).first();
  const decision = decidePromo(rule, {
    vendorId: input.vendorId,
    totalPaise: input.totalPaise,
    userRedemptions: Number(used?.count ?? 0),
    now: input.now ?? new Date(),
  });
  return decision.ok ? { ...decision, promoCodeId: rule.id, code: rule.code } : decision;
}

/** Records a redemption of a code locked by lockPromo in this transaction. */
export async function recordRedemption(trx: Transaction, promoCodeId: number, userId: number, transactionId: number, discountPaise: number): Promise<void> {
  await trx('promo_redemptions').insert({ promo_code_id: promoCodeId, user_id: userId, transaction_id: transactionId, discount_paise: discountPaise });
  await trx('promo_codes').where('id', promoCodeId).update({ redemption_count: trx.raw('redemption_count + 1'), updated_at: trx.fn.now() });
}

// --- managing codes (SPEC §5.2) ------------------------------------------------------------------

export interface PromoChanges {
  discount_value?: number;
  max_discount_paise?: number | null;
  min_amount_paise?: number | null;
  valid_from?: Date | null;
  valid_until?: Date | null;
  max_redemptions?: number | null;
  per_user_limit?: number | null;
  is_active?: boolean;
}

export interface NewPromo extends PromoChanges {
  code: string;
  vendor_id: number | null;
  discount_type: 'percent' | 'flat';
  discount_value: number;
}

function checkWindow(rule: Pick<PromoRule, 'valid_from' | 'valid_until'>): void {
  if (rule.valid_from && rule.valid_until && rule.valid_until <= rule.valid_from) throw new Invalid('valid_until is before valid_from');
}

export async function createPromo(input: NewPromo): Promise<PromoRule> {
  checkWindow({ valid_from: input.valid_from ?? null, valid_until: input.valid_until ?? null });
  try {
    const [rule] = await db('promo_codes').insert(input).returning(RULE_COLUMNS);
    return rule;
  } catch (error: any) {
    // The unique index on upper(code) decides, so two racing creates cannot both succeed.
    if (error?.code === UNIQUE_VIOLATION) throw new Conflict('duplicate', `A promo code "${input.code}" already exists`);
    if (error?.code === FOREIGN_KEY_VIOLATION) throw new NotFound('Vendor');
    throw error;
  }
}

/** Every code, or one cafe's (not the codes for every cafe), oldest first. */
export function listPromos(vendorId?: number): Promise<PromoRule[]> {
  return db('promo_codes')
    .modify((query) => { if (vendorId !== undefined) query.where('vendor_id', vendorId); })
    .orderBy('id')
    .select(RULE_COLUMNS);
}

export function findPromo(id: number): Promise<PromoRule | undefined> {
  return db('promo_codes').where('id', id).first(RULE_COLUMNS);
}

/** Changes a code; the row is locked first, so a limit is never set below redemptions that just happened. */
export async function updatePromo(id: number, changes: PromoChanges): Promise<PromoRule> {
  return db.transaction(async (trx) => {
    await trx('promo_codes').where('id', id).forUpdate().first('id');
    const current: PromoRule | undefined = await trx('promo_codes').where('id', id).first(RULE_COLUMNS);
    if (!current) throw new NotFound('Promo code');
    const next = { ...current, ...changes };
    checkWindow(next);
    if (next.max_redemptions !== null && next.max_redemptions < current.redemption_count) {
      throw new Conflict('invalid_state', `The code was already redeemed ${current.redemption_count} times`, { redemption_count: current.redemption_count });
    }
    const [rule] = await trx('promo_codes').where('id', id).update({ ...changes, updated_at: trx.fn.now() }).returning(RULE_COLUMNS);
    return rule;
  });
}

export interface PricedBooking {
  id: number;
  user_id: number;
  vendor_id: number;
  price_paise: number;
}

/** The bookings that exist among `ids`, with what they cost. */
export function pricedBookings(ids: number[]): Promise<PricedBooking[]> {
  return db('bookings').whereIn('id', ids).orderBy('id').select('id', 'user_id', 'vendor_id', 'price_paise');
}
