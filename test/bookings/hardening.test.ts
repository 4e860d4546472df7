import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createKnex, db } from '../../src/db/knex';
import { runBookingTransaction } from '../../src/workers/booking';
import { config } from '../../src/config';
import { partitionForKey } from '../../src/jobs/booking';
import { sweepExpiredHolds } from '../../src/workers/sweeper';
import { api, ApiResponse, tokenFor } from '../helpers/api';
import { dateInDays, makeGame, makeUser, makeVendor } from '../helpers/fixtures';
import { assertInventoryMatches, availableUnits, bookingCafe, bookingRow, eventually, holdOrFail, lockWaiters, postHold, useWorkers } from '../helpers/bookings';

// Defects a review and an attack found in the booking engine (issue 7), each under real
// concurrency: parallel HTTP requests, two worker processes, then SQL.

useWorkers(test, 2);

const ASYNC = { Prefer: 'respond-async' };

async function pendingHoldsOf(userId: number): Promise<number> {
  return Number((await db('bookings').where({ user_id: userId, status: 'pending_verified' }).count('* as n'))[0].n);
}

async function jobAnswer(token: string, accepted: ApiResponse): Promise<{ status: number; result?: any; error?: any }> {
  assert.is(accepted.status, 202, JSON.stringify(accepted.body));
  return eventually(async () => {
    const job = await api('GET', `/jobs/${accepted.body.job_id}`, { token });
    return job.body.state === 'completed' || job.body.state === 'failed' ? job.body : undefined;
  }, `job ${accepted.body.job_id} to finish`, 15000);
}

test('holds another transaction commits while a hold waits for the user\'s lock count against the limit (the count follows the lock)', async () => {
  const vendor = await makeVendor();
  const [wanted, other] = await Promise.all([makeGame(vendor.id, { total_slots: 5 }), makeGame(vendor.id, { total_slots: 5 })]);
  const user = await makeUser();
  const token = tokenFor('user', user.id);
  const bookDate = dateInDays(3);
  const limit = config.maxPendingHoldsPerUser;
  // The gate takes the user's lock and makes `limit` holds; the hold sent meanwhile waits for the
  // lock, then must count them: a count from before its wait would see none and let it through.
  const gate = await db.transaction();
  let accepted: ApiResponse;
  try {
    await gate('users').where('id', user.id).forUpdate().first('id');
    const slots = other.slots.slice(0, limit);
    await gate('slot_inventory').insert(slots.map((s) => ({ slot_id: s.id, book_date: bookDate, game_id: other.game.id, capacity: 5, available: 4 })));
    await gate('bookings').insert(slots.map((s) => ({
      user_id: user.id, vendor_id: vendor.id, game_id: other.game.id, slot_id: s.id, book_date: bookDate,
      status: 'pending_verified', price_paise: 100, hold_expires_at: gate.raw("now() + interval '10 minutes'"),
    })));
    accepted = await postHold(token, { slot_id: [wanted.slots[0].id], user_id: user.id, game_id: wanted.game.id, book_date: bookDate }, ASYNC);
    await eventually(async () => (await lockWaiters()) >= 1, 'the hold to wait for the user');
    await gate.commit();
  } catch (error) {
    await gate.rollback();
    throw error;
  }
  const answer = await jobAnswer(token, accepted);
  assert.equal([answer.status, answer.error?.code], [409, 'hold_limit'], JSON.stringify(answer));
  assert.is(await pendingHoldsOf(user.id), limit);
  await assertInventoryMatches();
});

test('the pending-hold limit holds across partitions: 8 games at once never give one user more than 12', async () => {
  const vendor = await makeVendor();
  const games = await Promise.all(Array.from({ length: 8 }, () => makeGame(vendor.id, { total_slots: 5 })));
  const user = await makeUser();
  const token = tokenFor('user', user.id);
  const bookDate = dateInDays(3);
  const partitions = new Set(games.map(({ game }) => partitionForKey(game.id, bookDate))).size;
  assert.ok(partitions > 1, 'the games spread over partitions');
  // The user's row is locked while the holds arrive, so every partition's job is in its
  // transaction, waiting for the user, when the first one goes ahead: a count taken before that
  // wait would miss the others' holds.
  const gate = await db.transaction();
  let accepted: ApiResponse[];
  try {
    await gate('users').where('id', user.id).forUpdate().first('id');
    // Three rounds of 8 requests of 3 slots each: 72 slots asked, 12 allowed.
    accepted = await Promise.all(games.flatMap(({ game, slots }) => [0, 1, 2].map((round) => postHold(token, {
      slot_id: slots.slice(round * 3, round * 3 + 3).map((s) => s.id), user_id: user.id, game_id: game.id, book_date: bookDate,
    }, ASYNC))));
    await eventually(async () => (await lockWaiters()) >= partitions, 'a job of every partition to wait for the user');
  } finally {
    await gate.rollback();
  }
  const answers = await Promise.all(accepted.map((a) => jobAnswer(token, a)));
  const statuses = answers.map((a) => a.status);
  assert.is(statuses.filter((s) => s === 201).length, 4, `statuses: ${statuses.join(',')}`);
  assert.ok(answers.filter((a) => a.status !== 201).every((a) => a.status === 409 && a.error.code === 'hold_limit'), JSON.stringify(answers));
  assert.is(await pendingHoldsOf(user.id), 12);
  await assertInventoryMatches();
});

