import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { db } from '../../src/db/knex';
import { localNow, weekdayOf, WEEKDAYS } from '../../src/domain/dates';
import { partitionForKey } from '../../src/jobs/booking';
import { adminToken, api, tokenFor } from '../helpers/api';
import { dateInDays, makeGame, makeUser } from '../helpers/fixtures';
import {
  assertInventoryMatches, availableUnits, BookingCafe, bookingCafe, bookingRow, holdOrFail, makeCustomer, useWorkers,
  zoneWhereLocalHourIs,
} from '../helpers/bookings';

// Cancel (DELETE /bookings/:id), move (PUT /bookings/:id, PUT /update_booking/:id) and release
// (POST /release_slot), end to end with a real worker; SQL checks that refusals change nothing and
// that every unit comes back exactly once (SPEC §5.3, §6).

useWorkers(test, 1);

/** Fixture state without the payments feature: a confirmed booking still holds its unit. */
async function markConfirmed(bookingId: number): Promise<void> {
  await db('bookings').where({ id: bookingId, status: 'pending_verified' }).update({ status: 'confirmed', hold_expires_at: null });
}

/** A snapshot of everything a refused change must leave alone. */
async function snapshot(cafe: BookingCafe, bookingIds: number[], slotDates: Array<[number, string]>) {
  return {
    bookings: await Promise.all(bookingIds.map(bookingRow)),
    inventory: await Promise.all(slotDates.map(([slotId, date]) => availableUnits(slotId, date))),
    count: Number((await db('bookings').where({ game_id: cafe.game.id }).count('* as n'))[0].n),
  };
}

const cancel = (token: string | undefined, id: number | string) => api('DELETE', `/bookings/${id}`, { token });
const move = (token: string, id: number | string, body: unknown, path = '/bookings') => api('PUT', `${path}/${id}`, { token, body });
const release = (token: string | undefined, ids: Array<number | string>) =>
  api('POST', '/release_slot', { token, body: { bookings: ids.map((booking_id) => ({ booking_id })) } });

// ---- DELETE /bookings/:id ---------------------------------------------------------------------

test('cancel a hold: 200 with the message, status cancelled, the unit comes back; again is 409 invalid_state', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  const slot = cafe.slots[18];
  const [id] = await holdOrFail(cafe, [slot.id]);
  assert.is(await availableUnits(slot.id, cafe.date), 1);

  const response = await cancel(cafe.token, `BK-${id}`);
  assert.is(response.status, 200, JSON.stringify(response.body));
  assert.equal(response.body, { message: 'Booking canceled successfully' });
  assert.is((await bookingRow(id))!.status, 'cancelled');
  assert.is(await availableUnits(slot.id, cafe.date), 2);
  const view = await api('GET', `/bookings/${id}`, { token: cafe.token });
  assert.is(view.body.booking.status, 'cancelled');
  assert.is(view.body.booking.hold_expires_at, null);

  const again = await cancel(cafe.token, id);
  assert.is(again.status, 409);
  assert.is(again.body.code, 'invalid_state');
  assert.is(await availableUnits(slot.id, cafe.date), 2);
  await assertInventoryMatches(cafe.game.id);
});

test('cancel a confirmed booking: 200 and its unit comes back; an expired one is 409', async () => {
  const cafe = await bookingCafe({ total_slots: 1 });
  const [confirmed, expired] = await holdOrFail(cafe, [cafe.slots[10].id, cafe.slots[11].id]);
  await markConfirmed(confirmed);
  // An expired hold, as the sweeper leaves it: verification_failed, unit returned.
  await db('bookings').where({ id: expired }).update({ status: 'verification_failed' });
  await db('slot_inventory').where({ slot_id: cafe.slots[11].id, book_date: cafe.date }).increment('available', 1);
  await assertInventoryMatches(cafe.game.id);

  const response = await cancel(cafe.token, confirmed);
  assert.is(response.status, 200, JSON.stringify(response.body));
  assert.is((await bookingRow(confirmed))!.status, 'cancelled');
  assert.is(await availableUnits(cafe.slots[10].id, cafe.date), 1);

  const refused = await cancel(cafe.token, expired);
  assert.is(refused.status, 409);
  assert.is(refused.body.code, 'invalid_state');
  assert.is((await bookingRow(expired))!.status, 'verification_failed');
  assert.is(await availableUnits(cafe.slots[11].id, cafe.date), 1);
  await assertInventoryMatches(cafe.game.id);
});

