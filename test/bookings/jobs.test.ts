import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { db } from '../../src/db/knex';
import { randomUUID } from 'crypto';
import { bookingJobOptions, bookingQueue, partitionForKey } from '../../src/jobs/booking';
import { clientRedis } from '../../src/jobs/connection';
import { jobEndsChannel } from '../../src/jobs/job-waiter';
import { parseJobRef } from '../../src/jobs/job-ref';
import { bookingQueueName, queue } from '../../src/jobs/queues';
import { adminToken, api, ApiResponse, tokenFor } from '../helpers/api';
import { claimIdempotencyKey, idempotentRequestId, recordJobRef, requestHash } from '../../src/jobs/idempotency';
import {
  assertInventoryMatches, availableUnits, bookingCafe, bookingRowsOfGame, eventually, holdOrFail, lockWaiters, makeCustomer, postHold,
  useWorkers,
} from '../helpers/bookings';

// Job-backed answers (SPEC §2): 202 with Prefer: respond-async, GET /jobs/:id, and Idempotency-Key
// on POST /bookings — with real worker processes, and with none running.

const workers = useWorkers(test, 1);

const ASYNC = { Prefer: 'respond-async' };

function assertAccepted(response: ApiResponse): string {
  assert.is(response.status, 202, JSON.stringify(response.body));
  assert.equal(Object.keys(response.body).sort(), ['job_id', 'status', 'status_url']);
  const jobId = response.body.job_id;
  assert.type(jobId, 'string');
  assert.is(response.body.status, 'queued');
  assert.is(response.body.status_url, `/jobs/${jobId}`);
  assert.is(response.headers.get('location'), `/jobs/${jobId}`);
  return jobId;
}

/** Polls GET /jobs/:id until the job is completed or failed. */
function finishedJob(token: string, jobId: string, timeoutMs = 8000): Promise<any> {
  return eventually(async () => {
    const response = await api('GET', `/jobs/${jobId}`, { token });
    assert.is(response.status, 200, JSON.stringify(response.body));
    return ['completed', 'failed'].includes(response.body.state) ? response.body : undefined;
  }, `job ${jobId} to finish`, timeoutMs, 40);
}

const holdsOf = async (userId: number) => Number((await db('bookings').where({ user_id: userId }).count('* as n'))[0].n);

// ---- 202 and GET /jobs/:id --------------------------------------------------------------------

test('Prefer: respond-async → 202 with Location; GET /jobs reaches completed with status 201 and the 201 body', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  const body = { slot_id: [cafe.slots[18].id, cafe.slots[19].id], user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date };
  const jobId = assertAccepted(await postHold(cafe.token, body, ASYNC));
  // The status URL works under the /api prefix too, as the Location a client follows.
  const job = await finishedJob(cafe.token, jobId);
  assert.equal(Object.keys(job).sort(), ['job_id', 'result', 'state', 'status']);
  assert.is(job.job_id, jobId);
  assert.is(job.state, 'completed');
  assert.is(job.status, 201);
  const rows = await bookingRowsOfGame(cafe.game.id);
  assert.equal(job.result, {
    message: 'Slots frozen',
    bookings: body.slot_id.map((slotId) => ({ slot_id: slotId, booking_id: rows.find((r) => r.slot_id === slotId)!.id })),
    status: 'pending_verified',
    hold_expires_at: rows[0].hold_expires_at!.toISOString(),
  });
  assert.equal((await api('GET', `/api/jobs/${jobId}`, { token: cafe.token })).body, job);
  await assertInventoryMatches(cafe.game.id);
});

test('a full slot asked for asynchronously: the job completes with status 409 and error.code slot_unavailable', async () => {
  const cafe = await bookingCafe({ total_slots: 1 });
  const other = await makeCustomer();
  await holdOrFail(cafe, [cafe.slots[7].id], other);
  const jobId = assertAccepted(await postHold(cafe.token, { slot_id: cafe.slots[7].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date }, ASYNC));
  const job = await finishedJob(cafe.token, jobId);
  assert.equal(Object.keys(job).sort(), ['error', 'job_id', 'state', 'status']);
  assert.is(job.state, 'completed');
  assert.is(job.status, 409);
  assert.is(job.error.code, 'slot_unavailable');
  assert.type(job.error.message, 'string');
  assert.equal(job.error.details, { unavailable_slot_ids: [cafe.slots[7].id] });
  assert.is(await holdsOf(cafe.user.id), 0);
  await assertInventoryMatches(cafe.game.id);
});