test('a cafe holds for its customer against its own allowance: it cannot use up the gamer\'s, and the gamer cannot use up its', async () => {
  const cafe = await bookingCafe({ total_slots: 5 });
  const elsewhere = await bookingCafe({ total_slots: 5 });
  const staffToken = tokenFor('vendor', (await makeUser()).id, cafe.vendor.id);
  await holdOrFail(cafe, [cafe.slots[0].id]); // the gamer holds there once: now the cafe's customer
  // The cafe fills its allowance for the gamer, 12 holds, all at once.
  const byCafe = await Promise.all([1, 2, 3, 4].map((i) => postHold(staffToken, {
    slot_id: cafe.slots.slice(i * 3 - 2, i * 3 + 1).map((s) => s.id), user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date,
  })));
  assert.equal(byCafe.map((a) => a.status), [201, 201, 201, 201], JSON.stringify(byCafe.map((a) => a.body)));
  const overCafe = await postHold(staffToken, { slot_id: cafe.slots[13].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date });
  assert.is(overCafe.status, 409);
  assert.is(overCafe.body.code, 'hold_limit');
  // The gamer's own allowance is untouched by the cafe's 12: 1 used, 11 left, anywhere.
  const own = await postHold(cafe.token, {
    slot_id: elsewhere.slots.slice(0, 11).map((s) => s.id), user_id: cafe.user.id, game_id: elsewhere.game.id, book_date: elsewhere.date,
  });
  assert.is(own.status, 201, JSON.stringify(own.body));
  const overOwn = await postHold(cafe.token, { slot_id: elsewhere.slots[12].id, user_id: cafe.user.id, game_id: elsewhere.game.id, book_date: elsewhere.date });
  assert.is(overOwn.status, 409);
  assert.is(overOwn.body.code, 'hold_limit');
  const counts = await db('bookings').where({ user_id: cafe.user.id, status: 'pending_verified' })
    .select(db.raw('held_by_vendor_id'), db.raw('count(*)::int AS n')).groupBy('held_by_vendor_id').orderBy('held_by_vendor_id');
  assert.equal(counts.map((c: any) => [c.held_by_vendor_id, c.n]), [[cafe.vendor.id, 12], [null, 12]]);
  await assertInventoryMatches();
});

test('a move onto a slot that a sibling booking of the same request holds, on another day, succeeds', async () => {
  const cafe = await bookingCafe({ total_slots: 3 });
  const [first] = await holdOrFail(cafe, [cafe.slots[10].id, cafe.slots[11].id]);
  const otherDay = dateInDays(4, cafe.vendor.timezone);
  const moved = await api('PUT', `/bookings/${first}`, { token: cafe.token, body: { slot_id: cafe.slots[11].id, book_date: otherDay } });
  assert.is(moved.status, 200, JSON.stringify(moved.body));
  assert.equal(moved.body, { message: 'Booking moved', booking_id: first, slot_id: cafe.slots[11].id, book_date: otherDay, status: 'pending_verified' });
  const row = await bookingRow(first);
  assert.equal([row!.slot_id, row!.book_date], [cafe.slots[11].id, otherDay]);
  assert.is(await availableUnits(cafe.slots[11].id, otherDay), 2);
  assert.is(await availableUnits(cafe.slots[10].id, cafe.date), 3);
  await assertInventoryMatches(cafe.game.id);
});

/**
 * A cross-date move of booking B is held mid-transaction (a gate locks its target inventory row)
 * after it locked B; `race` then sends a change of B that runs in the partition of B's old key and
 * waits for B's lock. When the move commits, that change must find B where it now is.
 */
