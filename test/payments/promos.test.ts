import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'crypto';
import { db } from '../../src/db/knex';
import { lockPromo, recordRedemption } from '../../src/db/promos';
import { zonedInstant } from '../../src/domain/dates';
import { User, Vendor } from '../../src/db/models';
import { adminToken, api, tokenFor } from '../helpers/api';
import { dateInDays, GameFixture, makeGame, makeUser, makeVendor } from '../helpers/fixtures';

// SPEC §7: promo codes — who may manage them, what a preview answers, and that a redemption
// locks the code so concurrent confirmations never exceed its limits.

interface Cafe extends GameFixture {
  vendor: Vendor;
  token: string;
}

async function makeCafe(timezone?: string): Promise<Cafe> {
  const vendor = await makeVendor(timezone ? { timezone } : {});
  return { vendor, token: tokenFor('vendor', 1, vendor.id), ...(await makeGame(vendor.id, { price_rupees: 500 })) };
}

const newCode = () => `PROMO_${randomUUID().slice(0, 8)}`;

async function createCode(fields: Record<string, unknown> = {}, token = adminToken()): Promise<any> {
  const answer = await api('POST', '/promo-codes', { token, body: { code: newCode(), discount_type: 'percent', discount_value: 10, ...fields } });
  assert.is(answer.status, 201, JSON.stringify(answer.body));
  return answer.body;
}

/** Held bookings of `user` at `cafe`, one per slot, each costing `priceRupees`. */
async function holdBookings(cafe: Cafe, user: User, count = 1, priceRupees = 500): Promise<number[]> {
  const rows: Array<{ id: number }> = await db('bookings').insert(cafe.slots.slice(0, count).map((slot) => ({
    user_id: user.id, vendor_id: cafe.vendor.id, game_id: cafe.game.id, slot_id: slot.id, book_date: dateInDays(1, cafe.vendor.timezone),
    status: 'pending_verified', price_paise: priceRupees * 100, hold_expires_at: new Date(Date.now() + 600_000),
  }))).returning('id');
  return rows.map((row) => row.id);
}

function validate(code: string, bookingIds: Array<number | string>, token: string) {
  return api('POST', '/promo-codes/validate', { token, body: { code, booking_ids: bookingIds } });
}

/** A confirmation's transaction row, as the payment code would write it. */
async function insertTransaction(conn: typeof db, userId: number, vendorId: number, promoCodeId: number): Promise<number> {
  const [row] = await conn('transactions').insert({ user_id: userId, vendor_id: vendorId, payment_mode: 'wallet', amount_paise: 40_000, discount_paise: 10_000, promo_code_id: promoCodeId }).returning('id');
  return row.id;
}

test('creating: admin for any cafe or every cafe, a cafe for itself only, users never', async () => {
  const cafe = await makeCafe();
  const other = await makeCafe();
  const user = await makeUser();
  const global = await createCode({ code: 'Glob-' + randomUUID().slice(0, 6) });
  assert.equal(global, {
    id: global.id, code: global.code, vendor_id: null, discount_type: 'percent', discount_value: 10, max_discount: null, min_amount: null,
    valid_from: null, valid_until: null, max_redemptions: null, per_user_limit: null, redemption_count: 0, is_active: true,
  });
  assert.is((await createCode({ vendor_id: cafe.vendor.id })).vendor_id, cafe.vendor.id);
  assert.is((await createCode({}, cafe.token)).vendor_id, cafe.vendor.id, 'a cafe\'s code is its own by default');
  const flat = await createCode({ vendor_id: cafe.vendor.id, discount_type: 'flat', discount_value: 150, max_discount: 100, min_amount: 300, max_redemptions: 5, per_user_limit: 1, is_active: false }, cafe.token);
  assert.equal({ ...flat, id: 0, code: '' }, {
    id: 0, code: '', vendor_id: cafe.vendor.id, discount_type: 'flat', discount_value: 150, max_discount: 100, min_amount: 300,
    valid_from: null, valid_until: null, max_redemptions: 5, per_user_limit: 1, redemption_count: 0, is_active: false,
  });
  assert.equal(await db('promo_codes').where('id', flat.id).first('discount_value', 'max_discount_paise', 'min_amount_paise'),
    { discount_value: 15_000, max_discount_paise: 10_000, min_amount_paise: 30_000 }, 'money is stored in paise');

  const attempt = (body: Record<string, unknown>, token?: string) => api('POST', '/promo-codes', { token, body: { code: newCode(), discount_type: 'percent', discount_value: 10, ...body } });
  assert.is((await attempt({})).status, 401);
  assert.is((await attempt({}, tokenFor('user', user.id))).status, 403);
  assert.is((await attempt({ vendor_id: other.vendor.id }, cafe.token)).status, 403);
  assert.is((await attempt({ vendor_id: null }, cafe.token)).status, 403);
  assert.is((await attempt({ vendor_id: 2147483647 }, adminToken())).status, 404);
  assert.is((await attempt({}, tokenFor('vendor', 1, 2147483647))).status, 404, 'a token for a cafe that does not exist');
});

