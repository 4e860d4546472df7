import { createRouter } from '../context';
import { AuthUser, requireRole, requireUser } from '../auth';
import { bodyParser, bookingIdOf, bookingIdSchema, dateSchema, idParams, idSchema, nullableBodyIdSchema, queryParser, toId } from '../validate';
import { actorOf } from '../job-response';
import { Forbidden, Invalid, NotFound } from '../../errors';
import { config } from '../../config';
import { canSee } from '../../db/booking-views';
import { findVendor } from '../../db/vendors';
import { createPromo, findPromo, listPromos, previewPromo, pricedBookings, PromoChanges, updatePromo } from '../../db/promos';
import { db } from '../../db/knex';
import { parseCalendarDate } from '../../domain/dates';
import { GLOBAL_PROMO_ZONE, PromoRule, validFromInstant, validUntilInstant } from '../../domain/promo';
import { paiseToRupees, rupeesToPaise } from '../../domain/money';

// SPEC §7 and §5.2: promo codes, managed by admins (any cafe, or every cafe) and by a cafe for
// itself, and previewed against bookings by anyone who may see them. Redeeming is a confirmation's
// business (src/db/promos.ts lockPromo).

export const promosRouter = createRouter();

const MAX_AMOUNT_RUPEES = 1_000_000;

const rupees = (minimum: number) => ({ type: 'integer', minimum, maximum: MAX_AMOUNT_RUPEES, nullable: true }) as const;
const limit = { type: 'integer', minimum: 1, maximum: 2147483647, nullable: true } as const;
const nullableDate = { ...dateSchema, nullable: true } as const;

/** Rupees for a flat code, a plain percent for a percent one: which, the stored type says. */
const discountValueSchema = { type: 'integer', minimum: 1, maximum: MAX_AMOUNT_RUPEES } as const;

interface PromoChangesBody {
  discount_value?: number;
  max_discount?: number | null;
  min_amount?: number | null;
  valid_from?: string | null;
  valid_until?: string | null;
  max_redemptions?: number | null;
  per_user_limit?: number | null;
  is_active?: boolean;
}
const changeProperties = {
  discount_value: discountValueSchema,
  max_discount: rupees(1),
  min_amount: rupees(0),
  valid_from: nullableDate,
  valid_until: nullableDate,
  max_redemptions: limit,
  per_user_limit: limit,
  is_active: { type: 'boolean' },
} as const;

interface NewPromoBody extends PromoChangesBody {
  code: string;
  vendor_id?: number | string | null;
  discount_type: 'percent' | 'flat';
  discount_value: number;
}
const parseNewPromo = bodyParser<NewPromoBody>({
  type: 'object',
  properties: {
    code: { type: 'string', pattern: '^[A-Za-z0-9_-]{3,32}$' },
    vendor_id: nullableBodyIdSchema,
    discount_type: { type: 'string', enum: ['percent', 'flat'] },
    ...changeProperties,
  },
  required: ['code', 'discount_type', 'discount_value'],
  additionalProperties: false,
});

const parsePromoChanges = bodyParser<PromoChangesBody>({
  type: 'object',
  properties: changeProperties,
  minProperties: 1,
  additionalProperties: false,
});

// Unknown query parameters are ignored (SPEC §3: clients add cache-busters).
const parseListQuery = queryParser<{ vendor_id?: number }>({ type: 'object', properties: { vendor_id: idSchema } });

const parseValidate = bodyParser<{ code: string; booking_ids: Array<number | string> }>({
  type: 'object',
  properties: {
    code: { type: 'string', minLength: 1, maxLength: 64 },
    booking_ids: { type: 'array', items: bookingIdSchema, minItems: 1, maxItems: config.maxSlotsPerBooking },
  },
  required: ['code', 'booking_ids'],
  additionalProperties: false,
});

const parseId = idParams('id');

// --- answers and conversions -----------------------------------------------------------------------

function promoBody(rule: PromoRule) {
  const money = (paise: number | null) => (paise === null ? null : paiseToRupees(paise));
  return {
    id: rule.id,
    code: rule.code,
    vendor_id: rule.vendor_id,
    discount_type: rule.discount_type,
    discount_value: rule.discount_type === 'flat' ? paiseToRupees(rule.discount_value) : rule.discount_value,
    max_discount: money(rule.max_discount_paise),
    min_amount: money(rule.min_amount_paise),
    valid_from: rule.valid_from?.toISOString() ?? null,
    valid_until: rule.valid_until?.toISOString() ?? null,
    max_redemptions: rule.max_redemptions,
    per_user_limit: rule.per_user_limit,
    redemption_count: rule.redemption_count,
    is_active: rule.is_active,
  };
}