test('cancel someone else\'s booking: 404 and nothing changes; the cafe and an admin may cancel', async () => {
  const cafe = await bookingCafe({ total_slots: 3 });
  const [mine, forCafe, forAdmin] = await holdOrFail(cafe, [cafe.slots[5].id, cafe.slots[6].id, cafe.slots[7].id]);
  const stranger = await makeCustomer();
  const hidden = await cancel(stranger.token, mine);
  assert.is(hidden.status, 404);
  assert.is(hidden.body.code, 'not_found');
  assert.is((await bookingRow(mine))!.status, 'pending_verified');
  assert.is(await availableUnits(cafe.slots[5].id, cafe.date), 2);
  assert.is((await cancel(undefined, mine)).status, 401);

  const staff = await makeUser();
  assert.is((await cancel(tokenFor('vendor', staff.id, cafe.vendor.id), forCafe)).status, 200);
  assert.is((await cancel(adminToken(), forAdmin)).status, 200);
  assert.is((await bookingRow(forCafe))!.status, 'cancelled');
  assert.is((await bookingRow(forAdmin))!.status, 'cancelled');
  assert.is((await cancel(cafe.token, 2147483000)).status, 404);
  assert.is((await cancel(cafe.token, 'BK-x')).status, 400);
  await assertInventoryMatches(cafe.game.id);
});

test('cancel after the slot started: 409 invalid_state, booking and unit untouched', async () => {
  // It is 10:xx in the cafe's zone: hold today's 22:00 slot, then (as a fixture) move that slot's
  // window to 01:00, which has started. The inventory row is keyed by slot and date, so it stays
  // consistent with the booking.
  const zone = zoneWhereLocalHourIs(10);
  const cafe = await bookingCafe({ timezone: zone, total_slots: 2, slots: [['22:00', '23:00']] });
  const today = localNow(zone).date;
  const [id] = await holdOrFail(cafe, [cafe.slots[0].id], cafe, today);
  await db('slots').where({ id: cafe.slots[0].id }).update({ start_time: '01:00', end_time: '02:00' });

  const response = await cancel(cafe.token, id);
  assert.is(response.status, 409);
  assert.is(response.body.code, 'invalid_state');
  assert.is((await bookingRow(id))!.status, 'pending_verified');
  assert.is(await availableUnits(cafe.slots[0].id, today), 1);
  await assertInventoryMatches(cafe.game.id);
});

// ---- PUT /bookings/:id and PUT /update_booking/:id --------------------------------------------

test('move to another slot on the same date: 200, old unit back, new unit taken, booking updated', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  const [from, to] = [cafe.slots[12], cafe.slots[15]];
  const [id] = await holdOrFail(cafe, [from.id]);
  const response = await move(cafe.token, id, { slot_id: to.id });
  assert.is(response.status, 200, JSON.stringify(response.body));
  const row = await bookingRow(id);
  assert.equal([row!.slot_id, row!.book_date, row!.status], [to.id, cafe.date, 'pending_verified']);
  assert.is(await availableUnits(from.id, cafe.date), 2);
  assert.is(await availableUnits(to.id, cafe.date), 1);
  const view = await api('GET', `/bookings/BK-${id}`, { token: cafe.token });
  assert.equal(view.body.booking.time_slot, { start_time: '15:00', end_time: '16:00' });

  // Moving to where it already is changes nothing.
  const same = await move(cafe.token, `BK-${id}`, { slot_id: to.id, book_date: cafe.date });
  assert.is(same.status, 200);
  assert.is(await availableUnits(to.id, cafe.date), 1);
  await assertInventoryMatches(cafe.game.id);
});