test('a code is unique whatever its case', async () => {
  const cafe = await makeCafe();
  const code = `Diwali-${randomUUID().slice(0, 6)}`;
  await createCode({ code });
  for (const [spelling, token] of [[code.toUpperCase(), adminToken()], [code.toLowerCase(), cafe.token]]) {
    const answer = await api('POST', '/promo-codes', { token, body: { code: spelling, discount_type: 'flat', discount_value: 5 } });
    assert.is(answer.status, 409, spelling);
    assert.is(answer.body.code, 'duplicate');
  }
  assert.is((await db('promo_codes').whereRaw('upper(code) = upper(?)', [code]).count({ n: '*' }).first())!.n, 1);
});

test('listing: admin all or one cafe\'s, a cafe only its own', async () => {
  const cafe = await makeCafe();
  const other = await makeCafe();
  const user = await makeUser();
  const global = await createCode();
  const own = await createCode({}, cafe.token);
  const theirs = await createCode({}, other.token);
  const ids = (answer: { body: Array<{ id: number }> }) => answer.body.map((promo) => promo.id);

  const all = await api('GET', '/promo-codes', { token: adminToken() });
  assert.is(all.status, 200);
  for (const id of [global.id, own.id, theirs.id]) assert.ok(ids(all).includes(id));
  assert.equal(ids(await api('GET', `/promo-codes?vendor_id=${cafe.vendor.id}`, { token: adminToken() })), [own.id]);
  const mine = await api('GET', '/promo-codes?t=1733112000000', { token: cafe.token });
  assert.is(mine.status, 200, 'unknown query parameters are ignored');
  assert.equal(mine.body, [own]);
  assert.equal((await api('GET', `/promo-codes?vendor_id=${cafe.vendor.id}`, { token: cafe.token })).body, [own]);
  assert.is((await api('GET', `/promo-codes?vendor_id=${other.vendor.id}`, { token: cafe.token })).status, 403);
  assert.is((await api('GET', '/promo-codes', { token: tokenFor('user', user.id) })).status, 403);
  assert.is((await api('GET', '/promo-codes')).status, 401);
  assert.is((await api('GET', '/promo-codes?vendor_id=abc', { token: adminToken() })).status, 400);
});

