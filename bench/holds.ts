// `npm run bench`: holds per second and latency of POST /bookings (queue and workers) against the
// same booking transaction run bare from node-postgres and synchronously inside an API process,
// for many slot keys and for one hot slot; then, per path, a sell-out (four holds per unit of a
// small slot) and a check that no slot-day was oversold. Then the full path over HTTP, hold and
// then its wallet confirmation (POST /bookings/confirm, payment_mode "wallet") for gamers whose
// wallets the setup credited, in confirmations per second, with a check that every confirmed
// booking has its transaction and every wallet its ledger. Last, a short phase of its own measures
// commit→client event latency: from a hold job's commit in a worker (its BOOKING_TRACE_FILE line)
// to a socket.io client of the realtime process receiving the hold's slot_pending (bench/events.ts).
//
// The bare row is the minimal booking transaction on scratch tables (bench/minimal.ts), the bar's
// floor; the engine's applyHolds run bare is a second row; the queue rows run with 1 and then 2
// worker processes, and print the CPU each process spent per hold.
//
// Knobs (environment): BOOKING_PARTITIONS (8), BENCH_LOG_LEVEL (warn), BENCH_WORKERS (1: the
// event-latency phase's worker processes),
// BENCH_CONCURRENCY (32), BENCH_WARMUP_MS (2000), BENCH_MEASURE_MS (8000), BENCH_MAX_ATTEMPTS (2:
// a row disturbed by other programs is run again), BENCH_NODE_ARGS (node flags for the children),
// BENCH_EVENT_CONCURRENCY (16) and BENCH_EVENT_MS (3000) for the event-latency phase;
// BENCH_REDIS_CLUSTER=1 runs every row against a private 3-master Redis Cluster on loopback ports
// (test/helpers/private-cluster.ts, REDIS_CLUSTER_NODES for this process and its children) instead
// of REDIS_URL, torn down at the end.
//
// Self-contained: a throw-away database and Redis key prefix, dropped at the end (also on failure
// or Ctrl-C). The environment is set before any src module is imported, because src/config.ts
// reads it once at import time.
import Redis from 'ioredis';
import { asAdmin, databaseUrlFor, testDefaults } from '../scripts/test-env';
import { killAllChildren } from './children';
import { PrivateCluster, startPrivateCluster } from '../test/helpers/private-cluster';

async function admin(sql: string): Promise<void> {
  await asAdmin((client) => client.query(sql));
}

async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<number> {
  const runId = `${Date.now().toString(36)}_${process.pid}`;
  const database = `hfg_bench_${runId}`;
  const env: Record<string, string> = {
    ...testDefaults,
    ...(process.env as Record<string, string>),
    DATABASE_URL: databaseUrlFor(database),
    REDIS_KEY_PREFIX: `hfgbench-${runId}`,
    // Production defaults, unless the caller asks otherwise: they are what the bar is about.
    BOOKING_PARTITIONS: process.env.BOOKING_PARTITIONS ?? '8',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
  };
  const cluster: PrivateCluster | null = process.env.BENCH_REDIS_CLUSTER === '1' ? await startPrivateCluster() : null;
  if (cluster) env.REDIS_CLUSTER_NODES = cluster.nodes;
  Object.assign(process.env, env);

  // One clean-up, however many ways the run ends at once (Ctrl-C also makes the run itself fail).
  let cleaning: Promise<void> | null = null;
  const cleanUp = () => {
    cleaning ??= (async () => {
      killAllChildren();
      await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch((error) => console.error(`could not drop ${database}: ${error.message}`));
      if (cluster) await cluster.stop().catch((error) => console.error(`could not stop the private Redis Cluster: ${error.message}`));
      else await deleteRedisKeys(env.REDIS_URL, env.REDIS_KEY_PREFIX).catch((error) => console.error(`could not delete Redis keys: ${error.message}`));
    })();
    return cleaning;
  };
  let interrupted = false;
  const interrupt = (signal: string) => {
    interrupted = true;
    console.error(`\n${signal}: cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', () => interrupt('SIGINT'));
  process.once('SIGTERM', () => interrupt('SIGTERM'));

  await admin(`CREATE DATABASE ${database}`).catch(async (error) => {
    await cleanUp();
    throw error;
  });
  try {
    const { runBenchmark } = await import('./run');
    return await runBenchmark();
  } catch (error) {
    if (interrupted) return new Promise<number>(() => undefined); // the signal handler exits
    throw error;
  } finally {
    await cleanUp();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
