import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { db } from '../../src/db/knex';
import { adminToken, api, ApiResponse } from '../helpers/api';
import { BookingCafe, bookingCafe, makeCustomer, useWorkers } from '../helpers/bookings';
import { dateInDays, makeGame } from '../helpers/fixtures';
import { confirm, credit, expireHolds, gatewayBody, orderFor, pay } from '../helpers/payments';
import { actualDashboard, assertVendorTablesMatchTruth, expectedDashboard, waitUntilDrained } from './truth';

// Invariant 7 (SPEC §10): the vendor tables converge to the bookings truth once the vendor-sync
// queue drains. Two worker processes; several clients at once make a burst of mixed transitions
// over two cafes — holds, wallet and gateway confirmations (with promo codes), cancellations of
// holds and of confirmed bookings (refunded to the wallet or through Razorpay), moves of
// confirmed bookings to other slots and dates, releases, expiries, late payments retaking their
// slot or refunded — then the tables are compared row for row with what the truth implies.

const test = suite('vendor tables: convergence');
useWorkers(test, 2, { MAX_PENDING_HOLDS_PER_USER: '60' });

const CLIENTS = 6;
const TRANSITIONS = 200;

/** A small seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Tally { transitions: number; moves: number; confirmedCancels: number; refunded: number; late: number; promos: number }

test(`${TRANSITIONS} mixed transitions from ${CLIENTS} clients at once: both vendor tables equal the truth after the queue drains`, async () => {
  const seed = Number(process.env.CONVERGENCE_SEED ?? Date.now() % 100_000);
  const cafes = [await bookingCafe({ price_rupees: 300 }), await bookingCafe({ price_rupees: 250, total_slots: 2 })];
  // A one-station game per cafe: a late payment finds its slot taken, or retakes it.
  const scarce = await Promise.all(cafes.map((cafe) => makeGame(cafe.vendor.id, { total_slots: 1, price_rupees: 200 })));
  const promos = await Promise.all([
    { code: `CV${seed}A`, vendor_id: cafes[0].vendor.id, discount_type: 'percent', discount_value: 10 },
    { code: `CV${seed}B`, discount_type: 'flat', discount_value: 40 },
  ].map(async (body) => {
    const answer = await api('POST', '/promo-codes', { token: adminToken(), body });
    assert.is(answer.status, 201, JSON.stringify(answer.body));
    return body.code;
  }));
  const clients = await Promise.all(Array.from({ length: CLIENTS }, async () => {
    const customer = await makeCustomer();
    await credit(customer.user.id, 100_000);
    return customer;
  }));
  const tally: Tally = { transitions: 0, moves: 0, confirmedCancels: 0, refunded: 0, late: 0, promos: 0 };
  const counted = (answer: ApiResponse, ok = 200) => {
    if (answer.status === ok) tally.transitions++;
    else assert.ok([409, 402].includes(answer.status), `unexpected ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer.status === ok;
  };

  async function runClient(index: number): Promise<void> {
    const next = random(seed * 31 + index);
    const pick = <T>(items: T[]): T => items[Math.floor(next() * items.length)];
    const me = clients[index];
    while (tally.transitions < TRANSITIONS) {
      const cafe = pick(cafes);
      const date = dateInDays(2 + Math.floor(next() * 4), cafe.vendor.timezone);
      const roll = next();
      if (roll < 0.15) {
        await lateTransitions(cafe, scarce[cafes.indexOf(cafe)], date, index, pick);
        continue;
      }
      const slotIds = [...new Set([pick(cafe.slots).id, ...(next() < 0.3 ? [pick(cafe.slots).id] : [])])];
      const held = await api('POST', '/bookings', { token: me.token, body: { slot_id: slotIds, game_id: cafe.game.id, book_date: date } });
      if (!counted(held, 201)) continue;
      const ids: number[] = held.body.bookings.map((b: { booking_id: number }) => b.booking_id);
      // promos[0] is the first cafe's own code; promos[1] is good at every cafe.
      const promo = next() < 0.5 ? (cafe === cafes[0] ? pick(promos) : promos[1]) : undefined;
      const then = next();
      if (then < 0.35) {
        const paid = await confirm(me.token, { booking_id: ids, payment_mode: 'wallet', ...(promo ? { promo_code: promo } : {}) });
        if (counted(paid) && promo) tally.promos++;
        if (paid.status === 200) await afterConfirm(cafe, ids, me.token, next, pick);
      } else if (then < 0.6) {
        const order = await orderFor(me.token, ids, promo ? { promo_code: promo } : {});
        const paid = await confirm(me.token, gatewayBody(ids, pay(order.id)));
        if (counted(paid) && promo) tally.promos++;
        if (paid.status === 200) await afterConfirm(cafe, ids, me.token, next, pick);
      } else if (then < 0.75) {
        counted(await api('POST', '/release_slot', { token: me.token, body: { bookings: ids.map((id) => ({ booking_id: id })) } }));
      } else if (then < 0.9) {
        for (const id of ids) counted(await api('DELETE', `/bookings/${id}`, { token: me.token }));
      } else {
        await expireHolds(ids);
        tally.transitions += ids.length;
      }
    }
  }

  async function afterConfirm(cafe: BookingCafe, ids: number[], token: string, next: () => number, pick: <T>(items: T[]) => T): Promise<void> {
    for (const id of ids) {
      const roll = next();
      if (roll < 0.4) {
        const to = { slot_id: pick(cafe.slots).id, book_date: dateInDays(2 + Math.floor(next() * 4), cafe.vendor.timezone) };
        if (counted(await api('PUT', `/bookings/${id}`, { token, body: to }))) tally.moves++;
      }
      if (roll > 0.25 && roll < 0.6 && counted(await api('DELETE', `/bookings/${id}`, { token }))) tally.confirmedCancels++;
    }
  }

  /** A payment that arrives after its hold expired: retakes the slot, or (a rival took it) is refunded. */
  async function lateTransitions(cafe: BookingCafe, game: Awaited<ReturnType<typeof makeGame>>, date: string, index: number, pick: <T>(items: T[]) => T) {
    const me = clients[index];
    const slot = pick(game.slots);
    const held = await api('POST', '/bookings', { token: me.token, body: { slot_id: [slot.id], game_id: game.game.id, book_date: date } });
    if (!counted(held, 201)) return;
    const [id] = held.body.bookings.map((b: { booking_id: number }) => b.booking_id);
    const checkout = pay((await orderFor(me.token, [id])).id);
    await expireHolds([id]);
    tally.transitions++;
    const rival = clients[(index + 1) % CLIENTS];
    const taken = index % 2 === 0
      ? await api('POST', '/bookings', { token: rival.token, body: { slot_id: [slot.id], game_id: game.game.id, book_date: date } })
      : null;
    if (taken) counted(taken, 201);
    const paid = await confirm(me.token, gatewayBody([id], checkout));
    tally.transitions++;
    tally.late++;
    if (paid.status !== 200) {
      assert.is(paid.status, 409, JSON.stringify(paid.body));
      tally.refunded++;
    }
    if (taken?.status === 201) {
      counted(await api('POST', '/release_slot', { token: rival.token, body: { bookings: { booking_id: taken.body.bookings[0].booking_id } } }));
    }
  }

  await Promise.all(clients.map((_, index) => runClient(index)));
  await waitUntilDrained(120_000);

  const vendorIds = cafes.map((cafe) => cafe.vendor.id);
  const expected = await expectedDashboard(vendorIds);
  const actual = await actualDashboard(vendorIds);
  const report = `seed ${seed}, ${JSON.stringify(tally)}, ${expected.length} shown bookings`;
  assert.ok(tally.transitions >= TRANSITIONS, report);
  assert.ok(tally.moves > 0 && tally.confirmedCancels > 0 && tally.refunded > 0 && tally.promos > 0, `the burst moved, cancelled, refunded and redeemed: ${report}`);
  const refundedRows = (await db('bookings').whereIn('vendor_id', vendorIds).where('status', 'refunded').count('* as n'))[0].n;
  assert.ok(Number(refundedRows) > 0, report);
  assert.ok(actual.length > 20, report);
  await assertVendorTablesMatchTruth(vendorIds);
});

test.run();