test('changing: a cafe its own codes, an admin any; limits never below redemptions', async () => {
  const cafe = await makeCafe();
  const other = await makeCafe();
  const user = await makeUser();
  const own = await createCode({ discount_type: 'flat', discount_value: 50 }, cafe.token);
  const theirs = await createCode({}, other.token);
  const global = await createCode();
  const patch = (id: number | string, body: unknown, token = adminToken()) => api('PATCH', `/promo-codes/${id}`, { token, body });

  const changed = await patch(own.id, { discount_value: 80, max_discount: 60, min_amount: null, max_redemptions: 10, per_user_limit: 2, is_active: false }, cafe.token);
  assert.is(changed.status, 200, JSON.stringify(changed.body));
  assert.equal(changed.body, { ...own, discount_value: 80, max_discount: 60, max_redemptions: 10, per_user_limit: 2, is_active: false });
  assert.is((await db('promo_codes').where('id', own.id).first('discount_value')).discount_value, 8_000);
  assert.is((await patch(global.id, { is_active: false })).body.is_active, false, 'an admin changes a code for every cafe');
  assert.is((await patch(theirs.id, { max_redemptions: 3 })).status, 200);

  assert.is((await patch(own.id, { is_active: true }, '')).status, 401);
  assert.is((await patch('abc', { is_active: true }, cafe.token)).status, 400);
  assert.is((await patch(own.id, { is_active: true }, tokenFor('user', user.id))).status, 403);
  assert.is((await patch(global.id, { is_active: true }, cafe.token)).status, 403);
  assert.is((await patch(theirs.id, { is_active: true }, cafe.token)).status, 404, 'another cafe\'s code is not even there');
  assert.is((await patch(2147483647, { is_active: true })).status, 404);

  await db('promo_codes').where('id', own.id).update({ redemption_count: 4 });
  const below = await patch(own.id, { max_redemptions: 3 }, cafe.token);
  assert.is(below.status, 409);
  assert.is(below.body.code, 'invalid_state');
  assert.is((await patch(own.id, { max_redemptions: 4 }, cafe.token)).status, 200, 'exactly the redemptions so far is allowed');

  assert.is((await patch(own.id, { valid_from: dateInDays(5) }, cafe.token)).status, 200);
  assert.is((await patch(own.id, { valid_until: dateInDays(4) }, cafe.token)).status, 400, 'until before the stored from');
  for (const body of [{}, { code: 'NEWNAME' }, { vendor_id: other.vendor.id }, { discount_type: 'percent' }, { discount_value: 0 }, { discount_value: 2.5 }, { max_redemptions: 0 }, { is_active: 'yes' }, { valid_until: '2026-13-01' }]) {
    const answer = await patch(own.id, body, cafe.token);
    assert.is(answer.status, 400, JSON.stringify(body));
    assert.is(answer.body.code, 'validation_failed');
  }
  const percent = await createCode({ discount_value: 20 }, cafe.token);
  assert.is((await patch(percent.id, { discount_value: 101 }, cafe.token)).status, 400, 'a percent stays at most 100');
  assert.is((await patch(percent.id, { discount_value: 100 }, cafe.token)).body.discount_value, 100);
});

test('bad input is 400 and creates nothing', async () => {
  const code = newCode();
  const bodies: Array<Record<string, unknown>> = [
    { code: 'AB' }, { code: 'X'.repeat(33) }, { code: 'HAS SPACE' }, { code: 'NÖ-ASCII' }, { code: 42 },
    { discount_type: 'bogo' }, { discount_value: 0 }, { discount_value: 101 }, { discount_value: 12.5 }, { discount_value: '10' },
    { discount_type: 'flat', discount_value: 1.5 }, { max_discount: -1 }, { min_amount: 2.5 }, { max_redemptions: 0 }, { per_user_limit: 1.5 },
    { valid_from: '24-11-2026' }, { valid_until: '2026-02-30' }, { valid_from: dateInDays(3), valid_until: dateInDays(2) },
    { vendor_id: 0 }, { is_active: 1 }, { surprise: true },
  ];
  for (const fields of bodies) {
    const answer = await api('POST', '/promo-codes', { token: adminToken(), body: { code, discount_type: 'percent', discount_value: 10, ...fields } });
    assert.is(answer.status, 400, JSON.stringify(fields));
    assert.is(answer.body.code, 'validation_failed');
  }
  for (const field of ['code', 'discount_type', 'discount_value']) {
    const body: Record<string, unknown> = { code, discount_type: 'percent', discount_value: 10 };
    delete body[field];
    assert.is((await api('POST', '/promo-codes', { token: adminToken(), body })).status, 400, `without ${field}`);
  }
  assert.is(await db('promo_codes').whereRaw('upper(code) = upper(?)', [code]).first('id'), undefined);
});