test('cancel and move answer 202 too, and their jobs carry the 200 answers', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  const [id] = await holdOrFail(cafe, [cafe.slots[4].id]);
  const moveJob = assertAccepted(await api('PUT', `/bookings/${id}`, { token: cafe.token, body: { slot_id: cafe.slots[5].id }, headers: ASYNC }));
  const moved = await finishedJob(cafe.token, moveJob);
  assert.is(moved.status, 200);
  assert.is(await availableUnits(cafe.slots[5].id, cafe.date), 1);
  const cancelJob = assertAccepted(await api('DELETE', `/bookings/${id}`, { token: cafe.token, headers: ASYNC }));
  const cancelled = await finishedJob(cafe.token, cancelJob);
  assert.equal([cancelled.status, cancelled.result], [200, { message: 'Booking canceled successfully' }]);
  assert.is(await availableUnits(cafe.slots[5].id, cafe.date), 2);
  await assertInventoryMatches(cafe.game.id);
});

test('GET /jobs/:id: owner and admin only (404 for others), 400 malformed, 404 unknown, 401 without a token', async () => {
  const cafe = await bookingCafe();
  const jobId = assertAccepted(await postHold(cafe.token, { slot_id: cafe.slots[3].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date }, ASYNC));
  const own = await finishedJob(cafe.token, jobId);

  const stranger = await makeCustomer();
  const hidden = await api('GET', `/jobs/${jobId}`, { token: stranger.token });
  assert.is(hidden.status, 404);
  assert.is(hidden.body.code, 'not_found');
  const admin = await api('GET', `/jobs/${jobId}`, { token: adminToken() });
  assert.is(admin.status, 200);
  assert.equal(admin.body, own);
  assert.is((await api('GET', `/jobs/${jobId}`)).status, 401);

  const ref = parseJobRef(jobId)!;
  for (const unknown of [`${ref.queueName}.00000000-0000-0000-0000-000000000000.0`, `${ref.queueName}.${ref.jobId}.1`, `booking-999.${ref.jobId}.0`, `payment-verification.${ref.jobId}.0`]) {
    const response = await api('GET', `/jobs/${unknown}`, { token: cafe.token });
    assert.is(response.status, 404, unknown);
  }
  for (const malformed of ['abc', '1.2', '1..0', '1.x y.0', `${ref.jobId}.0`, `sweeper.${ref.jobId}.0`, `${ref.queueName}.${ref.jobId}.-1`, `${ref.queueName}.${'a'.repeat(65)}.0`]) {
    const response = await api('GET', `/jobs/${encodeURIComponent(malformed)}`, { token: cafe.token });
    assert.is(response.status, 400, `${malformed} → ${response.status}`);
    assert.is(response.body.code, 'validation_failed');
  }
});

test('a job that fails for good reads as state failed with status 503 and error.code unavailable', async () => {
  const cafe = await bookingCafe();
  // A payload the worker refuses outright (UnrecoverableError): no retries, the job fails.
  const jobId = randomUUID();
  const actor = { userId: cafe.user.id, role: 'user', vendorId: null };
  await bookingQueue(0).add('cancel', { requests: [{ requestId: jobId, actor, bookingId: 'not-a-number' }] }, { ...bookingJobOptions, jobId });
  const job = await finishedJob(cafe.token, `booking-0.${jobId}.0`);
  assert.equal(Object.keys(job).sort(), ['error', 'job_id', 'state', 'status']);
  assert.is(job.state, 'failed');
  assert.is(job.status, 503);
  assert.is(job.error.code, 'unavailable');
  assert.type(job.error.message, 'string');
  assert.not.match(job.error.message, /not-a-number|bookingId|Error:/);
});

