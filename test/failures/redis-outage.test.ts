import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Answer, call, duplicateHolds, heldIds, inventoryMismatches, jobEnd, makeCafe, makeCustomers, PrivateCafe,
  ServiceProcess, Stack, startStack, until,
} from './stack';
import { WorkerProcess } from '../helpers/workers';

// Redis goes away under a running service (a web process and two workers on a private
// redis-server) and comes back: meanwhile a write answers 503 JSON within a few seconds and never
// hangs, a read that needs only PostgreSQL still answers; afterwards new writes go through, the
// workers take jobs again, and every hold accepted before the outage (201, or 202 and queued)
// exists in the database with the inventory in agreement, as does every hold that was in flight
// as Redis went away and was answered 201 or 202 (the others answer 503, never 500 or a hang).
// Two ways to lose Redis: the server stops (its connections close; it comes back from its
// append-only file) and the server freezes (SIGSTOP: connections stay open and nothing answers,
// as with a hung host or a partition). Workers killed with jobs active: test/bookings/crash.test.ts.

const Outage = suite('Redis stops and comes back');

let stack: Stack;
let web: ServiceProcess;
let realtime: ServiceProcess;
let workers: WorkerProcess[] = [];
let cafe: PrivateCafe;
let customers: Awaited<ReturnType<typeof makeCustomers>>;
let nextRequest = 0;

Outage.before(async () => {
  stack = await startStack({ persistentRedis: true });
  workers = [stack.startWorker(), stack.startWorker()];
  [web, realtime] = await Promise.all([stack.startWeb(), stack.startRealtime(), ...workers.map((w) => w.ready)]);
  // Capacity to spare: every write accepted while Redis was frozen runs once it thaws.
  cafe = await makeCafe(stack.db, { games: 4, capacity: 6, slots: 8 });
  customers = await makeCustomers(stack.db, 60);
});

Outage.after(async () => {
  await stack?.close();
});

/** A hold on a (game, slot) not asked for before, by a customer of its own. */
function nextHold() {
  const i = nextRequest++;
  const { game, slots } = cafe.games[i % cafe.games.length];
  const customer = customers[i % customers.length];
  const slot = slots[Math.floor(i / cafe.games.length) % slots.length];
  return { customer, body: { slot_id: slot.id, game_id: game.id, book_date: cafe.date } };
}

interface Accepted { token: string; answer: Answer }

async function holdsBeforeOutage(count: number): Promise<Accepted[]> {
  const accepted: Accepted[] = [];
  await Promise.all(Array.from({ length: count }, async (_, i) => {
    const { customer, body } = nextHold();
    // Half wait for their answer, half are accepted and queued (202).
    const answer = await call(web.base, 'POST', '/bookings', { token: customer.token, body, headers: i % 2 ? { Prefer: 'respond-async' } : {} });
    assert.ok(answer.status === 201 || answer.status === 202, `before the outage: ${JSON.stringify(answer)}`);
    accepted.push({ token: customer.token, answer });
  }));
  return accepted;
}

/**
 * Holds sent as Redis goes away: each is answered (201, 202 or a 503 JSON) within a bound, never
 * a 500 or a hang, and whatever was accepted joins `accepted`, to be found after the outage.
 */
async function holdsAsOutageStarts(count: number, startOutage: () => Promise<void> | void, accepted: Accepted[]): Promise<void> {
  const inFlight = Array.from({ length: count }, (_, i) => {
    const { customer, body } = nextHold();
    const headers: Record<string, string> = i % 2 ? { Prefer: 'respond-async' } : {};
    return call(web.base, 'POST', '/bookings', { token: customer.token, body, headers, timeoutMs: 15_000 })
      .then((answer) => ({ token: customer.token, answer }));
  });
  await startOutage();
  const answers = await Promise.all(inFlight);
  console.log(`    holds in flight as Redis went away: ${JSON.stringify(answers.map((a) => a.answer.status))}`);
  for (const { token, answer } of answers) {
    assert.ok(answer.status === 201 || answer.status === 202 || (answer.status === 503 && answer.body?.code === 'unavailable'),
      `a hold in flight as Redis went away: ${JSON.stringify(answer)}`);
    if (answer.status !== 503) accepted.push({ token, answer });
  }
}

/**
 * What the service does while Redis is gone: bounded answers, PostgreSQL reads as usual. A Redis
 * that is down refuses writes with 503 at once. A frozen one has taken the job's add without
 * answering it and runs it when it thaws, so a write is accepted (202, to poll; never a 503 that
 * the app's retry would turn into a second hold) and must be found after the outage.
 */