test('preview: percent capped, flat never past the total, minimum amount, unknown and inactive codes', async () => {
  const cafe = await makeCafe();
  const user = await makeUser();
  const token = tokenFor('user', user.id);
  const bookings = await holdBookings(cafe, user, 3); // 1500 rupees
  const capped = await createCode({ discount_value: 20, max_discount: 250 });
  assert.equal((await validate(capped.code, bookings, token)).body, { valid: true, discount: 250, amount_due: 1250 });
  const uncapped = await createCode({ discount_value: 15 });
  assert.equal((await validate(uncapped.code.toLowerCase(), bookings, token)).body, { valid: true, discount: 225, amount_due: 1275 }, 'any case');
  const flat = await createCode({ discount_type: 'flat', discount_value: 2000 });
  assert.equal((await validate(flat.code, bookings.slice(0, 1), token)).body, { valid: true, discount: 500, amount_due: 0 });
  const minimum = await createCode({ discount_type: 'flat', discount_value: 100, min_amount: 1000 });
  assert.equal((await validate(minimum.code, bookings, token)).body, { valid: true, discount: 100, amount_due: 1400 });
  const below = (await validate(minimum.code, bookings.slice(0, 1), token)).body;
  assert.equal({ ...below, reason: typeof below.reason }, { valid: false, discount: 0, amount_due: 500, reason: 'string' });
  assert.match(below.reason, /at least ₹1000/);
  assert.equal((await validate('NO-SUCH-CODE', bookings, token)).body, { valid: false, discount: 0, amount_due: 1500, reason: 'Unknown promo code' });
  const inactive = await createCode({ is_active: false });
  assert.match((await validate(inactive.code, bookings, token)).body.reason, /not active/);
});

test('validity days are calendar days in the cafe\'s zone', async () => {
  const zone = 'Pacific/Kiritimati'; // UTC+14: its today is rarely the server's
  const cafe = await makeCafe(zone);
  const user = await makeUser();
  const token = tokenFor('user', user.id);
  const [booking] = await holdBookings(cafe, user);
  const today = dateInDays(0, zone);

  const window = await createCode({ vendor_id: cafe.vendor.id, valid_from: today, valid_until: today });
  assert.is(window.valid_from, zonedInstant(zone, today, '00:00').toISOString());
  assert.is(window.valid_until, zonedInstant(zone, dateInDays(1, zone), '00:00').toISOString(), 'the last day is included');
  assert.is((await validate(window.code, [booking], token)).body.valid, true);
  const tomorrow = await createCode({ vendor_id: cafe.vendor.id, valid_from: dateInDays(1, zone) });
  assert.match((await validate(tomorrow.code, [booking], token)).body.reason, /not valid yet/);
  const yesterday = await createCode({ vendor_id: cafe.vendor.id, valid_until: dateInDays(-1, zone).replace(/-/g, '') });
  assert.match((await validate(yesterday.code, [booking], token)).body.reason, /expired/);
  const global = await createCode({ valid_from: dateInDays(0), valid_until: dateInDays(0) });
  assert.is(global.valid_from, zonedInstant('Asia/Kolkata', dateInDays(0), '00:00').toISOString(), 'codes for every cafe count days in India');
});

test('a cafe\'s code applies at that cafe only; a code for every cafe everywhere', async () => {
  const cafe = await makeCafe();
  const other = await makeCafe();
  const user = await makeUser();
  const token = tokenFor('user', user.id);
  const here = await holdBookings(cafe, user);
  const there = await holdBookings(other, user);
  const own = await createCode({}, cafe.token);
  assert.is((await validate(own.code, here, token)).body.valid, true);
  assert.equal((await validate(own.code, there, token)).body, { valid: false, discount: 0, amount_due: 500, reason: 'This promo code is not valid at this cafe' });
  const global = await createCode();
  assert.is((await validate(global.code, there, token)).body.valid, true);
});