test('an end published on the job-ends channel without the workers\' signature answers nothing: the client gets its committed answer', async () => {
  const cafe = await bookingCafe();
  const partition = partitionForKey(cafe.game.id, cafe.date);
  // The user's row is locked, so the hold's job is running (waiting for it) while ends are forged.
  const gate = await db.transaction();
  let answer: Promise<ApiResponse>;
  try {
    await gate('users').where('id', cafe.user.id).forUpdate().first('id');
    answer = postHold(cafe.token, { slot_id: [cafe.slots[20].id], user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date });
    await eventually(async () => (await lockWaiters()) >= 1, 'the hold to wait for the user');
    const [job] = await bookingQueue(partition).getActive();
    const forged = (end: unknown) => JSON.stringify({ queue: bookingQueueName(partition), jobId: job.id, end });
    const redis = clientRedis();
    const heard = await Promise.all([
      redis.publish(jobEndsChannel(), forged({ state: 'completed', returnvalue: [{ status: 201, body: { forged: true } }] })),
      redis.publish(jobEndsChannel(), `AAAA.${forged({ state: 'failed', failedReason: 'forged' })}`),
    ]);
    assert.ok(heard.every((subscribers) => subscribers >= 1), 'the waiting process heard the forgeries');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await gate.commit();
  } catch (error) {
    await gate.rollback();
    throw error;
  }
  const got = await answer!;
  assert.equal([got.status, got.body.message], [201, 'Slots frozen'], JSON.stringify(got.body));
  assert.is((await bookingRowsOfGame(cafe.game.id)).filter((b) => b.user_id === cafe.user.id).length, 1);
});

test('with no worker running: 202, the job stays waiting, nothing is held; a worker that starts finishes it', async () => {
  const cafe = await bookingCafe();
  await workers.stop();
  const jobId = assertAccepted(await postHold(cafe.token, { slot_id: cafe.slots[21].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date }, ASYNC));
  const waiting = await api('GET', `/jobs/${jobId}`, { token: cafe.token });
  assert.equal(waiting.body, { job_id: jobId, state: 'waiting' });
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.is((await api('GET', `/jobs/${jobId}`, { token: cafe.token })).body.state, 'waiting');
  assert.is(await holdsOf(cafe.user.id), 0);

  await workers.start();
  const job = await finishedJob(cafe.token, jobId);
  assert.is(job.status, 201);
  assert.is(await holdsOf(cafe.user.id), 1);
  assert.is(job.result.bookings[0].slot_id, cafe.slots[21].id);
  await assertInventoryMatches(cafe.game.id);
});

// ---- Idempotency-Key --------------------------------------------------------------------------

test('Idempotency-Key: the same key twice answers the same bookings, and only one set exists', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  const body = { slot_id: [cafe.slots[10].id, cafe.slots[11].id], user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date };
  const headers = { 'Idempotency-Key': `hold-${cafe.user.id}-a` };
  const first = await postHold(cafe.token, body, headers);
  assert.is(first.status, 201, JSON.stringify(first.body));
  const second = await postHold(cafe.token, body, headers);
  assert.is(second.status, 201);
  assert.equal(second.body, first.body);
  // The same key with the body spelled differently (YYYYMMDD) is still the same request.
  const third = await postHold(cafe.token, { ...body, book_date: cafe.date.replace(/-/g, '') }, headers);
  assert.is(third.status, 201, JSON.stringify(third.body));
  assert.equal(third.body, first.body);
  assert.is(await holdsOf(cafe.user.id), 2);
  for (const slot of body.slot_id) assert.is(await availableUnits(slot, cafe.date), 1);

  // A request without a key is a new request.
  const unkeyed = await postHold(cafe.token, body);
  assert.is(unkeyed.status, 201);
  assert.is(await holdsOf(cafe.user.id), 4);
  await assertInventoryMatches(cafe.game.id);
});