async function duringOutage(bookingToRead: { id: number; token: string }, redis: 'down' | 'frozen', accepted: Accepted[]): Promise<void> {
  const writes = await Promise.all(Array.from({ length: 6 }, () => {
    const { customer, body } = nextHold();
    return call(web.base, 'POST', '/bookings', { token: customer.token, body, timeoutMs: 12_000 }).then((answer) => ({ token: customer.token, answer }));
  }));
  for (const { token, answer: write } of writes) {
    if (redis === 'down') {
      assert.is(write.status, 503, `a write while Redis is down answers 503: ${JSON.stringify(write)}`);
      assert.is(write.body?.code, 'unavailable', JSON.stringify(write));
    } else {
      assert.is(write.status, 202, `a write while Redis is frozen is accepted, to poll: ${JSON.stringify(write)}`);
      accepted.push({ token, answer: write });
    }
    assert.ok(write.ms < 10_000, `a write while Redis is ${redis} answers within 10 s (took ${write.ms} ms)`);
  }
  const games = await call(web.base, 'GET', `/games/vendor/${cafe.vendor.id}`, { timeoutMs: 5000 });
  assert.is(games.status, 200, `the catalog (PostgreSQL only) still answers: ${JSON.stringify(games)}`);
  const booking = await call(web.base, 'GET', `/bookings/${bookingToRead.id}`, { token: bookingToRead.token, timeoutMs: 5000 });
  assert.is(booking.status, 200, `a booking (PostgreSQL only) still answers: ${JSON.stringify(booking)}`);
  const health = await call(web.base, 'GET', '/health', { timeoutMs: 5000 });
  assert.is(health.status, 503, JSON.stringify(health));
  assert.is(health.body?.redis, 'down', JSON.stringify(health));
  // The realtime process's connections retry forever: its /health still answers, and says why.
  const realtimeHealth = await call(realtime.base, 'GET', '/health', { timeoutMs: 5000 });
  assert.equal([realtimeHealth.status, realtimeHealth.body?.redis, realtimeHealth.body?.db], [503, 'down', 'ok'], JSON.stringify(realtimeHealth));
}

/** After Redis is back: new writes succeed (a worker ran them), every accepted hold is in the database. */
async function afterOutage(accepted: Accepted[]): Promise<void> {
  const fresh = await until(async () => {
    const { customer, body } = nextHold();
    const answer = await call(web.base, 'POST', '/bookings', { token: customer.token, body, timeoutMs: 8000 });
    assert.ok(answer.status !== 'timeout' && answer.status !== 500, `after the outage: ${JSON.stringify(answer)}`);
    return answer.status === 201 ? answer : undefined;
  }, 'a new hold to succeed once Redis is back', 30_000, 250);
  assert.is(heldIds(fresh.body).length, 1);

  const answered: number[] = [];
  for (const { token, answer } of accepted) {
    if (answer.status === 201) {
      answered.push(...heldIds(answer.body));
      continue;
    }
    const end = await jobEnd(web.base, answer.body.job_id, token, 30_000);
    assert.is(end.state, 'completed', JSON.stringify(end));
    assert.is(end.status, 201, `a hold accepted before the outage was applied: ${JSON.stringify(end)}`);
    answered.push(...heldIds(end.result));
  }
  assert.is(answered.length, accepted.length, 'every accepted hold names its booking');
  const stored = await stack.db('bookings').whereIn('id', answered).where('status', 'pending_verified').pluck('id');
  assert.is(stored.length, answered.length, 'every accepted hold is a live booking in the database');
  assert.equal(await inventoryMismatches(stack.db), [], 'inventory matches the live bookings');
  assert.equal(await duplicateHolds(stack.db), [], 'no hold applied twice');
  for (const w of workers) assert.is(w.child.exitCode, null, 'the workers rode out the outage');
  assert.is(realtime.child.exitCode, null, 'the realtime process rode out the outage');
  await until(async () => (await call(realtime.base, 'GET', '/health', { timeoutMs: 5000 })).status === 200, 'realtime /health to be ok again');
  assert.is(web.child.exitCode, null, 'the web process rode out the outage');
}

async function firstBooking(accepted: Accepted[]): Promise<{ id: number; token: string }> {
  const held = accepted.find((a) => a.answer.status === 201);
  if (held) return { id: heldIds(held.answer.body)[0], token: held.token };
  const end = await jobEnd(web.base, accepted[0].answer.body.job_id, accepted[0].token);
  return { id: heldIds(end.result)[0], token: accepted[0].token };
}

Outage('the server stops (connections close) and comes back with its data', async () => {
  const accepted = await holdsBeforeOutage(16);
  const toRead = await firstBooking(accepted);
  await holdsAsOutageStarts(12, () => stack.redis.down(), accepted);
  await duringOutage(toRead, 'down', accepted);
  await stack.redis.up();
  await afterOutage(accepted);
});

Outage('the server freezes (SIGSTOP: connections stay open, nothing answers) and thaws', async () => {
  const accepted = await holdsBeforeOutage(16);
  const toRead = await firstBooking(accepted);
  try {
    await holdsAsOutageStarts(12, () => stack.redis.freeze(), accepted);
    await duringOutage(toRead, 'frozen', accepted);
  } finally {
    stack.redis.thaw();
  }
  await afterOutage(accepted);
});

Outage.run();