test('limits: max_redemptions for everyone, per_user_limit for each user', async () => {
  const cafe = await makeCafe();
  const user = await makeUser();
  const another = await makeUser();
  const mine = await holdBookings(cafe, user);
  const theirs = await holdBookings(cafe, another);

  const scarce = await createCode({ max_redemptions: 3 });
  await db('promo_codes').where('id', scarce.id).update({ redemption_count: 2 });
  assert.is((await validate(scarce.code, mine, tokenFor('user', user.id))).body.valid, true);
  await db('promo_codes').where('id', scarce.id).update({ redemption_count: 3 });
  assert.match((await validate(scarce.code, mine, tokenFor('user', user.id))).body.reason, /fully redeemed/);

  const once = await createCode({ per_user_limit: 1 });
  const transactionId = await insertTransaction(db, user.id, cafe.vendor.id, once.id);
  await db('promo_redemptions').insert({ promo_code_id: once.id, user_id: user.id, transaction_id: transactionId, discount_paise: 5_000 });
  assert.match((await validate(once.code, mine, tokenFor('user', user.id))).body.reason, /already used/);
  assert.is((await validate(once.code, theirs, tokenFor('user', another.id))).body.valid, true);
  assert.match((await validate(once.code, mine, cafe.token)).body.reason, /already used/, 'a cafe previewing for its customer counts the customer\'s');
});

test('preview: bookings the caller may see, of one cafe, named as numbers or BK-', async () => {
  const cafe = await makeCafe();
  const other = await makeCafe();
  const user = await makeUser();
  const stranger = await makeUser();
  const token = tokenFor('user', user.id);
  const [first, second] = await holdBookings(cafe, user, 2);
  const [elsewhere] = await holdBookings(other, user);
  const { code } = await createCode();

  assert.equal((await validate(code, [first, `BK-${second}`, `bk-${first}`], token)).body, { valid: true, discount: 100, amount_due: 900 });
  assert.is((await validate(code, [first], cafe.token)).status, 200, 'the cafe sees its bookings');
  assert.is((await validate(code, [first], adminToken())).status, 200);
  assert.is((await api('POST', '/promo-codes/validate', { body: { code, booking_ids: [first] } })).status, 401);
  assert.is((await validate(code, [first], tokenFor('user', stranger.id))).status, 404);
  assert.is((await validate(code, [first], other.token)).status, 404);
  assert.is((await validate(code, [first, 2147483647], token)).status, 404);
  assert.is((await validate(code, ['BK-9999999999'], token)).status, 404);
  assert.is((await validate(code, [first, elsewhere], token)).status, 400, 'bookings at several cafes');
  for (const body of [{ code }, { booking_ids: [first] }, { code, booking_ids: [] }, { code, booking_ids: Array.from({ length: 13 }, (_, i) => i + 1) },
    { code, booking_ids: [0] }, { code, booking_ids: ['BK-x'] }, { code: '', booking_ids: [first] }, { code, booking_ids: [first], extra: 1 }]) {
    const answer = await api('POST', '/promo-codes/validate', { token, body });
    assert.is(answer.status, 400, JSON.stringify(body));
  }
});

test('a preview never writes', async () => {
  const cafe = await makeCafe();
  const user = await makeUser();
  const bookings = await holdBookings(cafe, user, 2);
  const promo = await createCode({ max_redemptions: 1, per_user_limit: 1 });
  const snapshot = async () => ({
    promo: await db('promo_codes').where('id', promo.id).first(),
    redemptions: (await db('promo_redemptions').where('promo_code_id', promo.id).count({ n: '*' }).first())!.n,
    transactions: (await db('transactions').where('user_id', user.id).count({ n: '*' }).first())!.n,
    bookings: await db('bookings').whereIn('id', bookings).orderBy('id'),
  });
  const before = await snapshot();
  for (let i = 0; i < 3; i++) assert.is((await validate(promo.code, bookings, tokenFor('user', user.id))).body.valid, true);
  assert.equal(await snapshot(), before);
  assert.is(before.promo.redemption_count, 0);
});

