import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Answer, call, duplicateHolds, heldIds, inventoryMismatches, jobEnd, makeCafe, makeCustomers, ServiceProcess,
  startStack, until,
} from './stack';
import { connected, openSocket } from '../helpers/sockets';
import { WorkerProcess } from '../helpers/workers';

// SIGTERM drains every process (web, worker, realtime) within a bounded time: with requests in
// flight (some sent just as the signal arrives) and a job active (held at a row lock the test
// owns) each process finishes what it has and exits 0, and every in-flight request gets its
// answer; with Redis down or frozen, each still stops cleanly (exit 0) within the bound. Nothing
// accepted is lost: a fresh worker finishes whatever was still queued.

const Drain = suite('SIGTERM drains every process');

const DRAIN_BOUND_MS = 15_000;

async function stopAll(processes: Array<{ name: string; stop: () => Promise<{ code: number | null; ms: number }> }>) {
  return Promise.all(processes.map(async ({ name, stop }) => ({ name, ...(await stop()) })));
}

function workerStop(worker: WorkerProcess) {
  return async () => {
    const started = Date.now();
    const code = await worker.stop('SIGTERM');
    return { code, ms: Date.now() - started };
  };
}

function serviceStop(service: ServiceProcess) {
  return async () => {
    const { code, ms } = await service.stop('SIGTERM');
    return { code, ms };
  };
}

Drain('with requests in flight and a job active, every process drains and exits 0', async () => {
  const stack = await startStack();
  try {
    const workers = [stack.startWorker(), stack.startWorker()];
    const [web, realtime] = await Promise.all([stack.startWeb(), stack.startRealtime(), ...workers.map((w) => w.ready)]);
    const socket = await connected(openSocket(realtime.port));
    const cafe = await makeCafe(stack.db, { games: 4, capacity: 3, slots: 4 });
    const customers = await makeCustomers(stack.db, 20);

    // The first customer's row is locked here: the hold job for them stops mid-transaction, so a
    // worker is surely running a job when SIGTERM arrives.
    const gate = await stack.db.transaction();
    await gate('users').where('id', customers[0].user.id).forUpdate().first('id');
    let released = false;
    try {
      const inFlight: Array<Promise<{ token: string; answer: Answer }>> = customers.map(({ token }, i) => {
        const { game, slots } = cafe.games[i % cafe.games.length];
        const body = { slot_id: slots[Math.floor(i / cafe.games.length) % slots.length].id, game_id: game.id, book_date: cafe.date };
        return call(web.base, 'POST', '/bookings', { token, body, timeoutMs: 20_000 }).then((answer) => ({ token, answer }));
      });
      await until(async () => (await stack.db.raw(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      )).rows[0].n > 0, 'a hold job to wait on the gated row', 20_000, 50);

      // Requests sent just as the signal arrives: still in the listen backlog or unread by the
      // web process. Each is answered, none reset.
      const lastMoment = Array.from({ length: 30 }, () => call(web.base, 'GET', `/games/vendor/${cafe.vendor.id}`, { timeoutMs: 20_000 }));
      const stopping = stopAll([
        { name: 'web', stop: serviceStop(web) },
        { name: 'realtime', stop: serviceStop(realtime) },
        ...workers.map((w, i) => ({ name: `worker ${i}`, stop: workerStop(w) })),
      ]);
      // The active job finishes once its lock is free; the workers wait for it.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await gate.rollback();
      released = true;
      const stopped = await stopping;
      for (const s of stopped) {
        assert.is(s.code, 0, `${s.name} exited 0 on SIGTERM (${JSON.stringify(s)})`);
        assert.ok(s.ms < DRAIN_BOUND_MS, `${s.name} drained within ${DRAIN_BOUND_MS} ms (took ${s.ms} ms)`);
      }
      await until(async () => socket.disconnected, 'the realtime client to be disconnected', 5000);

      const lastAnswers = await Promise.all(lastMoment);
      assert.equal(lastAnswers.filter((a) => a.status !== 200), [], 'every request sent as SIGTERM arrived was answered');
      const answers = await Promise.all(inFlight);
      const odd = answers.filter(({ answer }) => ![201, 202, 409].includes(answer.status as number));
      assert.equal(odd.map((a) => a.answer), [], 'every request in flight got its answer');

      // A fresh worker and web process take whatever was still queued.
      const worker = stack.startWorker();
      const [again] = await Promise.all([stack.startWeb(), worker.ready]);
      const answered: number[] = [];
      for (const { token, answer } of answers) {
        if (answer.status === 201) answered.push(...heldIds(answer.body));
        if (answer.status !== 202) continue;
        const end = await jobEnd(again.base, answer.body.job_id, token, 30_000);
        assert.is(end.state, 'completed', JSON.stringify(end));
        answered.push(...heldIds(end.result));
      }
      answered.sort((a, b) => a - b);
      assert.equal((await stack.db('bookings').orderBy('id').pluck('id')) as number[], answered, 'the bookings are exactly the answered holds');
      assert.equal(await inventoryMismatches(stack.db), [], 'inventory matches the live bookings');
      assert.equal(await duplicateHolds(stack.db), [], 'no hold applied twice');
    } finally {
      socket.close();
      if (!released) await gate.rollback().catch(() => undefined);
    }
  } finally {
    await stack.close();
  }
});

for (const outage of ['down', 'frozen'] as const) {
  Drain(`with Redis ${outage}, no process hangs on SIGTERM`, async () => {
    const stack = await startStack();
    try {
      const worker = stack.startWorker();
      const [web, realtime] = await Promise.all([stack.startWeb(), stack.startRealtime(), worker.ready]);
      if (outage === 'down') await stack.redis.down();
      else stack.redis.freeze();
      // Let every process notice: a health check that needs Redis fails.
      await until(async () => (await call(web.base, 'GET', '/health', { timeoutMs: 5000 })).status === 503, 'web to see Redis gone', 10_000);
      const stopped = await stopAll([
        { name: 'web', stop: serviceStop(web) },
        { name: 'realtime', stop: serviceStop(realtime) },
        { name: 'worker', stop: workerStop(worker) },
      ]);
      console.log(`    Redis ${outage}: ${stopped.map((s) => `${s.name} exit ${s.code} in ${s.ms} ms`).join(', ')}`);
      for (const s of stopped) {
        assert.ok(s.ms < DRAIN_BOUND_MS, `${s.name} stopped within the bound with Redis ${outage} (took ${s.ms} ms, exit ${s.code})`);
        // Nothing was running: a clean stop, not the grace timer's exit 1 (nor the test's SIGKILL).
        assert.is(s.code, 0, `${s.name} exited 0 with Redis ${outage} (${JSON.stringify(s)})`);
      }
    } finally {
      stack.redis.thaw();
      await stack.close();
    }
  });
}

Drain.run();