/** The body's fields in storage terms: paise, and calendar days as instants in the code's zone. */
function storedChanges(body: PromoChangesBody, discountType: PromoRule['discount_type'], zone: string): PromoChanges {
  const { discount_value, max_discount, min_amount, valid_from, valid_until, ...limits } = body;
  if (discountType === 'percent' && discount_value !== undefined && discount_value > 100) throw new Invalid('A percent discount_value is at most 100');
  const paise = (value: number | null | undefined) => (value === undefined || value === null ? value : rupeesToPaise(value));
  const instant = (date: string | null | undefined, at: (zone: string, date: string) => Date) =>
    (date === undefined || date === null ? date : at(zone, parseCalendarDate(date)!));
  const changes: PromoChanges = {
    ...limits,
    discount_value: discountType === 'flat' && discount_value !== undefined ? rupeesToPaise(discount_value) : discount_value,
    max_discount_paise: paise(max_discount),
    min_amount_paise: paise(min_amount),
    valid_from: instant(valid_from, validFromInstant),
    valid_until: instant(valid_until, validUntilInstant),
  };
  return Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
}

async function zoneOf(vendorId: number | null): Promise<string> {
  if (vendorId === null) return GLOBAL_PROMO_ZONE;
  const vendor = await findVendor(vendorId);
  if (!vendor) throw new NotFound('Vendor');
  return vendor.timezone;
}

/** The cafe a new code is for: an admin's choice (null is every cafe), a vendor's own cafe only. */
function vendorForNewPromo(user: AuthUser, requested: number | null | undefined): number | null {
  if (user.role === 'admin') return requested ?? null;
  if (requested === undefined || requested === user.vendorId) return user.vendorId;
  throw new Forbidden('A cafe may create promo codes only for itself');
}

// --- routes --------------------------------------------------------------------------------------

promosRouter.post('/promo-codes', async (ctx) => {
  const user = requireRole(ctx.state.user, 'admin', 'vendor');
  const body = parseNewPromo(ctx.request.body);
  const vendorId = vendorForNewPromo(user, body.vendor_id == null ? body.vendor_id : toId(body.vendor_id, 'vendor_id'));
  const stored = storedChanges(body, body.discount_type, await zoneOf(vendorId));
  const rule = await createPromo({
    ...stored,
    code: body.code,
    vendor_id: vendorId,
    discount_type: body.discount_type,
    discount_value: stored.discount_value!,
  });
  ctx.status = 201;
  ctx.body = promoBody(rule);
});

promosRouter.get('/promo-codes', async (ctx) => {
  const user = requireRole(ctx.state.user, 'admin', 'vendor');
  const { vendor_id } = parseListQuery({ ...ctx.query });
  if (user.role === 'vendor' && vendor_id !== undefined && vendor_id !== user.vendorId) {
    throw new Forbidden('A cafe may list only its own promo codes');
  }
  const rules = await listPromos(user.role === 'vendor' ? user.vendorId! : vendor_id);
  ctx.body = rules.map(promoBody);
});

promosRouter.patch('/promo-codes/:id', async (ctx) => {
  requireUser(ctx.state.user);
  const { id } = parseId(ctx.params);
  const user = requireRole(ctx.state.user, 'admin', 'vendor');
  const rule = await findPromo(id);
  // A cafe learns nothing of another cafe's codes; the codes for every cafe are public knowledge.
  if (!rule || (user.role === 'vendor' && rule.vendor_id !== null && rule.vendor_id !== user.vendorId)) throw new NotFound('Promo code');
  if (user.role === 'vendor' && rule.vendor_id === null) throw new Forbidden('Only an admin may change a code for every cafe');
  const body = parsePromoChanges(ctx.request.body);
  // The code's cafe and discount type never change, so they are safe to read before the lock.
  const changes = storedChanges(body, rule.discount_type, await zoneOf(rule.vendor_id));
  ctx.body = promoBody(await updatePromo(id, changes));
});

promosRouter.post('/promo-codes/validate', async (ctx) => {
  const user = requireUser(ctx.state.user);
  const body = parseValidate(ctx.request.body);
  const ids = [...new Set(body.booking_ids.map(bookingIdOf))];
  const actor = actorOf(user);
  const bookings = await pricedBookings(ids.filter((id) => id <= 2147483647));
  if (bookings.length !== ids.length || !bookings.every((booking) => canSee(actor, booking))) throw new NotFound('Booking');
  if (new Set(bookings.map((booking) => booking.vendor_id)).size > 1) throw new Invalid('The bookings are at several cafes');
  if (new Set(bookings.map((booking) => booking.user_id)).size > 1) throw new Invalid('The bookings are of several customers');
  const totalPaise = bookings.reduce((sum, booking) => sum + booking.price_paise, 0);
  const decision = await previewPromo(db, body.code.trim(), { userId: bookings[0].user_id, vendorId: bookings[0].vendor_id, totalPaise });
  ctx.set('Cache-Control', 'no-store');
  ctx.body = decision.ok
    ? { valid: true, discount: paiseToRupees(decision.discountPaise), amount_due: paiseToRupees(totalPaise - decision.discountPaise) }
    : { valid: false, discount: 0, amount_due: paiseToRupees(totalPaise), reason: decision.reason };
});
