// `npm test`: creates a throw-away database and Redis key prefix, proves the migrations run up,
// down and up again, runs every uvu suite under test/ in a child process, then drops it all.
// `npm test -- catalog` runs only test files whose path contains "catalog".
import { spawnSync } from 'child_process';
import { Client } from 'pg';
import Redis from 'ioredis';
import path from 'path';
import { adminDatabaseUrl, asAdmin as admin, databaseUrlFor, testDefaults } from './test-env';

/** Why PostgreSQL at `url` does not answer, or null when it does. */
async function postgresProblem(url: string): Promise<string | null> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return (error as Error).message || String((error as NodeJS.ErrnoException).code ?? error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Why Redis at `url` does not answer PING, or null when it does. */
async function redisProblem(url: string): Promise<string | null> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  // connect() itself only says "Connection is closed."; the socket's error says why.
  let cause: Error | null = null;
  redis.on('error', (error) => (cause ??= error));
  try {
    await redis.connect();
    await redis.ping();
    return null;
  } catch (error) {
    return (cause ?? (error as Error)).message;
  } finally {
    redis.disconnect();
  }
}

function hostAndPort(url: string, defaultPort: number): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname || '127.0.0.1', port: Number(parsed.port) || defaultPort };
}

/** The servers the tests need, each with how to start it when it does not answer; '' when both do. */
async function missingServers(redisUrl: string): Promise<string> {
  const [postgres, redis] = await Promise.all([postgresProblem(adminDatabaseUrl), redisProblem(redisUrl)]);
  const lines: string[] = [];
  if (postgres) {
    const { host, port } = hostAndPort(adminDatabaseUrl, 5432);
    lines.push(
      `PostgreSQL does not answer at ${host}:${port} (${process.env.TEST_DATABASE_ADMIN_URL ? 'TEST_DATABASE_ADMIN_URL' : 'the default'}): ${postgres}`,
      '  Start it, on Debian or Ubuntu: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
      '  (elsewhere as your system does, e.g. brew services start postgresql), or point TEST_DATABASE_ADMIN_URL at a',
      '  server whose user may create databases, e.g. postgres://postgres@127.0.0.1:5432/postgres.',
    );
  }
  if (redis) {
    const { host, port } = hostAndPort(redisUrl, 6379);
    lines.push(
      `Redis does not answer at ${host}:${port} (${process.env.REDIS_URL ? 'REDIS_URL' : 'the default'}): ${redis}`,
      `  Start it: redis-server --daemonize yes --bind 127.0.0.1 --port ${port} --save "" --appendonly no`,
      '  (install it with apt-get install redis-server or brew install redis), or point REDIS_URL at a running Redis.',
    );
  }
  return lines.length ? ['npm test needs PostgreSQL and Redis.', ...lines].join('\n') : '';
}

function run(args: string[], env: NodeJS.ProcessEnv): number {
  const result = spawnSync(process.execPath, ['--import', 'tsx', ...args], { stdio: 'inherit', env });
  return result.status ?? 1;
}

async function main(): Promise<number> {
  const runId = `${Date.now().toString(36)}_${process.pid}`;
  const database = `hfg_test_${runId}`;
  const env: NodeJS.ProcessEnv = {
    ...testDefaults,
    ...process.env,
    DATABASE_URL: databaseUrlFor(database),
    REDIS_KEY_PREFIX: `hfgtest-${runId}`,
  };
  const missing = await missingServers(env.REDIS_URL!);
  if (missing) {
    console.error(missing);
    return 1;
  }
  await admin((client) => client.query(`CREATE DATABASE ${database}`));
  try {
    const migrate = path.join(__dirname, 'migrate.ts');
    if (run([migrate], env) || run([migrate, '--down'], env) || run([migrate], env)) {
      console.error('migrations failed (up, down, up)');
      return 1;
    }
    return run([path.join(__dirname, 'run-suites.ts'), ...process.argv.slice(2)], env);
  } finally {
    await admin((client) => client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
    await deleteKeys(env, `*${env.REDIS_KEY_PREFIX}*`);
  }
}

/**
 * Deletes the run's keys. On a Redis Cluster (REDIS_CLUSTER_NODES) a SCAN sees one node's keys, so
 * every master is scanned, and the keys of one DEL must share a slot: one DEL per key there.
 */
async function deleteKeys(env: NodeJS.ProcessEnv, pattern: string): Promise<void> {
  const nodes = env.REDIS_CLUSTER_NODES?.trim();
  const client = nodes
    ? new Redis.Cluster(nodes.split(',').map((node) => ({ host: node.slice(0, node.lastIndexOf(':')).replace(/^\[|\]$/g, ''), port: Number(node.slice(node.lastIndexOf(':') + 1)) })))
    : new Redis(env.REDIS_URL!);
  try {
    const servers = client instanceof Redis.Cluster ? client.nodes('master') : [client];
    for (const server of servers) {
      let cursor = '0';
      do {
        const [next, keys] = await server.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        if (keys.length && nodes) await Promise.all(keys.map((key) => server.del(key)));
        else if (keys.length) await server.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    }
    await client.quit();
  } finally {
    client.disconnect();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
