import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { config } from '../../src/config';
import { db } from '../../src/db/knex';
import { clientRedis } from '../../src/jobs/connection';
import { idempotentRequestId, requestHash } from '../../src/jobs/idempotency';
import { parseJobRef } from '../../src/jobs/job-ref';
import { queue } from '../../src/jobs/queues';
import { sweepExpiredHolds } from '../../src/workers/sweeper';
import { api } from '../helpers/api';
import { assertInventoryMatches, bookingCafe, bookingRow, eventually, holdOrFail, postHold, useWorkers } from '../helpers/bookings';

// Found by attacking the engine: a hold past its time still takes its unit until the sweeper
// releases it, so it still counts against the pending-hold limit; and every job id handed out for
// a request answers from the request ledger after BullMQ dropped the job. The workers' own sweeper
// is held off, so the test decides when holds are swept.

useWorkers(test, 1, { SWEEP_INTERVAL_MS: '3600000' });

test('expired holds not yet swept still count against the limit: never more than 12 pending holds', async () => {
  const cafe = await bookingCafe({ total_slots: 1 });
  const first = await holdOrFail(cafe, cafe.slots.slice(0, 12).map((s) => s.id));
  await db('bookings').whereIn('id', first).update({ hold_expires_at: new Date(Date.now() - 1000) });
  const refused = await postHold(cafe.token, { slot_id: cafe.slots.slice(12, 23).map((s) => s.id), user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date });
  assert.is(refused.status, 409, JSON.stringify(refused.body));
  assert.is(refused.body.code, 'hold_limit');
  assert.is(await sweepExpiredHolds(), 12);
  await eventually(async () => (await Promise.all(first.map(bookingRow))).every((b) => b!.status === 'verification_failed'), 'the sweep to release them');
  const second = await holdOrFail(cafe, cafe.slots.slice(12, 23).map((s) => s.id));
  assert.is(second.length, 11);
  assert.is(Number((await db('bookings').where({ user_id: cafe.user.id, status: 'pending_verified' }).count('* as n'))[0].n), 11);
  await assertInventoryMatches(cafe.game.id);
});

test('a keyed request submitted twice under one request id: both job ids answer from the ledger after BullMQ drops the jobs', async () => {
  const cafe = await bookingCafe();
  const key = `resubmitted-${Date.now()}`;
  const body = { slot_id: cafe.slots[2].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date };
  const requestId = idempotentRequestId(cafe.user.id, 'POST /bookings', key);
  const hash = requestHash({ userId: cafe.user.id, gameId: cafe.game.id, bookDate: cafe.date, slotIds: [cafe.slots[2].id] });
  // A web process claimed the key and died before it recorded the job it queued: the two retries
  // below both wait for the job, find none, and both submit under the one request id.
  await clientRedis().set(`${config.redisKeyPrefix}:idempotency:${requestId}`, `${hash}|`, 'EX', 600);
  const headers = { 'Idempotency-Key': key, Prefer: 'respond-async' };
  const [a, b] = await Promise.all([postHold(cafe.token, body, headers), postHold(cafe.token, body, headers)]);
  assert.is(a.status, 202, JSON.stringify(a.body));
  assert.is(b.status, 202, JSON.stringify(b.body));
  const settled = (jobId: string) => eventually(async () => {
    const answer = await api('GET', `/jobs/${jobId}`, { token: cafe.token });
    return answer.body?.state === 'completed' ? answer.body : undefined;
  }, `job ${jobId}`, 10000);
  const [first, second] = [await settled(a.body.job_id), await settled(b.body.job_id)];
  assert.is(first.status, 201);
  assert.equal(second.result, first.result);
  assert.is(Number((await db('bookings').where({ user_id: cafe.user.id }).count('* as n'))[0].n), 1, 'one hold');
  const row = await db('request_ledger').where({ id: requestId }).first('job_ids');
  assert.equal([...row.job_ids].sort(), [...new Set([a.body.job_id, b.body.job_id])].sort());
  for (const jobId of new Set([a.body.job_id, b.body.job_id])) {
    const ref = parseJobRef(jobId)!;
    await queue(ref.queueName).remove(ref.jobId);
  }
  for (const jobId of [a.body.job_id, b.body.job_id]) {
    const answer = await api('GET', `/jobs/${jobId}`, { token: cafe.token });
    assert.is(answer.status, 200, jobId);
    assert.equal(answer.body, { job_id: jobId, state: 'completed', status: 201, result: first.result });
  }
  await assertInventoryMatches(cafe.game.id);
});

test('a different body under a used key once its Redis claim is gone: 409 duplicate, never the first answer; the first body still replays', async () => {
  const cafe = await bookingCafe();
  const key = `claim-gone-${Date.now()}`;
  const body1 = { slot_id: cafe.slots[2].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date };
  const body2 = { ...body1, slot_id: cafe.slots[5].id };
  const first = await postHold(cafe.token, body1, { 'Idempotency-Key': key });
  assert.is(first.status, 201, JSON.stringify(first.body));
  // The claim lives a day in Redis (or Redis lost its data); the ledger row lives a week.
  const claimKey = `${config.redisKeyPrefix}:idempotency:${idempotentRequestId(cafe.user.id, 'POST /bookings', key)}`;
  for (const attempt of [1, 2]) {
    await clientRedis().del(claimKey);
    const other = await postHold(cafe.token, body2, { 'Idempotency-Key': key, Prefer: 'respond-async' });
    assert.is(other.status, 409, `attempt ${attempt}: ${JSON.stringify(other.body)}`);
    assert.is(other.body.code, 'duplicate');
    const again = await postHold(cafe.token, body1, { 'Idempotency-Key': key });
    assert.equal([again.status, again.body], [201, first.body], `attempt ${attempt}`);
  }
  assert.is(Number((await db('bookings').where({ user_id: cafe.user.id }).count('* as n'))[0].n), 1, 'one hold');
  await assertInventoryMatches(cafe.game.id);
});

test('the original body retried while another body is being refused still gets its first answer', async () => {
  const cafe = await bookingCafe({ total_slots: 3 });
  const key = `window-${Date.now()}`;
  const bodyX = { slot_id: cafe.slots[5].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date };
  const bodyY = { ...bodyX, slot_id: cafe.slots[6].id };
  const first = await postHold(cafe.token, bodyX, { 'Idempotency-Key': key });
  assert.is(first.status, 201, JSON.stringify(first.body));
  const claimKey = `${config.redisKeyPrefix}:idempotency:${idempotentRequestId(cafe.user.id, 'POST /bookings', key)}`;
  for (let round = 0; round < 10; round++) {
    await clientRedis().del(claimKey); // the claim lapsed; the ledger row remains
    const [other, original] = await Promise.all([
      postHold(cafe.token, bodyY, { 'Idempotency-Key': key }),
      postHold(cafe.token, bodyX, { 'Idempotency-Key': key }),
    ]);
    assert.equal([other.status, other.body.code], [409, 'duplicate'], `round ${round}`);
    assert.equal([original.status, original.body], [201, first.body], `round ${round}`);
  }
  assert.is(Number((await db('bookings').where({ user_id: cafe.user.id }).count('* as n'))[0].n), 1, 'one hold');
});

test.run();
