import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { partitionOf, slotKey } from '../../src/domain/slot-key';
import { call, jobEnd, makeCafe, makeCustomers, startClusterStack } from '../failures/stack';
import { clusterOk, ownerOfKey, sleep, stopMaster } from './tools';

// Found by an attack on the first cluster support, now fixed; checks (SPEC §3 "503 unavailable when ... Redis is down", §2 cluster): one master of the private
// 3-master cluster (no replicas) goes away. Are writes answered 503 within a bound (not hung), what
// does /health say, and do the workers take jobs again once the master is back?

const Attack = suite('cluster: one cluster master down');
const PREFIX = 'hfgatk3d';
const PARTITIONS = 8;

Attack('writes while a master is down, /health, and recovery', async () => {
  const stack = await startClusterStack({ env: { REDIS_KEY_PREFIX: PREFIX, BOOKING_PARTITIONS: String(PARTITIONS) } });
  try {
    const worker = stack.startWorker();
    const [web] = await Promise.all([stack.startWeb(), worker.ready]);
    const cafe = await makeCafe(stack.db, { games: 8, capacity: 50, slots: 1 });
    const customers = await makeCustomers(stack.db, 12);
    const ports = stack.cluster.ports;
    const placed = await Promise.all(cafe.games.map(async ({ game, slots }) => {
      const p = partitionOf(slotKey(game.id, cafe.date), PARTITIONS);
      return { game, slot: slots[0], p, port: await ownerOfKey(ports[0], `{${PREFIX}:booking-${p}}`) };
    }));
    const victim = placed[0].port;
    const onDead = placed.find((g) => g.port === victim)!;
    const onLive = placed.find((g) => g.port !== victim)!;
    let c = 0;
    const hold = async (g: typeof onDead) => {
      const customer = customers[c++ % customers.length];
      const a = await call(web.base, 'POST', '/bookings', { token: customer.token, body: { slot_id: g.slot.id, game_id: g.game.id, book_date: cafe.date }, timeoutMs: 15_000 });
      return `${a.status}${a.body?.code ? `/${a.body.code}` : ''} in ${a.ms} ms`;
    };
    const health = async () => { const h = await call(web.base, 'GET', '/health', { timeoutMs: 10_000 }); return `${h.status} ${JSON.stringify(h.body)} in ${h.ms} ms`; };
    console.log(`    before: dead-key hold ${await hold(onDead)}; live-key hold ${await hold(onLive)}; health ${await health()}`);

    const down = await stopMaster(victim);
    const stoppedAt = Date.now();
    const early = { dead: await hold(onDead), live: await hold(onLive), health: await health() };
    console.log(`    master ${victim} down ${Date.now() - stoppedAt} ms: dead-key hold ${early.dead}; live-key hold ${early.live}; health ${early.health}`);
    await sleep(Math.max(0, 8000 - (Date.now() - stoppedAt)));
    const late = { dead: await hold(onDead), live: await hold(onLive), health: await health() };
    console.log(`    master ${victim} down ${Date.now() - stoppedAt} ms (cluster state fail): dead-key hold ${late.dead}; live-key hold ${late.live}; health ${late.health}`);

    await down.start();
    await clusterOk(ports);
    const backAt = Date.now();
    let firstOk = -1;
    let last = '';
    while (Date.now() - backAt < 30_000) {
      const customer = customers[c++ % customers.length];
      const a = await call(web.base, 'POST', '/bookings', { token: customer.token, body: { slot_id: onDead.slot.id, game_id: onDead.game.id, book_date: cafe.date }, timeoutMs: 15_000 });
      let status = a.status;
      if (status === 202) status = (await jobEnd(web.base, a.body.job_id, customer.token, 20_000).catch(() => ({ status: 'never' }))).status;
      last = `${status} ${JSON.stringify(a.body?.code ?? '')}`;
      if (status === 201) { firstOk = Date.now() - backAt; break; }
      await sleep(250);
    }
    console.log(`    master back: first 201 on the dead node's partition after ${firstOk} ms (last: ${last}); health ${await health()}`);
    const unhandled = web.output().split('\n').filter((line) => line.includes('unhandled error')).map((line) => { try { const j = JSON.parse(line); return `${j.err?.type}: ${j.err?.message}`; } catch { return line.slice(0, 300); } });
    console.log(`    web 'unhandled error' log lines (500 answers): ${JSON.stringify([...new Set(unhandled)])}`);
    assert.is(worker.child.exitCode, null, 'worker still running');
    assert.ok(!late.dead.startsWith('500') && !late.live.startsWith('500'), `a write during CLUSTERDOWN answered 500, not 503: dead-key ${late.dead}, live-key ${late.live}`);
    for (const line of [early.dead, early.live, late.dead, late.live]) assert.ok(!line.startsWith('timeout') && Number(line.split(' in ')[1].split(' ')[0]) < 10_000, `bounded: ${line}`);
    assert.ok(firstOk >= 0, 'workers recovered');
    assert.ok(!late.health.startsWith('200'), `/health says 200 while the cluster refuses every write: ${late.health}`);
  } finally {
    await stack.close();
  }
});

Attack.run();