test('move to another date through PUT /update_booking (YYYYMMDD): a confirmed booking stays confirmed', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  const [from, to] = [cafe.slots[12], cafe.slots[9]];
  const [id] = await holdOrFail(cafe, [from.id]);
  await markConfirmed(id);
  const newDate = dateInDays(7, cafe.vendor.timezone);
  const response = await move(cafe.token, id, { slot_id: to.id, book_date: newDate.replace(/-/g, '') }, '/update_booking');
  assert.is(response.status, 200, JSON.stringify(response.body));
  const row = await bookingRow(id);
  assert.equal([row!.slot_id, row!.book_date, row!.status], [to.id, newDate, 'confirmed']);
  assert.is(await availableUnits(from.id, cafe.date), 2);
  assert.is(await availableUnits(to.id, newDate), 1);
  // The /api prefix serves the same route.
  const back = await move(cafe.token, id, { slot_id: from.id, book_date: cafe.date }, '/api/update_booking');
  assert.is(back.status, 200, JSON.stringify(back.body));
  assert.is(await availableUnits(from.id, cafe.date), 1);
  assert.is(await availableUnits(to.id, newDate), 2);
  await assertInventoryMatches(cafe.game.id);
});

test('move into a full slot: 409 slot_unavailable and nothing changes (booking, both inventory rows)', async () => {
  const cafe = await bookingCafe({ total_slots: 1 });
  const other = await makeCustomer();
  const [from, full] = [cafe.slots[13], cafe.slots[14]];
  const [id] = await holdOrFail(cafe, [from.id]);
  const [blocker] = await holdOrFail(cafe, [full.id], other);
  const before = await snapshot(cafe, [id, blocker], [[from.id, cafe.date], [full.id, cafe.date]]);

  const response = await move(cafe.token, id, { slot_id: full.id });
  assert.is(response.status, 409);
  assert.is(response.body.code, 'slot_unavailable');
  assert.equal(response.body.details, { unavailable_slot_ids: [full.id] });
  assert.equal(await snapshot(cafe, [id, blocker], [[from.id, cafe.date], [full.id, cafe.date]]), before);

  // Once the blocker lets go, the same move goes through.
  assert.is((await cancel(other.token, blocker)).status, 200);
  assert.is((await move(cafe.token, id, { slot_id: full.id })).status, 200);
  assert.is(await availableUnits(from.id, cafe.date), 1);
  assert.is(await availableUnits(full.id, cafe.date), 0);
  await assertInventoryMatches(cafe.game.id);
});

test('move to a slot of another game, a closed day or a past date: 409 and nothing changes', async () => {
  const closedDate = dateInDays(5);
  const cafe = await bookingCafe({ total_slots: 2, opening_days: WEEKDAYS.filter((d) => d !== weekdayOf(closedDate)) });
  const { game: otherGame, slots: otherSlots } = await makeGame(cafe.vendor.id);
  const [id] = await holdOrFail(cafe, [cafe.slots[16].id]);
  const before = await snapshot(cafe, [id], [[cafe.slots[16].id, cafe.date], [cafe.slots[17].id, closedDate]]);

  const foreign = await move(cafe.token, id, { slot_id: otherSlots[17].id });
  assert.is(foreign.status, 409);
  assert.is(foreign.body.code, 'slot_unavailable');
  const closed = await move(cafe.token, id, { slot_id: cafe.slots[17].id, book_date: closedDate });
  assert.is(closed.status, 409);
  assert.is(closed.body.code, 'slot_unavailable');
  const past = await move(cafe.token, id, { slot_id: cafe.slots[17].id, book_date: dateInDays(-2) });
  assert.is(past.status, 409);
  assert.is(past.body.code, 'slot_unavailable');
  const nowhere = await move(cafe.token, id, { slot_id: 2147483000 });
  assert.is(nowhere.status, 409);

  assert.equal(await snapshot(cafe, [id], [[cafe.slots[16].id, cafe.date], [cafe.slots[17].id, closedDate]]), before);
  assert.is(Number((await db('bookings').where({ game_id: otherGame.id }).count('* as n'))[0].n), 0);
  await assertInventoryMatches(cafe.game.id);
  await assertInventoryMatches(otherGame.id);
});

