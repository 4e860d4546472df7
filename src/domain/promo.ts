import { addDays, zonedInstant } from './dates';
import { paiseToRupees } from './money';

// Promo codes (SPEC §7): whether a code applies to an order, and how much it takes off. No I/O:
// the caller reads the rule and the user's redemptions (after locking the rule, when it redeems).

export interface PromoRule {
  id: number;
  code: string;
  vendor_id: number | null;
  discount_type: 'percent' | 'flat';
  /** A plain percent (1..100), or a flat amount in paise. */
  discount_value: number;
  max_discount_paise: number | null;
  min_amount_paise: number | null;
  valid_from: Date | null;
  valid_until: Date | null;
  max_redemptions: number | null;
  per_user_limit: number | null;
  redemption_count: number;
  is_active: boolean;
}

export type PromoDecision = { ok: true; discountPaise: number } | { ok: false; reason: string };

export interface PromoOrder {
  vendorId: number;
  totalPaise: number;
  /** How often this user already redeemed the code. */
  userRedemptions: number;
  now: Date;
}

/** Codes for every cafe count their days in the company's home zone. */
export const GLOBAL_PROMO_ZONE = 'Asia/Kolkata';

export function decidePromo(rule: PromoRule, order: PromoOrder): PromoDecision {
  const reason = refusal(rule, order);
  return reason === null ? { ok: true, discountPaise: discountOf(rule, order.totalPaise) } : { ok: false, reason };
}

function refusal(rule: PromoRule, { vendorId, totalPaise, userRedemptions, now }: PromoOrder): string | null {
  if (!rule.is_active) return 'This promo code is not active';
  if (rule.valid_from !== null && now < rule.valid_from) return 'This promo code is not valid yet';
  if (rule.valid_until !== null && now >= rule.valid_until) return 'This promo code has expired';
  if (rule.vendor_id !== null && rule.vendor_id !== vendorId) return 'This promo code is not valid at this cafe';
  if (rule.min_amount_paise !== null && totalPaise < rule.min_amount_paise) {
    return `This promo code needs an order of at least ₹${paiseToRupees(rule.min_amount_paise)}`;
  }
  if (rule.max_redemptions !== null && rule.redemption_count >= rule.max_redemptions) return 'This promo code has been fully redeemed';
  if (rule.per_user_limit !== null && userRedemptions >= rule.per_user_limit) return 'You have already used this promo code as often as it allows';
  return null;
}

/** Whole paise, at most the cap and never more than the order, so an amount due is never negative. */
function discountOf(rule: PromoRule, totalPaise: number): number {
  const raw = rule.discount_type === 'percent' ? Math.floor((totalPaise * rule.discount_value) / 100) : rule.discount_value;
  const capped = rule.max_discount_paise === null ? raw : Math.min(raw, rule.max_discount_paise);
  return Math.max(0, Math.min(capped, totalPaise));
}

/** A code is valid from the start of its first calendar day in the cafe's zone. */
export function validFromInstant(zone: string, date: string): Date {
  return zonedInstant(zone, date, '00:00');
}

/** ...and until the start of the day after its last one, so the last day is included. */
export function validUntilInstant(zone: string, date: string): Date {
  return zonedInstant(zone, addDays(date, 1), '00:00');
}