test('Idempotency-Key: 10 concurrent requests with one key get one answer and make exactly one hold', async () => {
  const cafe = await bookingCafe({ total_slots: 3 });
  const body = { slot_id: cafe.slots[16].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date };
  const headers = { 'Idempotency-Key': `burst-${cafe.user.id}` };
  const answers = await Promise.all(Array.from({ length: 10 }, () => postHold(cafe.token, body, headers)));
  const statuses = new Set(answers.map((a) => a.status));
  assert.ok([...statuses].every((s) => s === 201 || s === 202), `statuses ${[...statuses]}`);
  const created = answers.filter((a) => a.status === 201).map((a) => JSON.stringify(a.body));
  const queued = answers.filter((a) => a.status === 202).map((a) => a.body.job_id);
  assert.ok(new Set(created).size <= 1, `different 201 answers: ${[...new Set(created)].join(' | ')}`);
  assert.ok(new Set(queued).size <= 1, `different jobs: ${[...new Set(queued)].join(' | ')}`);
  assert.is(await holdsOf(cafe.user.id), 1);
  assert.is(await availableUnits(cafe.slots[16].id, cafe.date), 2);
  if (created.length) {
    assert.is(JSON.parse(created[0]).bookings[0].booking_id, (await bookingRowsOfGame(cafe.game.id))[0].id);
  }
  await assertInventoryMatches(cafe.game.id);
});

test('Idempotency-Key: same key with another body is 409 duplicate; the same key of another user is independent', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  const other = await makeCustomer();
  const key = { 'Idempotency-Key': 'shared-key-between-two-users' };
  const first = await postHold(cafe.token, { slot_id: cafe.slots[12].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date }, key);
  assert.is(first.status, 201);
  const changed = await postHold(cafe.token, { slot_id: cafe.slots[13].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date }, key);
  assert.is(changed.status, 409);
  assert.is(changed.body.code, 'duplicate');
  assert.is(await holdsOf(cafe.user.id), 1);
  assert.ok([null, 2].includes(await availableUnits(cafe.slots[13].id, cafe.date)));

  const theirs = await postHold(other.token, { slot_id: cafe.slots[12].id, user_id: other.user.id, game_id: cafe.game.id, book_date: cafe.date }, key);
  assert.is(theirs.status, 201, JSON.stringify(theirs.body));
  assert.is.not(theirs.body.bookings[0].booking_id, first.body.bookings[0].booking_id);
  assert.is(await holdsOf(other.user.id), 1);
  assert.is(await availableUnits(cafe.slots[12].id, cafe.date), 0);

  const tooLong = await postHold(cafe.token, { slot_id: cafe.slots[14].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date }, { 'Idempotency-Key': 'k'.repeat(256) });
  assert.is(tooLong.status, 400);
  assert.is(tooLong.body.code, 'validation_failed');
  assert.is(await holdsOf(cafe.user.id), 1);
  await assertInventoryMatches(cafe.game.id);
});

test('Idempotency-Key belongs to the caller: a cafe booking a walk-in with the customer\'s key is a new request', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  const staff = tokenFor('vendor', (await makeCustomer()).user.id, cafe.vendor.id);
  const key = { 'Idempotency-Key': 'same-key-customer-and-cafe' };
  const own = await postHold(cafe.token, { slot_id: cafe.slots[12].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date }, key);
  assert.is(own.status, 201);
  const walkIn = await postHold(staff, { slot_id: cafe.slots[13].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date }, key);
  assert.is(walkIn.status, 201, JSON.stringify(walkIn.body));
  assert.is(await holdsOf(cafe.user.id), 2);
  const walkInAgain = await postHold(staff, { slot_id: cafe.slots[13].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date }, key);
  assert.equal(walkInAgain.body, walkIn.body);
  assert.is(await holdsOf(cafe.user.id), 2);
  await assertInventoryMatches(cafe.game.id);
});

