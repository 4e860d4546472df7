import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Answer, call, duplicateHolds, heldIds, inventoryMismatches, jobEnd, makeCafe, makeCustomers, startStack, until,
} from './stack';

// PostgreSQL goes away under load and comes back: several clients keep sending holds (half of them
// waiting for their answer, half accepted and queued with `Prefer: respond-async`) through a web
// process and two workers while the private PostgreSQL is stopped (`pg_ctl stop -m fast` ends
// every session, transactions in flight included), stays down for about two seconds, and starts
// again on the same port and data directory. Every request gets an answer — a hold, a full slot,
// a 202 or a 503, never a 500 or a hang; every hold that was answered 201, or accepted with 202,
// exists exactly once; nothing else was booked; the inventory equals capacity minus the live
// bookings; and new holds go through once PostgreSQL is back.

const Restart = suite('PostgreSQL restarts under load');

const CLIENTS = 6;
const OUTAGE_MS = 2000;

interface Sent { token: string; answer: Answer; phase: 'before' | 'outage' | 'after' }

Restart('holds in flight from several clients ride out a PostgreSQL stop and start', async () => {
  const stack = await startStack();
  try {
    const workers = [stack.startWorker(), stack.startWorker()];
    const [web] = await Promise.all([stack.startWeb(), ...workers.map((w) => w.ready)]);
    // 6 games x 8 slots x 4 units: room for every hold the test sends to be decided either way.
    const cafe = await makeCafe(stack.db, { games: 6, capacity: 4, slots: 8 });
    const customers = await makeCustomers(stack.db, 60);

    const sent: Sent[] = [];
    let phase: Sent['phase'] = 'before';
    let next = 0;
    let stopping = false;
    const client = async (clientIndex: number) => {
      while (!stopping) {
        const i = next++;
        const { game, slots } = cafe.games[i % cafe.games.length];
        const { token } = customers[i % customers.length];
        const body = { slot_id: slots[Math.floor(i / cafe.games.length) % slots.length].id, game_id: game.id, book_date: cafe.date };
        const headers: Record<string, string> = clientIndex % 2 ? { Prefer: 'respond-async' } : {};
        const sentIn = phase;
        // Bounded, as a "did not hang" check: a hold waits SYNC_WAIT_MS (5 s) at most before its 202.
        const answer = await call(web.base, 'POST', '/bookings', { token, body, headers, timeoutMs: 20_000 });
        sent.push({ token, answer, phase: sentIn === 'before' && phase !== 'before' ? 'outage' : sentIn });
        if (answer.status === 503) await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    const clients = Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
    try {
      await until(async () => sent.length >= 24, 'two dozen holds before the stop', 30_000, 20);
      phase = 'outage';
      await stack.pg.down('fast');
      await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
      await stack.pg.up();
      phase = 'after';
      await until(async () => sent.filter((s) => s.phase === 'after' && s.answer.status === 201).length >= 8,
        'holds to succeed again after the restart', 45_000, 50);
    } finally {
      stopping = true;
      await clients;
    }

    const counts: Record<string, Record<string, number>> = {};
    for (const { answer, phase: sentIn } of sent) {
      counts[sentIn] ??= {};
      counts[sentIn][answer.status] = (counts[sentIn][answer.status] ?? 0) + 1;
    }
    console.log(`    postgres stop/start: ${sent.length} holds sent, answers by phase ${JSON.stringify(counts)}`);

    const odd = sent.filter(({ answer }) => ![201, 202, 409, 503].includes(answer.status as number)
      || (answer.status === 409 && !['slot_unavailable', 'hold_limit'].includes(answer.body?.code))
      || (answer.status === 503 && answer.body?.code !== 'unavailable'));
    assert.equal(odd.map((s) => ({ phase: s.phase, ...s.answer })), [], 'every answer is a hold, a full slot, a 202 or a 503 — never a 500 or a hang');
    assert.ok(sent.some((s) => s.phase === 'outage'), 'some holds were in flight while PostgreSQL was down');

    const answered: number[] = [];
    const lost: unknown[] = [];
    for (const { token, answer, phase: sentIn } of sent) {
      if (answer.status === 201) answered.push(...heldIds(answer.body));
      if (answer.status !== 202) continue;
      const end = await jobEnd(web.base, answer.body.job_id, token, 60_000);
      if (end.state !== 'completed' || (end.status !== 201 && end.status !== 409)) lost.push({ phase: sentIn, ...end });
      answered.push(...heldIds(end.result));
    }
    assert.equal(lost, [], 'every hold accepted with 202 was decided (held, or refused as full), none failed');
    answered.sort((a, b) => a - b);
    assert.is(new Set(answered).size, answered.length, 'no booking was named by two answers');
    const stored = (await stack.db('bookings').orderBy('id').pluck('id')) as number[];
    assert.equal(stored, answered, 'the bookings in the database are exactly the answered holds, each once (no 503 left one behind)');
    assert.equal(await inventoryMismatches(stack.db), [], 'inventory equals capacity minus pending and confirmed bookings');
    assert.equal(await duplicateHolds(stack.db), [], 'no hold applied twice');
    for (const w of workers) assert.is(w.child.exitCode, null, 'the workers rode out the restart');
    assert.is(web.child.exitCode, null, 'the web process rode out the restart');
  } finally {
    await stack.close();
  }
});

Restart('while PostgreSQL is down, what needs it answers 503 well within SYNC_WAIT_MS; health at once', async () => {
  const stack = await startStack();
  try {
    const [web, realtime] = await Promise.all([stack.startWeb(), stack.startRealtime()]);
    const cafe = await makeCafe(stack.db, { games: 1, capacity: 2, slots: 2 });
    assert.is((await call(web.base, 'GET', `/games/vendor/${cafe.vendor.id}`)).status, 200);
    await stack.pg.down('fast');
    try {
      const [catalog, health, realtimeHealth] = await Promise.all([
        call(web.base, 'GET', `/games/vendor/${cafe.vendor.id}`, { timeoutMs: 20_000 }),
        call(web.base, 'GET', '/health', { timeoutMs: 20_000 }),
        call(realtime.base, 'GET', '/health', { timeoutMs: 20_000 }),
      ]);
      assert.equal([catalog.status, catalog.body?.code], [503, 'unavailable'], JSON.stringify(catalog));
      // The pool keeps trying a refusing server for a while (a restart is short), but a request
      // must not wait longer than a job-backed one would (SYNC_WAIT_MS, 5 s) for its answer.
      assert.ok(catalog.ms < 5000, `a read that needs PostgreSQL answered in ${catalog.ms} ms`);
      assert.equal([health.status, health.body?.db], [503, 'down'], JSON.stringify(health));
      assert.equal([realtimeHealth.status, realtimeHealth.body?.db], [503, 'down'], JSON.stringify(realtimeHealth));
      assert.ok(health.ms < 2500 && realtimeHealth.ms < 2500, `health answered in ${health.ms} / ${realtimeHealth.ms} ms`);
    } finally {
      await stack.pg.up();
    }
    await until(async () => (await call(web.base, 'GET', `/games/vendor/${cafe.vendor.id}`)).status === 200, 'the catalog to answer again');
  } finally {
    await stack.close();
  }
});

Restart.run();