test('move a cancelled booking: 409 invalid_state; someone else\'s: 404; bad bodies: 400', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  const [cancelled, live] = await holdOrFail(cafe, [cafe.slots[3].id, cafe.slots[4].id]);
  assert.is((await cancel(cafe.token, cancelled)).status, 200);
  const refused = await move(cafe.token, cancelled, { slot_id: cafe.slots[6].id });
  assert.is(refused.status, 409);
  assert.is(refused.body.code, 'invalid_state');
  const ontoItself = await move(cafe.token, cancelled, { slot_id: cafe.slots[3].id });
  assert.is(ontoItself.status, 409, 'a cancelled booking is not "moved" onto its own slot either');
  assert.is(ontoItself.body.code, 'invalid_state');
  const row = await bookingRow(cancelled);
  assert.equal([row!.slot_id, row!.status], [cafe.slots[3].id, 'cancelled']);
  assert.ok([null, 2].includes(await availableUnits(cafe.slots[6].id, cafe.date)));

  const stranger = await makeCustomer();
  const hidden = await move(stranger.token, live, { slot_id: cafe.slots[6].id });
  assert.is(hidden.status, 404);
  assert.is((await bookingRow(live))!.slot_id, cafe.slots[4].id);

  for (const body of [{}, { slot_id: 'six' }, { slot_id: 0 }, { slot_id: cafe.slots[6].id, book_date: '2025-02-30' },
    { slot_id: cafe.slots[6].id, book_date: '20251345' }, { slot_id: cafe.slots[6].id, colour: 'red' }, [cafe.slots[6].id]]) {
    const response = await move(cafe.token, live, body);
    assert.is(response.status, 400, JSON.stringify(body));
    assert.is(response.body.code, 'validation_failed', JSON.stringify(body));
  }
  assert.is((await bookingRow(live))!.slot_id, cafe.slots[4].id);
  await assertInventoryMatches(cafe.game.id);
});

// ---- POST /release_slot -----------------------------------------------------------------------

test('release holds: 200, each cancelled, units back; accepts BK- ids', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  const slots = [cafe.slots[19], cafe.slots[20]];
  const ids = await holdOrFail(cafe, slots.map((s) => s.id));
  const response = await release(cafe.token, [ids[0], `BK-${ids[1]}`]);
  assert.is(response.status, 200, JSON.stringify(response.body));
  assert.is(response.body.message, 'Slots released');
  assert.equal([...response.body.booking_ids].sort(), [...ids].sort());
  for (const id of ids) assert.is((await bookingRow(id))!.status, 'cancelled');
  for (const slot of slots) assert.is(await availableUnits(slot.id, cafe.date), 2);
  await assertInventoryMatches(cafe.game.id);
});