test('Idempotency-Key: a retry after the first job failed for good runs the request again', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  const body = { slot_id: [cafe.slots[15].id], user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date };
  const key = 'retry-after-failure';
  // The key's first request went to a job that failed (its transaction rolled back, nothing held).
  const failedJobId = randomUUID();
  await bookingQueue(0).add('cancel', { requests: [{ requestId: failedJobId, actor: { userId: cafe.user.id, role: 'user', vendorId: null }, bookingId: 'x' }] }, { ...bookingJobOptions, jobId: failedJobId });
  await eventually(async () => (await bookingQueue(0).getJobState(failedJobId)) === 'failed', 'the job to fail');
  const requestId = idempotentRequestId(cafe.user.id, 'POST /bookings', key);
  const hash = requestHash({ userId: body.user_id, gameId: body.game_id, bookDate: body.book_date, slotIds: body.slot_id });
  await claimIdempotencyKey(requestId, hash, 0);
  await recordJobRef(requestId, hash, { queueName: 'booking-0', jobId: failedJobId, index: 0 });

  const retry = await postHold(cafe.token, body, { 'Idempotency-Key': key });
  assert.is(retry.status, 201, JSON.stringify(retry.body));
  const again = await postHold(cafe.token, body, { 'Idempotency-Key': key });
  assert.equal(again.body, retry.body);
  assert.is(await holdsOf(cafe.user.id), 1);
  await assertInventoryMatches(cafe.game.id);
});

test('Idempotency-Key: a refusal is the first answer too; the retry gets it even after the slot frees up', async () => {
  const cafe = await bookingCafe({ total_slots: 1 });
  const other = await makeCustomer();
  const [blocker] = await holdOrFail(cafe, [cafe.slots[6].id], other);
  const body = { slot_id: cafe.slots[6].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date };
  const headers = { 'Idempotency-Key': `refused-${cafe.user.id}` };
  const first = await postHold(cafe.token, body, headers);
  assert.is(first.status, 409);
  assert.is((await api('DELETE', `/bookings/${blocker}`, { token: other.token })).status, 200);
  const retry = await postHold(cafe.token, body, headers);
  assert.is(retry.status, 409);
  assert.equal(retry.body, first.body);
  assert.is(await holdsOf(cafe.user.id), 0);
  await assertInventoryMatches(cafe.game.id);
});

test('Idempotency-Key: the stored answer outlives the BullMQ job; a retry after the job was removed holds nothing new', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  const body = { slot_id: cafe.slots[20].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date };
  const headers = { 'Idempotency-Key': `outlives-${cafe.user.id}` };
  const jobId = assertAccepted(await postHold(cafe.token, body, { ...headers, ...ASYNC }));
  const job = await finishedJob(cafe.token, jobId);
  assert.is(job.status, 201);

  const ref = parseJobRef(jobId)!;
  const stored = await queue(ref.queueName).getJob(ref.jobId);
  assert.ok(stored, 'the finished job is still in its queue');
  await stored!.remove();
  assert.is(await queue(ref.queueName).getJob(ref.jobId), undefined);
  // GET /jobs/:id reads the request ledger: the answer is still there, to its owner only.
  const afterRemoval = await api('GET', `/jobs/${jobId}`, { token: cafe.token });
  assert.is(afterRemoval.status, 200);
  assert.equal(afterRemoval.body, job);
  assert.is((await api('GET', `/jobs/${jobId}`, { token: (await makeCustomer()).token })).status, 404);

  const retry = await postHold(cafe.token, body, headers);
  assert.is(retry.status, 201, JSON.stringify(retry.body));
  assert.equal(retry.body, job.result);
  const asyncRetry = await postHold(cafe.token, body, { ...headers, ...ASYNC });
  assert.ok(asyncRetry.status === 201 || asyncRetry.status === 202, String(asyncRetry.status));
  if (asyncRetry.status === 201) assert.equal(asyncRetry.body, job.result);
  else assert.equal((await finishedJob(cafe.token, asyncRetry.body.job_id)).result, job.result);
  assert.is(await holdsOf(cafe.user.id), 1);
  assert.is(await availableUnits(cafe.slots[20].id, cafe.date), 1);
  await assertInventoryMatches(cafe.game.id);
});

test('a worker listens for job ends before it takes a job: the payment worker hears the first confirm it hands to a partition', async () => {
  await workers.stop();
  const subscribers = async () => Number(((await clientRedis().call('PUBSUB', 'NUMSUB', jobEndsChannel())) as [string, number])[1]);
  const before = await subscribers();
  await workers.start();
  assert.is(await subscribers(), before + 1, 'the new worker process subscribed by the time it said it started');
});

test.run();
