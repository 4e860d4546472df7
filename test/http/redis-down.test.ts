import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'child_process';
import path from 'path';
import { tokenFor } from '../helpers/api';
import { makeGame, makeUser, makeVendor, dateInDays } from '../helpers/fixtures';

// A web process that starts while Redis is down (nothing listens on port 1) serves what needs no
// queue, answers 503 for what does instead of hanging, and still stops on SIGTERM.

test('Redis down from the start: bookings answer 503, catalog reads work, SIGTERM stops the process', async () => {
  const vendor = await makeVendor();
  const { game, slots } = await makeGame(vendor.id, { slots: [['10:00', '11:00']] });
  const user = await makeUser();
  const web = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', '..', 'src', 'http', 'server.ts')], {
    env: { ...process.env, REDIS_URL: 'redis://127.0.0.1:1', PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => web.once('exit', resolve));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let output = '';
      web.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /"port":(\d+),"msg":"web listening"/.exec(output);
        if (match) resolve(Number(match[1]));
      });
      web.once('exit', () => reject(new Error(`web exited early: ${output}`)));
    });
    const base = `http://127.0.0.1:${port}`;
    const started = Date.now();
    const hold = await fetch(`${base}/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenFor('user', user.id)}` },
      body: JSON.stringify({ slot_id: slots[0].id, user_id: user.id, game_id: game.id, book_date: dateInDays(2) }),
    });
    assert.is(hold.status, 503);
    assert.is(((await hold.json()) as { code: string }).code, 'unavailable');
    assert.ok(Date.now() - started < 4000, 'answered promptly');
    const health = await fetch(`${base}/health`);
    assert.is(health.status, 503);
    assert.is(((await health.json()) as { redis: string }).redis, 'down');
    const games = await fetch(`${base}/games/vendor/${vendor.id}`);
    assert.is(games.status, 200);
  } finally {
    web.kill('SIGTERM');
  }
  const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 8000))]);
  if (code === 'still running') web.kill('SIGKILL');
  assert.is(code, 0, 'SIGTERM stopped the web process');
});

test.run();