test('release a confirmed or an already cancelled booking: 409 invalid_state, and nothing in that request changes', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  const [held, confirmed, cancelled] = await holdOrFail(cafe, [cafe.slots[1].id, cafe.slots[2].id, cafe.slots[3].id]);
  await markConfirmed(confirmed);
  assert.is((await cancel(cafe.token, cancelled)).status, 200);
  const watched: Array<[number, string]> = [1, 2, 3].map((i) => [cafe.slots[i].id, cafe.date]);
  const before = await snapshot(cafe, [held, confirmed, cancelled], watched);

  const withConfirmed = await release(cafe.token, [held, confirmed]);
  assert.is(withConfirmed.status, 409);
  assert.is(withConfirmed.body.code, 'invalid_state');
  const withCancelled = await release(cafe.token, [cancelled, held]);
  assert.is(withCancelled.status, 409);
  assert.is(withCancelled.body.code, 'invalid_state');
  assert.equal(await snapshot(cafe, [held, confirmed, cancelled], watched), before);
  await assertInventoryMatches(cafe.game.id);
});

test('release someone else\'s booking: 404 and nothing changes; bad bodies 400; no token 401', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  const stranger = await makeCustomer();
  const [mine] = await holdOrFail(cafe, [cafe.slots[8].id]);
  const [theirs] = await holdOrFail(cafe, [cafe.slots[9].id], stranger);
  const before = await snapshot(cafe, [mine, theirs], [[cafe.slots[8].id, cafe.date], [cafe.slots[9].id, cafe.date]]);

  const response = await release(cafe.token, [mine, theirs]);
  assert.is(response.status, 404);
  assert.is(response.body.code, 'not_found');
  assert.is((await release(undefined, [mine])).status, 401);
  for (const body of [{}, { bookings: [] }, { bookings: [{}] }, { bookings: [{ booking_id: 'BK-x' }] }, { bookings: [{ booking_id: 0 }] },
    { bookings: [{ booking_id: mine, extra: 1 }] }, { bookings: mine }, { bookings: Array.from({ length: 13 }, (_, i) => ({ booking_id: i + 1 })) }]) {
    const bad = await api('POST', '/release_slot', { token: cafe.token, body });
    assert.is(bad.status, 400, JSON.stringify(body));
    assert.is(bad.body.code, 'validation_failed');
  }
  assert.equal(await snapshot(cafe, [mine, theirs], [[cafe.slots[8].id, cafe.date], [cafe.slots[9].id, cafe.date]]), before);
  await assertInventoryMatches(cafe.game.id);
});

test('release across booking partitions: released together, or refused together', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  // Two dates whose slot keys live in different partitions.
  const first = cafe.date;
  let second = '';
  for (let days = 4; days < 60 && !second; days++) {
    const date = dateInDays(days, cafe.vendor.timezone);
    if (partitionForKey(cafe.game.id, date) !== partitionForKey(cafe.game.id, first)) second = date;
  }
  assert.ok(second, 'no date in another partition');
  const [a] = await holdOrFail(cafe, [cafe.slots[10].id], cafe, first);
  const [b] = await holdOrFail(cafe, [cafe.slots[10].id], cafe, second);
  const ok = await release(cafe.token, [a, b]);
  assert.is(ok.status, 200, JSON.stringify(ok.body));
  assert.equal([...ok.body.booking_ids].sort(), [a, b].sort());
  for (const id of [a, b]) assert.is((await bookingRow(id))!.status, 'cancelled');

  // A refusal in one partition must not leave the other partition's hold released.
  const [c] = await holdOrFail(cafe, [cafe.slots[11].id], cafe, first);
  const [d] = await holdOrFail(cafe, [cafe.slots[11].id], cafe, second);
  await markConfirmed(d);
  const refused = await release(cafe.token, [c, d]);
  assert.is(refused.status, 409);
  assert.is(refused.body.code, 'invalid_state');
  assert.is((await bookingRow(d))!.status, 'confirmed');
  assert.is((await bookingRow(c))!.status, 'pending_verified', 'the hold in the other partition was released although the request was refused');
  const withCancelled = await release(cafe.token, [c, a]);
  assert.is(withCancelled.status, 409);
  assert.is((await bookingRow(c))!.status, 'pending_verified');
  assert.is(await availableUnits(cafe.slots[11].id, first), 1);
  await assertInventoryMatches(cafe.game.id);
});

test.run();
