import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'crypto';
import { Job } from 'bullmq';
import { db } from '../../src/db/knex';
import { queue } from '../../src/jobs/queues';
import { AnyBookingJobData, BookingJobName } from '../../src/jobs/booking';
import { processBookingJob } from '../../src/workers/booking';
import { Actor, Outcome } from '../../src/domain/booking-types';
import { assertInventoryMatches } from '../helpers/bookings';
import { LEDGER_RETENTION_DAYS, pruneLedger } from '../../src/db/request-ledger';
import { dateInDays, makeGame, makeUser, makeVendor } from '../helpers/fixtures';

// BullMQ delivers at least once: a worker that dies after its commit and before reporting the job
// complete leaves it to be run again. Each processor, run twice on one job, must change nothing
// the second time and answer as it did the first time.

const AtLeastOnce = suite('a booking job processed twice');
// A queue no worker listens to: the test is the worker, so it can run the same job twice.
const testQueue = queue(`rerun-${randomUUID()}`);

async function runTwice(name: BookingJobName, data: AnyBookingJobData): Promise<[Outcome[], Outcome[]]> {
  const added = await testQueue.add(name, data);
  const job = (await Job.fromId(testQueue, added.id!)) as Job<AnyBookingJobData, Outcome[]>;
  const first = await processBookingJob(job);
  const second = await processBookingJob(job);
  return [first, second];
}

async function snapshot(gameId: number) {
  const bookings = await db('bookings').where('game_id', gameId).orderBy('id').select('id', 'status', 'slot_id', 'book_date');
  const inventory = await db('slot_inventory').where('game_id', gameId).orderBy(['slot_id', 'book_date']).select('slot_id', 'book_date', 'available');
  return { bookings, inventory };
}

async function setup() {
  const vendor = await makeVendor();
  const fixture = await makeGame(vendor.id, { total_slots: 2, slots: [['10:00', '11:00'], ['11:00', '12:00']] });
  const user = await makeUser();
  const actor: Actor = { userId: user.id, role: 'user', vendorId: null };
  return { ...fixture, user, actor, bookDate: dateInDays(5) };
}

async function hold(f: Awaited<ReturnType<typeof setup>>, slotIndex = 0): Promise<number> {
  const [[outcome]] = await runTwice('hold', {
    requests: [{ requestId: randomUUID(), actor: f.actor, userId: f.user.id, gameId: f.game.id, bookDate: f.bookDate, slotIds: [f.slots[slotIndex].id] }],
  });
  return (outcome.body as { bookings: Array<{ booking_id: number }> }).bookings[0].booking_id;
}

AtLeastOnce('hold: same bookings, one unit taken', async () => {
  const f = await setup();
  const request = { requestId: randomUUID(), actor: f.actor, userId: f.user.id, gameId: f.game.id, bookDate: f.bookDate, slotIds: [f.slots[0].id, f.slots[1].id] };
  const [first, second] = await runTwice('hold', { requests: [request] });
  assert.is(first[0].status, 201);
  assert.equal(second, first);
  const state = await snapshot(f.game.id);
  assert.is(state.bookings.length, 2);
  assert.equal(state.inventory.map((i) => i.available), [1, 1]);
  await assertInventoryMatches(f.game.id);
});

AtLeastOnce('hold with an Idempotency-Key: the stored answer, no second hold', async () => {
  const f = await setup();
  const request = {
    requestId: `k${randomUUID().replace(/-/g, '')}`, actor: f.actor, userId: f.user.id, gameId: f.game.id, bookDate: f.bookDate,
    slotIds: [f.slots[0].id], idempotency: { endpoint: 'POST /bookings', key: randomUUID(), requestHash: 'h1' },
  };
  const [first, second] = await runTwice('hold', { requests: [request] });
  assert.is(first[0].status, 201);
  assert.equal(second, first);
  assert.is((await snapshot(f.game.id)).bookings.length, 1);
});

AtLeastOnce('cancel: cancelled once, unit given back once, same answer', async () => {
  const f = await setup();
  const bookingId = await hold(f);
  const [first, second] = await runTwice('cancel', { requests: [{ requestId: randomUUID(), actor: f.actor, bookingId }] });
  assert.equal(first, [{ status: 200, body: { message: 'Booking canceled successfully' } }]);
  assert.equal(second, first);
  const state = await snapshot(f.game.id);
  assert.equal(state.bookings.map((b) => b.status), ['cancelled']);
  assert.equal(state.inventory.map((i) => i.available), [2]);
  await assertInventoryMatches(f.game.id);
});

AtLeastOnce('move: moved once, each unit counted once', async () => {
  const f = await setup();
  const bookingId = await hold(f);
  const [first, second] = await runTwice('move', {
    requests: [{ requestId: randomUUID(), actor: f.actor, bookingId, slotId: f.slots[1].id, bookDate: f.bookDate }],
  });
  assert.is(first[0].status, 200);
  assert.equal(second, first);
  const state = await snapshot(f.game.id);
  assert.equal(state.bookings.map((b) => b.slot_id), [f.slots[1].id]);
  assert.equal(state.inventory.map((i) => i.available), [2, 1]);
  await assertInventoryMatches(f.game.id);
});