async function raceWithCrossDateMove(
  race: (cafe: Awaited<ReturnType<typeof bookingCafe>>, bookingId: number) => Promise<() => Promise<void>>,
  options: { expired?: boolean } = {},
) {
  const cafe = await bookingCafe({ total_slots: 2 });
  const [bookingId] = await holdOrFail(cafe, [cafe.slots[5].id]);
  if (options.expired) await db('bookings').where('id', bookingId).update({ hold_expires_at: new Date(Date.now() - 1000) });
  const target = cafe.slots[8];
  const targetDate = [4, 5, 6, 7, 8, 9].map((d) => dateInDays(d, cafe.vendor.timezone))
    .find((d) => partitionForKey(cafe.game.id, d) !== partitionForKey(cafe.game.id, cafe.date))!;
  await db('slot_inventory').insert({ slot_id: target.id, book_date: targetDate, game_id: cafe.game.id, capacity: 2, available: 2 });
  const gate = await db.transaction();
  try {
    await gate('slot_inventory').where({ slot_id: target.id, book_date: targetDate }).forUpdate().first('slot_id');
    const move = await api('PUT', `/bookings/${bookingId}`, { token: cafe.token, body: { slot_id: target.id, book_date: targetDate }, headers: ASYNC });
    await eventually(async () => (await lockWaiters()) >= 1, 'the move to wait for the gate');
    const check = await race(cafe, bookingId);
    await eventually(async () => (await lockWaiters()) >= 2, 'the racing change to wait for the booking');
    await gate.rollback();
    assert.is((await jobAnswer(cafe.token, move)).status, 200);
    await check();
  } finally {
    if (!gate.isCompleted()) await gate.rollback();
  }
  assert.is(await availableUnits(target.id, targetDate), 2, 'the unit of the new slot came back');
  assert.is(await availableUnits(cafe.slots[5].id, cafe.date), 2, 'the unit of the old slot came back with the move');
  await assertInventoryMatches(cafe.game.id);
}

test('a cancel racing a cross-date move cancels the moved booking (no 404 for a booking that exists)', async () => {
  await raceWithCrossDateMove(async (cafe, bookingId) => {
    const cancel = await api('DELETE', `/bookings/${bookingId}`, { token: cafe.token, headers: ASYNC });
    return async () => {
      const answer = await jobAnswer(cafe.token, cancel);
      assert.equal([answer.status, answer.result], [200, { message: 'Booking canceled successfully' }], JSON.stringify(answer));
      assert.is((await bookingRow(bookingId))!.status, 'cancelled');
    };
  });
});

test('a release_slot racing a cross-date move releases the moved hold', async () => {
  await raceWithCrossDateMove(async (cafe, bookingId) => {
    const release = await api('POST', '/release_slot', { token: cafe.token, body: { bookings: [{ booking_id: bookingId }] }, headers: ASYNC });
    return async () => {
      const answer = await jobAnswer(cafe.token, release);
      assert.equal([answer.status, answer.result], [200, { message: 'Slots released', booking_ids: [bookingId] }], JSON.stringify(answer));
      assert.is((await bookingRow(bookingId))!.status, 'cancelled');
    };
  });
});

test('the sweeper racing a cross-date move expires the moved hold', async () => {
  await raceWithCrossDateMove(async (_cafe, bookingId) => {
    assert.ok((await sweepExpiredHolds()) >= 1);
    return async () => {
      await eventually(async () => (await bookingRow(bookingId))!.status === 'verification_failed', 'the moved hold to expire', 10000);
    };
  }, { expired: true });
});

test('dates beyond MAX_DAYS_AHEAD are 409 slot_unavailable and create no inventory', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  for (const date of ['9999-12-31', dateInDays(config.maxDaysAhead + 1, cafe.vendor.timezone)]) {
    const answer = await postHold(cafe.token, { slot_id: cafe.slots[3].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: date });
    assert.is(answer.status, 409, date);
    assert.is(answer.body.code, 'slot_unavailable');
    assert.equal(answer.body.details.unavailable_slot_ids, [cafe.slots[3].id]);
    assert.is(await availableUnits(cafe.slots[3].id, date), null, `no inventory row for ${date}`);
  }
  const [held] = await holdOrFail(cafe, [cafe.slots[3].id], cafe, dateInDays(config.maxDaysAhead, cafe.vendor.timezone));
  const far = await api('PUT', `/bookings/${held}`, { token: cafe.token, body: { slot_id: cafe.slots[4].id, book_date: '9999-12-31' } });
  assert.is(far.status, 409);
  assert.is(far.body.code, 'slot_unavailable');
  assert.is(await availableUnits(cafe.slots[4].id, '9999-12-31'), null);
  assert.is(await pendingHoldsOf(cafe.user.id), 1);
  await assertInventoryMatches(cafe.game.id);
});

test('a booking transaction\'s generic plans end with it: the connection goes back to the pool planning as before', async () => {
  const cafe = await bookingCafe();
  const single = createKnex(config.databaseUrl, { poolMax: 1 });
  try {
    const actor = { userId: cafe.user.id, role: 'user' as const, vendorId: null };
    const [held] = (await runBookingTransaction('hold', [{ requestId: `generic-${Date.now()}`, actor, userId: cafe.user.id, gameId: cafe.game.id, bookDate: cafe.date, slotIds: [cafe.slots[0].id] }],
      { endpoint: 'POST /bookings', jobIdOf: () => `booking-0.generic-${Date.now()}.0` }, single, 'booking-0')).outcomes;
    assert.is(held.status, 201, JSON.stringify(held));
    // The one connection of the pool: what a later query on it (the sweeper's, say) plans with.
    const { rows: [{ plan_cache_mode: mode }] } = await single.raw('SHOW plan_cache_mode');
    assert.is(mode, 'auto');
  } finally {
    await single.destroy();
  }
});

test.run();
