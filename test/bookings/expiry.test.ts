import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { db } from '../../src/db/knex';
import { bookingJobOptions, bookingQueue, partitionForKey } from '../../src/jobs/booking';
import { expiryJobId } from '../../src/jobs/sweeper';
import { api } from '../helpers/api';
import {
  assertInventoryMatches, availableUnits, bookingCafe, bookingRow, eventually, postHold, useWorkers,
} from '../helpers/bookings';

// The sweeper (SPEC §2, §6): a worker whose holds last two seconds and whose sweeper runs every
// 200 ms. The TTL is the worker's setting — the API computes nothing about it — so the 201 answer
// itself shows the short expiry.

const TTL_SECONDS = 2; // short, yet long enough for a test to act on a hold before it expires
useWorkers(test, 1, { HOLD_TTL_SECONDS: String(TTL_SECONDS), SWEEP_INTERVAL_MS: '200' });

const statusOf = async (id: number) => (await bookingRow(id))!.status;

test('an unconfirmed hold expires: verification_failed within a few seconds, its unit comes back', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  const slot = cafe.slots[17];
  const before = Date.now();
  const response = await postHold(cafe.token, { slot_id: slot.id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date });
  assert.is(response.status, 201, JSON.stringify(response.body));
  const expires = Date.parse(response.body.hold_expires_at);
  assert.ok(expires >= before + TTL_SECONDS * 1000 - 500 && expires <= Date.now() + TTL_SECONDS * 1000 + 500,
    `hold_expires_at ${response.body.hold_expires_at} is not about ${TTL_SECONDS}s ahead`);
  const id = response.body.bookings[0].booking_id;
  assert.is(await availableUnits(slot.id, cafe.date), 1);

  await eventually(async () => (await statusOf(id)) === 'verification_failed', `booking ${id} to expire`, 8000);
  assert.ok(Date.now() >= expires, 'released before its time');
  assert.is(await availableUnits(slot.id, cafe.date), 2);
  const view = await api('GET', `/bookings/${id}`, { token: cafe.token });
  assert.is(view.body.booking.status, 'verification_failed');
  assert.is(view.body.booking.hold_expires_at, null);
  // An expired hold can no longer be cancelled or released.
  assert.is((await api('DELETE', `/bookings/${id}`, { token: cafe.token })).status, 409);
  assert.is((await api('POST', '/release_slot', { token: cafe.token, body: { bookings: [{ booking_id: id }] } })).status, 409);
  assert.is(await availableUnits(slot.id, cafe.date), 2);
  await assertInventoryMatches(cafe.game.id);
});

test('a hold confirmed before it expires is left alone by the sweeper, while its unconfirmed sibling expires', async () => {
  const cafe = await bookingCafe({ total_slots: 1 });
  const response = await postHold(cafe.token, { slot_id: [cafe.slots[8].id, cafe.slots[9].id], user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date });
  assert.is(response.status, 201, JSON.stringify(response.body));
  const [confirmed, sibling] = response.body.bookings.map((b: any) => b.booking_id);
  // Confirmation as a fixture state (the payments feature sets it): the unit stays taken; the
  // expiry time is left as it was, so only the status protects it.
  await db('bookings').where({ id: confirmed, status: 'pending_verified' }).update({ status: 'confirmed' });

  await eventually(async () => (await statusOf(sibling)) === 'verification_failed', `booking ${sibling} to expire`, 8000);
  // Give the sweeper a few more rounds to (wrongly) pick up the confirmed one.
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.is(await statusOf(confirmed), 'confirmed');
  assert.is(await availableUnits(cafe.slots[8].id, cafe.date), 0);
  assert.is(await availableUnits(cafe.slots[9].id, cafe.date), 1);
  await assertInventoryMatches(cafe.game.id);
});

test('an expiry release that was queued before the hold got confirmed changes nothing', async () => {
  // The race the sweeper must survive: it found the hold expired and queued its release, and the
  // payment confirmed the hold before that release ran. The release re-checks under lock.
  const cafe = await bookingCafe({ total_slots: 2 });
  const response = await postHold(cafe.token, { slot_id: cafe.slots[12].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date });
  assert.is(response.status, 201);
  const id = response.body.bookings[0].booking_id;
  await db('bookings').where({ id, status: 'pending_verified' }).update({ status: 'confirmed' });

  const queue = bookingQueue(partitionForKey(cafe.game.id, cafe.date));
  // A job id of its own, so it cannot collide with a real sweep of this booking.
  const job = await queue.add('release', { requests: [{ requestId: expiryJobId(id), actor: null, bookingIds: [id] }] },
    { ...bookingJobOptions, jobId: `${expiryJobId(id)}-late` });
  const answer = await eventually(async () => (await job.isCompleted()) && (await queue.getJob(job.id!))!.returnvalue, 'the late release to run', 8000);
  assert.equal(answer[0], { status: 200, body: { message: 'Expired holds released', booking_ids: [] } });
  assert.is(await statusOf(id), 'confirmed');
  assert.is(await availableUnits(cafe.slots[12].id, cafe.date), 1);
  await assertInventoryMatches(cafe.game.id);
});

test('a hold cancelled before it expires is not released a second time', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  const response = await postHold(cafe.token, { slot_id: cafe.slots[14].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date });
  const id = response.body.bookings[0].booking_id;
  const cancelled = await api('DELETE', `/bookings/${id}`, { token: cafe.token });
  assert.is(cancelled.status, 200, JSON.stringify(cancelled.body));
  // Past its expiry and several sweeps later, it is still just cancelled, with one unit given back.
  await new Promise((resolve) => setTimeout(resolve, TTL_SECONDS * 1000 + 700));
  assert.is(await statusOf(id), 'cancelled');
  assert.is(await availableUnits(cafe.slots[14].id, cafe.date), 2);
  await assertInventoryMatches(cafe.game.id);
});

test('expired holds stop counting toward the pending-hold limit', async () => {
  const cafe = await bookingCafe({ total_slots: 1 });
  const first = await postHold(cafe.token, { slot_id: cafe.slots.slice(0, 12).map((s) => s.id), user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date });
  assert.is(first.status, 201, JSON.stringify(first.body));
  const ids: number[] = first.body.bookings.map((b: any) => b.booking_id);
  await eventually(async () => {
    const statuses = await db('bookings').whereIn('id', ids).pluck('status');
    return statuses.every((s: string) => s === 'verification_failed');
  }, 'all twelve holds to expire', 8000);
  const again = await postHold(cafe.token, { slot_id: cafe.slots.slice(0, 12).map((s) => s.id), user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date });
  assert.is(again.status, 201, JSON.stringify(again.body));
  await assertInventoryMatches(cafe.game.id);
});

test.run();