AtLeastOnce('move re-run after a later move: the request ledger answers it, the booking stays where the later move put it', async () => {
  const f = await setup();
  const bookingId = await hold(f);
  const move = (slotIndex: number) => ({ requests: [{ requestId: randomUUID(), actor: f.actor, bookingId, slotId: f.slots[slotIndex].id, bookDate: f.bookDate }] });
  const first = await testQueue.add('move', move(1)); // M1: A → B, committed, its completion never heard of
  const firstJob = (await Job.fromId(testQueue, first.id!)) as Job<AnyBookingJobData, Outcome[]>;
  const [m1] = await processBookingJob(firstJob);
  assert.is(m1.status, 200);
  const [[m2]] = await runTwice('move', move(0)); // M2: B → A
  assert.is(m2.status, 200);
  const [again] = await processBookingJob(firstJob); // M1 delivered again
  assert.equal(again, m1);
  const state = await snapshot(f.game.id);
  assert.equal(state.bookings.map((b) => b.slot_id), [f.slots[0].id], 'the booking is where M2 put it');
  assert.equal(state.inventory.map((i) => i.available), [1, 2]);
  await assertInventoryMatches(f.game.id);
});

AtLeastOnce('the request ledger keeps answers for its retention, then the scheduled prune deletes them', async () => {
  const f = await setup();
  const bookingId = await hold(f);
  const requestId = randomUUID();
  await runTwice('cancel', { requests: [{ requestId, actor: f.actor, bookingId }] });
  const row = await db('request_ledger').where({ id: requestId }).first('user_id', 'endpoint', 'state', 'status', 'answer');
  assert.equal(row, { user_id: f.user.id, endpoint: 'DELETE /bookings/:booking_id', state: 'completed', status: 200, answer: { message: 'Booking canceled successfully' } });
  assert.is(await pruneLedger(new Date(Date.now() + (LEDGER_RETENTION_DAYS - 1) * 86_400_000)), 0);
  assert.ok(await db('request_ledger').where({ id: requestId }).first('id'), 'kept within the retention');
  assert.ok((await pruneLedger(new Date(Date.now() + (LEDGER_RETENTION_DAYS + 1) * 86_400_000))) >= 1);
  assert.is(await db('request_ledger').where({ id: requestId }).first('id'), undefined);
});

AtLeastOnce('copies of one keyed request with different bodies: the first body is held, the others are 409 and never read its answer', async () => {
  const f = await setup();
  const requestId = `k${randomUUID().replace(/-/g, '')}`;
  const copy = (slotIndex: number, requestHash: string) => ({
    requestId, actor: f.actor, userId: f.user.id, gameId: f.game.id, bookDate: f.bookDate, slotIds: [f.slots[slotIndex].id],
    idempotency: { endpoint: 'POST /bookings', key: 'same-key', requestHash },
  });
  const jobIdsOf = async () => ((await db('request_ledger').where({ id: requestId }).first('job_ids')).job_ids as string[]).sort();
  const [[held, refused]] = await runTwice('hold', { requests: [copy(0, 'h1'), copy(1, 'h2')] });
  assert.is(held.status, 201);
  assert.equal([refused.status, (refused.body as { code: string }).code], [409, 'duplicate']);
  const firstIds = await jobIdsOf();
  assert.is(firstIds.length, 1, 'only the copy that was held names the answer');
  const [[other]] = await runTwice('hold', { requests: [copy(1, 'h2')] });
  assert.equal([other.status, (other.body as { code: string }).code], [409, 'duplicate']);
  assert.equal(await jobIdsOf(), firstIds, 'a copy with another body is not noted');
  const [[same]] = await runTwice('hold', { requests: [copy(0, 'h1')] });
  assert.equal(same, held);
  assert.is((await jobIdsOf()).length, 2, 'a later job with the first body is noted');
  assert.is((await snapshot(f.game.id)).bookings.length, 1);
  await assertInventoryMatches(f.game.id);
});

AtLeastOnce('release by the user and by the sweeper: released once', async () => {
  const f = await setup();
  const released = await hold(f, 0);
  const [first, second] = await runTwice('release', { requests: [{ requestId: randomUUID(), actor: f.actor, bookingIds: [released] }] });
  assert.equal(first, [{ status: 200, body: { message: 'Slots released', booking_ids: [released] } }]);
  assert.equal(second, first);

  const expired = await hold(f, 1);
  await db('bookings').where('id', expired).update({ hold_expires_at: new Date(Date.now() - 1000) });
  const [sweptFirst, sweptSecond] = await runTwice('release', { requests: [{ requestId: `expire-${expired}`, actor: null, bookingIds: [expired] }] });
  assert.equal(sweptFirst, [{ status: 200, body: { message: 'Expired holds released', booking_ids: [expired] } }]);
  // The sweeper's releases are system work with no caller to answer: the second run finds nothing expired left.
  assert.equal(sweptSecond, [{ status: 200, body: { message: 'Expired holds released', booking_ids: [] } }]);
  const state = await snapshot(f.game.id);
  assert.equal(state.bookings.map((b) => b.status), ['cancelled', 'verification_failed']);
  assert.equal(state.inventory.map((i) => i.available), [2, 2]);
  await assertInventoryMatches(f.game.id);
});

AtLeastOnce.after(async () => {
  await testQueue.obliterate({ force: true });
});

AtLeastOnce.run();
