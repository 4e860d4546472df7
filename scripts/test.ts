// `npm test`: creates a throw-away database and Redis key prefix, proves the migrations run up,
// down and up again, runs every uvu suite under test/ in a child process, then drops it all.
// `npm test -- catalog` runs only test files whose path contains "catalog".
import { spawnSync } from 'child_process';
import { Client } from 'pg';
import Redis from 'ioredis';
import path from 'path';
import { adminDatabaseUrl, databaseUrlFor, testDefaults } from './test-env';

async function admin<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminDatabaseUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
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
    const redis = new Redis(env.REDIS_URL!);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${env.REDIS_KEY_PREFIX}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    await redis.quit();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
