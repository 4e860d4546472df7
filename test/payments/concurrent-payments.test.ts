import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { db } from '../../src/db/knex';
import { adminToken, api } from '../helpers/api';
import { assertInventoryMatches, bookingCafe, makeCustomer, useWorkers } from '../helpers/bookings';
import { dateInDays } from '../helpers/fixtures';
import { confirm, credit, paymentsOutOfLine, walletsOutOfLine } from '../helpers/payments';

// Invariants 5 and 6 under real concurrency: many confirmations at once, spread over several
// booking partitions and two worker processes, against one wallet and one promo code; then SQL.

const test = suite('concurrent payments');
useWorkers(test, 2, { MAX_PENDING_HOLDS_PER_USER: '60' });

test.after.each(async () => {
  assert.equal(await paymentsOutOfLine(), []);
  assert.equal(await walletsOutOfLine(), []);
});

/** One hold per booking, spread over `dates` days (so over several slot keys and partitions). */
async function holdsFor(cafe: Awaited<ReturnType<typeof bookingCafe>>, who: { user: { id: number }; token: string }, count: number, dates: number): Promise<number[]> {
  const perDate = Math.ceil(count / dates);
  const answers = await Promise.all(Array.from({ length: count }, (_, i) => api('POST', '/bookings', {
    token: who.token,
    body: { slot_id: [cafe.slots[i % perDate].id], user_id: who.user.id, game_id: cafe.game.id, book_date: dateInDays(2 + Math.floor(i / perDate), cafe.vendor.timezone) },
  })));
  assert.ok(answers.every((a) => a.status === 201), JSON.stringify(answers.find((a) => a.status !== 201)?.body));
  return answers.map((a) => a.body.bookings[0].booking_id);
}

test('50 wallet payments at once against a balance that covers 10: exactly 10 confirmed, 40 × 402, balance 0 and equal to the ledger', async () => {
  const cafe = await bookingCafe({ price_rupees: 100, total_slots: 2 });
  const ids = await holdsFor(cafe, cafe, 50, 5);
  await credit(cafe.user.id, 1000);
  const answers = await Promise.all(ids.map((id) => confirm(cafe.token, { booking_id: id, payment_mode: 'wallet', payment_id: `WALLET_${id}` })));
  const statuses = answers.map((a) => a.status);
  assert.is(statuses.filter((s) => s === 200).length, 10, JSON.stringify(statuses));
  assert.is(statuses.filter((s) => s === 402).length, 40);
  assert.ok(answers.filter((a) => a.status === 402).every((a) => a.body.code === 'insufficient_funds'));
  assert.is((await api('GET', '/wallet', { token: cafe.token })).body.balance, 0);
  assert.is(Number((await db('bookings').whereIn('id', ids).where('status', 'confirmed').count('* as n'))[0].n), 10);
  assert.is(Number((await db('wallet_ledger').where('user_id', cafe.user.id).where('amount_paise', '<', 0).count('* as n'))[0].n), 10);
  await assertInventoryMatches(cafe.game.id);
});

test('30 redemptions at once of a code limited to 5: 5 confirmed with the discount, the rest refused, every redemption recorded', async () => {
  const cafe = await bookingCafe({ price_rupees: 200, total_slots: 30 });
  const promo = await api('POST', '/promo-codes', {
    token: adminToken(), body: { code: `RUSH${Date.now() % 100000}`, vendor_id: cafe.vendor.id, discount_type: 'percent', discount_value: 50, max_redemptions: 5 },
  });
  assert.is(promo.status, 201, JSON.stringify(promo.body));
  const gamers = await Promise.all(Array.from({ length: 30 }, () => makeCustomer()));
  const holds = await Promise.all(gamers.map(async (gamer, i) => {
    await credit(gamer.user.id, 200);
    return (await holdsFor({ ...cafe, slots: [cafe.slots[i % 6]] }, gamer, 1, 1))[0];
  }));
  const answers = await Promise.all(gamers.map((gamer, i) => confirm(gamer.token, { booking_id: holds[i], payment_mode: 'wallet', promo_code: promo.body.code.toLowerCase() })));
  const won = answers.filter((a) => a.status === 200);
  assert.is(won.length, 5, JSON.stringify(answers.map((a) => [a.status, a.body.message])));
  assert.ok(won.every((a) => a.body.discount === 100 && a.body.amount_paid === 100));
  assert.ok(answers.filter((a) => a.status !== 200).every((a) => a.status === 409 && /cannot be applied/.test(a.body.message)));
  const code = await db('promo_codes').where('id', promo.body.id).first('redemption_count');
  assert.is(code.redemption_count, 5);
  assert.is(Number((await db('promo_redemptions').where('promo_code_id', promo.body.id).count('* as n'))[0].n), 5);
});

test('per_user_limit holds when one user redeems from several partitions at once', async () => {
  const cafe = await bookingCafe({ price_rupees: 100, total_slots: 2 });
  const promo = await api('POST', '/promo-codes', {
    token: adminToken(), body: { code: `ONCE${Date.now() % 100000}`, discount_type: 'flat', discount_value: 30, per_user_limit: 2 },
  });
  assert.is(promo.status, 201, JSON.stringify(promo.body));
  const ids = await holdsFor(cafe, cafe, 8, 4);
  await credit(cafe.user.id, 1000);
  const answers = await Promise.all(ids.map((id) => confirm(cafe.token, { booking_id: id, payment_mode: 'wallet', promo_code: promo.body.code })));
  assert.is(answers.filter((a) => a.status === 200).length, 2, JSON.stringify(answers.map((a) => [a.status, a.body.message])));
  assert.is(Number((await db('promo_redemptions').where({ promo_code_id: promo.body.id, user_id: cafe.user.id }).count('* as n'))[0].n), 2);
  assert.is((await api('GET', '/wallet', { token: cafe.token })).body.balance, 1000 - 2 * 70);
});

test.run();
