// `npm test` when PostgreSQL or Redis does not answer: it names the missing server and how to start
// it, without a stack trace, and exits non-zero. The servers are "missing" by pointing at ports
// nothing listens on; the real ones are never touched.
import path from 'path';
import { spawn } from 'child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort } from '../../scripts/test-env';

const ROOT = path.join(__dirname, '..', '..');

function runTestCommand(env: Record<string, string>): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', 'test.ts'), 'no-such-test-file'], {
      cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, output });
    });
  });
}

test('npm test without PostgreSQL and Redis names both and how to start them, without a stack trace', async () => {
  const [pgPort, redisPort] = [await freePort(), await freePort()];
  const run = await runTestCommand({ TEST_DATABASE_ADMIN_URL: `postgres://postgres@127.0.0.1:${pgPort}/postgres`, REDIS_URL: `redis://127.0.0.1:${redisPort}` });
  assert.is(run.code, 1, run.output);
  assert.match(run.output, `PostgreSQL does not answer at 127.0.0.1:${pgPort} (TEST_DATABASE_ADMIN_URL)`);
  assert.match(run.output, 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start');
  assert.match(run.output, `Redis does not answer at 127.0.0.1:${redisPort} (REDIS_URL)`);
  assert.match(run.output, `redis-server --daemonize yes --bind 127.0.0.1 --port ${redisPort}`);
  assert.not.match(run.output, /\n\s+at /, 'no stack trace');
});

test('npm test with PostgreSQL but without Redis names only Redis', async () => {
  const redisPort = await freePort();
  const run = await runTestCommand({ REDIS_URL: `redis://127.0.0.1:${redisPort}` });
  assert.is(run.code, 1, run.output);
  assert.match(run.output, `Redis does not answer at 127.0.0.1:${redisPort}`);
  assert.not.match(run.output, 'PostgreSQL does not answer');
  assert.not.match(run.output, /\n\s+at /, 'no stack trace');
});

test.run();
