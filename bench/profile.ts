// `npx tsx bench/profile.ts`: where the cost of a hold is, for the queue path (issue 11).
//
// Runs one scenario of `npm run bench`'s queue row (default many keys: 200 games × 3 dates, random;
// BENCH_PROFILE_SCENARIO="hot slot" for one slot) against a private redis-server of its own (so
// INFO commandstats counts only this run) and a throw-away database, with a realtime process,
// BENCH_PROFILE_WORKERS (1) worker processes and one API process. Every child loads
// bench/instrument.cjs, which, over the measured window only, counts each process's SQL
// statements and Redis commands and records its CPU profile. It prints, per hold and per job:
// SQL statements (= round trips), Redis commands by name (BullMQ scripts by name), the Redis
// server's commandstats (commands run inside scripts included), CPU ms per process, and each
// profile's self time by module and its top functions. Profiles and counts stay in the printed
// directory (open a .cpuprofile in Chrome DevTools or speedscope).
//
// Knobs: BENCH_PROFILE_SCENARIO, BENCH_PROFILE_WORKERS, BENCH_CONCURRENCY (32), BENCH_WARMUP_MS
// (3000), BENCH_MEASURE_MS (8000), BOOKING_PARTITIONS (8), BENCH_LOG_LEVEL (warn).
import { existsSync, mkdtempSync, readFileSync } from 'fs';
import os from 'os';
import path from 'path';
import Redis from 'ioredis';
import { asAdmin, databaseUrlFor, freePort, testDefaults } from '../scripts/test-env';
import { startPrivateRedis } from '../test/helpers/private-redis';

async function admin(sql: string): Promise<void> {
  await asAdmin((client) => client.query(sql));
}

// ---- CPU profiles -------------------------------------------------------------------------

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The module a frame belongs to: an npm package, our src/ or bench/, node's internals, or V8. */
function moduleOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (!url) {
    if (/^\(.*\)$/.test(functionName)) return functionName;
    // Native socket writes: the syscall, and on a busy machine the time the writer sat preempted
    // by the process it just woke (the profiler samples wall time on the JS thread).
    if (/^(writev|writeBuffer|writeUtf8String|writeLatin1String|writeAsciiString)$/.test(functionName)) return 'socket writes (native)';
    if (/^(parse|stringify)$/.test(functionName)) return 'JSON (native)';
    return 'V8 builtins (other)';
  }
  if (url.startsWith('node:')) {
    const name = url.slice(5).replace(/^internal\//, '');
    if (/^(net|stream|streams|_stream|dns|tcp|tls)/.test(name)) return 'node: net/streams';
    if (/^http|_http/.test(name)) return 'node: http';
    return 'node: other internals';
  }
  const pkg = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (pkg) return pkg[1];
  if (url.includes('/src/')) return `our src/${url.split('/src/')[1].split('/')[0]}`;
  if (url.includes('/bench/')) return 'bench instrument';
  return url;
}

function frameName(frame: ProfileNode['callFrame']): string {
  const file = frame.url ? frame.url.replace(/^file:\/\//, '').replace(/.*node_modules\//, '').replace(/.*\/(src|bench)\//, '$1/') : '';
  return `${frame.functionName || '(anonymous)'}${file ? ` ${file}:${frame.lineNumber + 1}` : ''}`;
}

interface ProfileSummary {
  totalMs: number;
  byModule: Array<[string, number]>;
  /** Time with the module anywhere on the stack (for a module that calls others: its inclusive time). */
  inclusiveByModule: Map<string, number>;
  topSelf: Array<[string, number]>;
  inclusiveOf: (pattern: RegExp) => number;
}

function summarise(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfByNode = new Map<number, number>();
  profile.samples.forEach((id, i) => selfByNode.set(id, (selfByNode.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const byModule = new Map<string, number>();
  const bySelf = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const stacks = new Map<number, ProfileNode[]>();
  const stackOf = (id: number): ProfileNode[] => {
    let stack = stacks.get(id);
    if (!stack) {
      stack = [];
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) stack.push(byId.get(at)!);
      stacks.set(id, stack);
    }
    return stack;
  };
  let totalMs = 0;
  for (const [id, ms] of selfByNode) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') continue;
    totalMs += ms;
    byModule.set(moduleOf(frame), (byModule.get(moduleOf(frame)) ?? 0) + ms);
    bySelf.set(frameName(frame), (bySelf.get(frameName(frame)) ?? 0) + ms);
    for (const module of new Set(stackOf(id).map((n) => moduleOf(n.callFrame)))) inclusive.set(module, (inclusive.get(module) ?? 0) + ms);
  }
  const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]);
  return {
    totalMs,
    byModule: sorted(byModule),
    inclusiveByModule: inclusive,
    topSelf: sorted(bySelf).slice(0, 25),
    inclusiveOf: (pattern) => {
      let ms = 0;
      for (const [id, self] of selfByNode) {
        if (byId.get(id)!.callFrame.functionName === '(idle)') continue;
        if (stackOf(id).some((n) => pattern.test(n.callFrame.functionName))) ms += self;
      }
      return ms;
    },
  };
}