/** Waits until some PostgreSQL session is blocked by the session `pid`. */
async function blockedBy(pid: number): Promise<void> {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const { rows } = await db.raw('SELECT 1 FROM pg_stat_activity WHERE ? = ANY(pg_blocking_pids(pid))', [pid]);
    if (rows.length) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`nothing ever waited for session ${pid}`);
}

/**
 * A first confirmation locks the code and redeems it, still open; a second one's lockPromo starts
 * meanwhile: it must wait for the first to commit, then see that redemption.
 */
async function secondWaitsForFirst(limits: Record<string, number>, sameUser: boolean): Promise<unknown> {
  const cafe = await makeCafe();
  const first = await makeUser();
  const second = sameUser ? first : await makeUser();
  const promo = await createCode({ ...limits, discount_type: 'flat', discount_value: 100 });
  const input = (user: User) => ({ userId: user.id, vendorId: cafe.vendor.id, totalPaise: 50_000 });
  const events: string[] = [];
  let firstRedeemed!: (pid: number) => void;
  const redeemed = new Promise<number>((resolve) => { firstRedeemed = resolve; });
  let mayCommit!: () => void;
  const commitSignal = new Promise<void>((resolve) => { mayCommit = resolve; });

  const firstDone = db.transaction(async (trx) => {
    const decision = await lockPromo(trx, promo.code.toLowerCase(), input(first));
    assert.equal(decision, { ok: true, discountPaise: 10_000, promoCodeId: promo.id, code: promo.code });
    if (!decision.ok) return;
    await recordRedemption(trx, decision.promoCodeId, first.id, await insertTransaction(trx, first.id, cafe.vendor.id, promo.id), decision.discountPaise);
    firstRedeemed((await trx.raw('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    await commitSignal;
    events.push('first commits');
  });
  const firstPid = await Promise.race([redeemed, firstDone.then(() => { throw new Error('the first transaction ended before redeeming'); })]);
  const secondDone = db.transaction(async (trx) => {
    const decision = await lockPromo(trx, promo.code, input(second));
    events.push('second decides');
    return decision;
  });
  try {
    await blockedBy(firstPid);
    events.push('second is waiting');
  } finally {
    mayCommit(); // whatever happened, or the open transaction would keep the test run from ending
  }
  await firstDone;
  const decision = await secondDone;
  assert.equal(events, ['second is waiting', 'first commits', 'second decides']);
  assert.is((await db('promo_codes').where('id', promo.id).first('redemption_count')).redemption_count, 1);
  assert.is((await db('promo_redemptions').where('promo_code_id', promo.id).count({ n: '*' }).first())!.n, 1);
  return decision;
}

test('lockPromo: a concurrent confirmation waits for the lock, then sees max_redemptions reached', async () => {
  assert.equal(await secondWaitsForFirst({ max_redemptions: 1 }, false), { ok: false, reason: 'This promo code has been fully redeemed' });
});

test('lockPromo: the same user\'s concurrent confirmation waits, then sees per_user_limit reached', async () => {
  assert.equal(await secondWaitsForFirst({ per_user_limit: 1 }, true), { ok: false, reason: 'You have already used this promo code as often as it allows' });
});

test('lockPromo: an unknown code locks nothing and says so', async () => {
  const cafe = await makeCafe();
  const user = await makeUser();
  const decision = await db.transaction((trx) => lockPromo(trx, 'NO-SUCH-CODE', { userId: user.id, vendorId: cafe.vendor.id, totalPaise: 100 }));
  assert.equal(decision, { ok: false, reason: 'Unknown promo code' });
});

test.run();
