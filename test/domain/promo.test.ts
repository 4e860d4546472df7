import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decidePromo, PromoRule, validFromInstant, validUntilInstant } from '../../src/domain/promo';

const now = new Date('2026-11-24T12:00:00Z');

function rule(overrides: Partial<PromoRule> = {}): PromoRule {
  return {
    id: 1, code: 'SAVE', vendor_id: null, discount_type: 'percent', discount_value: 10,
    max_discount_paise: null, min_amount_paise: null, valid_from: null, valid_until: null,
    max_redemptions: null, per_user_limit: null, redemption_count: 0, is_active: true,
    ...overrides,
  };
}

const order = (overrides: Partial<Parameters<typeof decidePromo>[1]> = {}) => ({ vendorId: 7, totalPaise: 100_000, userRedemptions: 0, now, ...overrides });
const refusal = (decision: ReturnType<typeof decidePromo>) => (decision.ok ? null : decision.reason);

test('percent: floor of whole paise, capped by max_discount', () => {
  assert.equal(decidePromo(rule(), order()), { ok: true, discountPaise: 10_000 });
  assert.equal(decidePromo(rule({ discount_value: 15 }), order({ totalPaise: 333 })), { ok: true, discountPaise: 49 });
  assert.equal(decidePromo(rule({ discount_value: 50, max_discount_paise: 20_000 }), order()), { ok: true, discountPaise: 20_000 });
  assert.equal(decidePromo(rule({ discount_value: 100 }), order()), { ok: true, discountPaise: 100_000 });
});

test('flat: the amount, capped, and never more than the order', () => {
  assert.equal(decidePromo(rule({ discount_type: 'flat', discount_value: 5_000 }), order()), { ok: true, discountPaise: 5_000 });
  assert.equal(decidePromo(rule({ discount_type: 'flat', discount_value: 5_000, max_discount_paise: 3_000 }), order()), { ok: true, discountPaise: 3_000 });
  assert.equal(decidePromo(rule({ discount_type: 'flat', discount_value: 500_000 }), order()), { ok: true, discountPaise: 100_000 });
  assert.equal(decidePromo(rule({ discount_type: 'flat', discount_value: 500 }), order({ totalPaise: 0 })), { ok: true, discountPaise: 0 });
});

test('validity window: from is included, until is not', () => {
  assert.is(refusal(decidePromo(rule({ valid_from: now }), order())), null);
  assert.match(refusal(decidePromo(rule({ valid_from: new Date(now.getTime() + 1) }), order()))!, /not valid yet/);
  assert.is(refusal(decidePromo(rule({ valid_until: new Date(now.getTime() + 1) }), order())), null);
  assert.match(refusal(decidePromo(rule({ valid_until: now }), order()))!, /expired/);
});

test('cafe, minimum, and both limits', () => {
  assert.is(refusal(decidePromo(rule({ vendor_id: 7 }), order())), null);
  assert.match(refusal(decidePromo(rule({ vendor_id: 8 }), order()))!, /not valid at this cafe/);
  assert.is(refusal(decidePromo(rule({ min_amount_paise: 100_000 }), order())), null);
  assert.match(refusal(decidePromo(rule({ min_amount_paise: 100_001 }), order()))!, /at least ₹1000.01/);
  assert.is(refusal(decidePromo(rule({ max_redemptions: 5, redemption_count: 4 }), order())), null);
  assert.match(refusal(decidePromo(rule({ max_redemptions: 5, redemption_count: 5 }), order()))!, /fully redeemed/);
  assert.is(refusal(decidePromo(rule({ per_user_limit: 2 }), order({ userRedemptions: 1 }))), null);
  assert.match(refusal(decidePromo(rule({ per_user_limit: 2 }), order({ userRedemptions: 2 })))!, /already used/);
});

test('checks run in order: inactive, window, cafe, minimum, redemptions, per user', () => {
  let current = rule({
    is_active: false, valid_from: new Date(now.getTime() + 1), vendor_id: 8, min_amount_paise: 10_000_000,
    max_redemptions: 1, redemption_count: 1, per_user_limit: 1,
  });
  const steps: Array<[RegExp, Partial<PromoRule>]> = [
    [/not active/, { is_active: true }],
    [/not valid yet/, { valid_from: null }],
    [/not valid at this cafe/, { vendor_id: null }],
    [/at least/, { min_amount_paise: null }],
    [/fully redeemed/, { max_redemptions: null }],
    [/already used/, { per_user_limit: null }],
  ];
  for (const [reason, fix] of steps) {
    assert.match(refusal(decidePromo(current, order({ userRedemptions: 1 })))!, reason);
    current = { ...current, ...fix };
  }
  assert.is(refusal(decidePromo(current, order({ userRedemptions: 1 }))), null);
});

test('validity days are calendar days in the cafe\'s zone; the last day is included', () => {
  assert.is(validFromInstant('Asia/Kolkata', '2026-11-24').toISOString(), '2026-11-23T18:30:00.000Z');
  assert.is(validUntilInstant('Asia/Kolkata', '2026-11-24').toISOString(), '2026-11-24T18:30:00.000Z');
  assert.is(validUntilInstant('Asia/Kolkata', '2026-12-31').toISOString(), '2026-12-31T18:30:00.000Z');
  assert.is(validFromInstant('America/New_York', '2026-03-08').toISOString(), '2026-03-08T05:00:00.000Z');
  // The DST day is 23 hours long in New York.
  assert.is(validUntilInstant('America/New_York', '2026-03-08').toISOString(), '2026-03-09T04:00:00.000Z');
});

test.run();