// ---- the run ------------------------------------------------------------------------------

async function main(): Promise<void> {
  const runId = `${Date.now().toString(36)}_${process.pid}`;
  const database = `hfg_prof_${runId}`;
  const redisServer = await startPrivateRedis();
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'hfg-profile-'));
  const scenario = process.env.BENCH_PROFILE_SCENARIO === 'hot slot' ? 'hot slot' : 'many keys';
  const workerCount = Number(process.env.BENCH_PROFILE_WORKERS ?? 1);
  Object.assign(process.env, {
    ...testDefaults,
    ...process.env,
    DATABASE_URL: databaseUrlFor(database),
    REDIS_URL: redisServer.url(),
    REDIS_KEY_PREFIX: `hfgprof-${runId}`,
    BOOKING_PARTITIONS: process.env.BOOKING_PARTITIONS ?? '8',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    BENCH_INSTRUMENT_DIR: outDir,
    BENCH_NODE_ARGS: `--require ${path.join(__dirname, 'instrument.cjs')}`,
  });
  await admin(`CREATE DATABASE ${database}`);
  const { killAllChildren, startChild, stopChild } = await import('./children');
  try {
    const { db } = await import('../src/db/knex');
    const { config } = await import('../src/config');
    const { signToken } = await import('../src/http/auth');
    const { bookingQueue } = await import('../src/jobs/booking');
    const { closeQueues } = await import('../src/jobs/queues');
    const { closeClientRedis } = await import('../src/jobs/connection');
    const { closedLoop, httpTarget, OK } = await import('./load');
    const { Gamers, makeFixtureSet } = await import('./setup');
    const { cpuMsByGroup, snapshot } = await import('./cpu');

    await db.migrate.latest();
    const set = await makeFixtureSet('prof', 200);
    const gamers = await Gamers.create(60_000);
    const roles = new Map<number, string>([[process.pid, 'load generator']]);
    const children: Array<{ role: string; child: ReturnType<typeof startChild> }> = [];
    const start = (entry: string, role: string, env: Record<string, string>) => {
      const child = startChild(entry, { HFG_PROCESS: role, ...env });
      roles.set(child.process.pid!, role);
      children.push({ role, child });
      return child;
    };
    const until = async (what: string, ready: () => Promise<boolean>) => {
      const deadline = Date.now() + 30_000;
      while (!(await ready().catch(() => false))) {
        const dead = children.find(({ child }) => child.process.exitCode !== null);
        if (dead) throw new Error(`${dead.role} died before ${what}:\n${dead.child.output()}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    const realtimePort = await freePort();
    start('src/realtime/server.ts', 'realtime', { REALTIME_PORT: String(realtimePort) });
    for (let i = 0; i < workerCount; i++) start('src/workers/main.ts', `worker-${i}`, {});
    const apiPort = await freePort();
    start('src/http/server.ts', 'api', { PORT: String(apiPort) });
    await until('realtime /health', async () => (await fetch(`http://127.0.0.1:${realtimePort}/health`)).status === 200);
    await until('api /health', async () => (await fetch(`http://127.0.0.1:${apiPort}/health`)).status === 200);
    await until('workers on every partition', async () => (await Promise.all(Array.from({ length: config.bookingPartitions },
      (_, p) => bookingQueue(p).getWorkersCount()))).every((n) => n >= workerCount));

    const phase = {
      concurrency: Number(process.env.BENCH_CONCURRENCY ?? 32),
      warmUpMs: Number(process.env.BENCH_WARMUP_MS ?? 3000),
      measureMs: Number(process.env.BENCH_MEASURE_MS ?? 8000),
    };
    const target = httpTarget(apiPort, phase.concurrency);
    const pick = scenario === 'hot slot' ? () => set.hotSlot : () => set.manyKeys[Math.floor(Math.random() * set.manyKeys.length)];
    const prepare = () => {
      const { gameId, bookDate, slotId } = pick();
      const userId = gamers.take();
      const token = signToken({ sub: userId, role: 'user' });
      const body = { slot_id: slotId, user_id: userId, game_id: gameId, book_date: bookDate };
      return async () => {
        const answer = await target.post('/bookings', token, body);
        return answer.status === 201 ? OK : `${answer.status}`;
      };
    };
    const stats = new Redis(redisServer.url());
    const commandstats = async () => {
      const calls = new Map<string, number>();
      for (const line of String(await stats.info('commandstats')).split('\n')) {
        const match = line.match(/^cmdstat_([^:]+):calls=(\d+)/);
        if (match) calls.set(match[1], Number(match[2]));
      }
      return calls;
    };
    const mark = async () => {
      for (const { child } of children) child.process.kill('SIGUSR2');
      return { cpu: snapshot(roles, database), redis: await commandstats() };
    };
    const at = (ms: number) => new Promise<Awaited<ReturnType<typeof mark>>>((resolve) => setTimeout(() => resolve(mark()), ms));
    const [opened, closed, result] = await Promise.all([at(phase.warmUpMs), at(phase.warmUpMs + phase.measureMs), closedLoop(prepare, phase)]);
    target.close();
    const holds = (result.perSecond * phase.measureMs) / 1000;
    const errors = [...result.errors].map(([what, n]) => `${n}× ${what}`).join(', ') || 'none';

    // Every child writes its counts and profile once the window closed.
    const files = children.map(({ role, child }) => path.join(outDir, `${role}-${child.process.pid}`));
    const deadline = Date.now() + 15_000;
    while (files.some((f) => !existsSync(`${f}.cpuprofile`)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    await Promise.all(children.map(({ child }) => stopChild(child)));
    stats.disconnect();

    const counts = children.map(({ role }, i) => ({ role, ...JSON.parse(readFileSync(`${files[i]}.json`, 'utf8')) as { sql: Record<string, number>; redis: Record<string, number> } }));
    const jobs = counts.filter((c) => c.role.startsWith('worker')).reduce((sum, c) => sum + (c.redis['script moveToFinished'] ?? 0), 0);
    const per = (n: number, d: number) => (d > 0 ? (n / d).toFixed(2) : '-');
    const sum = (record: Record<string, number>) => Object.values(record).reduce((a, b) => a + b, 0);

    console.log(`queue path profile: ${scenario}, ${phase.concurrency} in flight, ${workerCount} worker process(es), ${config.bookingPartitions} partitions,`
      + ` ${phase.measureMs / 1000} s measured after ${phase.warmUpMs / 1000} s warm-up; private redis-server on ${redisServer.port}`);
    console.log(`  ${result.perSecond.toFixed(0)} holds/s, p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, other answers: ${errors};`
      + ` ${holds} holds by ${jobs} hold jobs (moveToFinished calls) = ${per(holds, jobs)} holds per job`);

    console.log('\nCPU ms per hold (from /proc):');
    const cpu = cpuMsByGroup(opened.cpu, closed.cpu);
    const cpuTotal = [...cpu.values()].reduce((a, b) => a + b, 0);
    console.log(`  ${[...cpu].sort((a, b) => b[1] - a[1]).map(([group, ms]) => `${group} ${per(ms, holds)}`).join(', ')} → ${per(cpuTotal, holds)} ms`
      + ' (postgres: the shared server, other users\' work included)');

    console.log('\nSQL statements (each one round trip) per hold | per job, by process:');
    for (const c of counts) {
      const total = sum(c.sql);
      if (total === 0) continue;
      console.log(`  ${c.role}: ${per(total, holds)} per hold | ${per(total, jobs)} per job`);
      for (const [shape, n] of Object.entries(c.sql).slice(0, 14)) console.log(`    ${per(n, holds).padStart(6)} | ${per(n, jobs).padStart(6)}  ${shape}`);
    }
    console.log('\nRedis commands sent (client side) per hold | per job, by process:');
    for (const c of counts) {
      const total = sum(c.redis);
      if (total === 0) continue;
      console.log(`  ${c.role}: ${per(total, holds)} per hold | ${per(total, jobs)} per job`);
      for (const [name, n] of Object.entries(c.redis).slice(0, 14)) console.log(`    ${per(n, holds).padStart(6)} | ${per(n, jobs).padStart(6)}  ${name}`);
    }
    console.log('\nRedis server commandstats (private server: this run only; commands run inside Lua scripts included) per hold | per job:');
    const deltas = [...closed.redis].map(([name, n]) => [name, n - (opened.redis.get(name) ?? 0)] as [string, number]).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
    console.log(`  total ${per(deltas.reduce((a, [, n]) => a + n, 0), holds)} per hold | ${per(deltas.reduce((a, [, n]) => a + n, 0), jobs)} per job`);
    for (const [name, n] of deltas.slice(0, 20)) console.log(`    ${per(n, holds).padStart(6)} | ${per(n, jobs).padStart(6)}  ${name}`);

    console.log('\nCPU profiles (in-process sampling, the measured window): self time by module, ms per hold');
    for (const [i, { role }] of children.entries()) {
      const summary = summarise(JSON.parse(readFileSync(`${files[i]}.cpuprofile`, 'utf8')) as CpuProfile);
      console.log(`  ${role}: ${per(summary.totalMs, holds)} ms per hold sampled (idle excluded)`);
      console.log(`    self:      ${summary.byModule.slice(0, 14).map(([m, ms]) => `${m} ${per(ms, holds)}`).join(', ')}`);
      const inclusive = ['bullmq', 'ioredis', 'knex', 'pg', 'pg-protocol', 'pino', 'koa', 'ajv', 'socket.io', '@socket.io/redis-emitter', '@socket.io/redis-adapter', 'our src/db', 'our src/workers', 'our src/http', 'our src/jobs', 'our src/realtime']
        .filter((m) => (summary.inclusiveByModule.get(m) ?? 0) > 0)
        .map((m) => `${m} ${per(summary.inclusiveByModule.get(m)!, holds)}`);
      console.log(`    on stack:  ${inclusive.join(', ')}`);
      const named: Array<[string, RegExp]> = [
        ['processBookingJob', /^processBookingJob$/], ['runBookingTransaction', /^runBookingTransaction$/], ['relayAfterCommit/publishEvents', /^(relayAfterCommit|publishEvents|send)$/],
        ['BullMQ moveToFinished', /^moveToFinished$/], ['knex transaction', /^(transaction|_evaluateContainer)$/],
      ];
      console.log(`    functions: ${named.map(([label, pattern]) => `${label} ${per(summary.inclusiveOf(pattern), holds)}`).join(', ')} (inclusive)`);
      console.log('    top self time (ms per hold):');
      for (const [name, ms] of summary.topSelf.slice(0, 12)) console.log(`      ${per(ms, holds).padStart(6)}  ${name}`);
    }
    console.log(`\nprofiles and counts: ${outDir}`);
    await closeQueues();
    await closeClientRedis();
    await db.destroy();
  } finally {
    killAllChildren();
    await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch((error) => console.error(`could not drop ${database}: ${error.message}`));
    await redisServer.stop();
  }
}

main().then(() => process.exit(0), (error) => {
  console.error(error);
  process.exit(1);
});
