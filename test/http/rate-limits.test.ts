import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tokenFor } from '../helpers/api';
import { makeGame, makeUser, makeVendor, dateInDays } from '../helpers/fixtures';
import { freshAddress, startWeb, WebProcess } from './web-process';
import { eventually } from '../helpers/bookings';

// Write limits (SPEC §3, §11): per caller and per client address, kept in Redis so that two web
// processes count against one figure; 429 rate_limited with Retry-After; reads and the Razorpay
// webhook are never limited; a Redis outage never turns a write into a 500.

const USER_LIMIT = 3;
const ADDRESS_LIMIT = 5;
let webs: WebProcess[] = [];

/**
 * Until a web process's Redis connection is ready its limits fail open (by design: a limit guards
 * against floods, src/http/rate-limit.ts), and "web listening" comes before that on a loaded
 * machine: the counting tests start once /health says Redis answers.
 */
async function redisReady(web: WebProcess): Promise<void> {
  await eventually(async () => (await fetch(`${web.base}/health`).then((r) => r.json() as Promise<{ redis?: string }>, () => null))?.redis === 'ok',
    `${web.base}: Redis ready`, 15_000);
}

test.before(async () => {
  const env = { RATE_LIMIT_USER_PER_MIN: String(USER_LIMIT), RATE_LIMIT_ADDRESS_PER_MIN: String(ADDRESS_LIMIT) };
  webs = await Promise.all([startWeb(env), startWeb(env)]);
  await Promise.all(webs.map(redisReady));
});

test.after(async () => {
  await Promise.all(webs.map((web) => web.stop()));
});

async function send(web: WebProcess, method: string, path: string, options: { token?: string; address?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.address) headers['x-forwarded-for'] = options.address;
  const response = await fetch(`${web.base}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  const text = await response.text();
  let body: any = text;
  try { body = JSON.parse(text); } catch { /* left as text */ }
  return { status: response.status, body, headers: response.headers };
}

function assertRateLimited(response: { status: number; body: any; headers: Headers }, what: string) {
  assert.is(response.status, 429, what);
  assert.is(response.body.code, 'rate_limited');
  assert.type(response.body.message, 'string');
  const retryAfter = Number(response.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${response.headers.get('retry-after')}`);
}

test('per caller: the limit is shared by two web processes; another caller is not affected', async () => {
  const user = await makeUser();
  const token = tokenFor('user', user.id);
  // An empty body is refused 400 by validation, yet counts: every write attempt does.
  for (let i = 0; i < USER_LIMIT; i++) {
    const response = await send(webs[i % 2], 'POST', '/bookings', { token, address: freshAddress(), body: {} });
    assert.is(response.status, 400, `write ${i + 1}`);
  }
  assertRateLimited(await send(webs[1], 'POST', '/bookings', { token, address: freshAddress(), body: {} }), 'over the caller limit, other process');
  assertRateLimited(await send(webs[0], 'DELETE', '/bookings/1', { token, address: freshAddress() }), 'over the caller limit, another write');
  const other = await makeUser();
  const response = await send(webs[1], 'POST', '/bookings', { token: tokenFor('user', other.id), address: freshAddress(), body: {} });
  assert.is(response.status, 400, 'another caller still writes');
  const read = await send(webs[0], 'GET', `/bookings/user/${user.id}`, { token, address: freshAddress() });
  assert.is(read.status, 200, 'reads are not limited');
});

test('per address: anonymous writes from one address, across both processes; another address is not affected', async () => {
  const address = freshAddress();
  for (let i = 0; i < ADDRESS_LIMIT; i++) {
    const response = await send(webs[i % 2], 'POST', '/bookings', { address, body: {} });
    assert.is(response.status, 401, `write ${i + 1}`);
  }
  assertRateLimited(await send(webs[0], 'POST', '/bookings', { address, body: {} }), 'over the address limit');
  // A caller's own budget does not lift the address's.
  const user = await makeUser();
  assertRateLimited(await send(webs[1], 'POST', '/bookings', { address, token: tokenFor('user', user.id), body: {} }), 'authenticated, same address');
  assert.is((await send(webs[0], 'POST', '/bookings', { address: freshAddress(), body: {} })).status, 401, 'another address');
  for (let i = 0; i < 10; i++) assert.is((await send(webs[i % 2], 'GET', '/games', { address })).status, 200, 'reads are not limited');
  // A client cannot choose its address: only the entry the nearest proxy appended counts.
  assertRateLimited(await send(webs[0], 'POST', '/bookings', { address: `${freshAddress()}, ${address}`, body: {} }), 'spoofed leftmost X-Forwarded-For');
});

test('per address: writes refused before the token or the body is looked at count too (bad tokens, malformed JSON)', async () => {
  const address = freshAddress();
  const badToken = async (web: WebProcess) => {
    const response = await fetch(`${web.base}/bookings`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer not-a-token', 'x-forwarded-for': address }, body: '{}' });
    return response.status;
  };
  const malformed = async (web: WebProcess) => {
    const response = await fetch(`${web.base}/bookings`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': address }, body: '{"slot_id":' });
    return response.status;
  };
  const statuses = [await badToken(webs[0]), await malformed(webs[1]), await badToken(webs[1]), await malformed(webs[0]), await badToken(webs[0])];
  assert.equal(statuses, [401, 400, 401, 400, 401]);
  assertRateLimited(await send(webs[1], 'POST', '/bookings', { address, body: {} }), 'the address spent its writes on refusals');
  assert.is(await badToken(webs[0]), 429, 'a bad token over the limit');
});

test('the Razorpay webhook is never limited: Razorpay retries what is refused', async () => {
  const address = freshAddress();
  for (let i = 0; i <= ADDRESS_LIMIT; i++) await send(webs[0], 'POST', '/bookings', { address, body: {} });
  assertRateLimited(await send(webs[0], 'POST', '/bookings', { address, body: {} }), 'address exhausted');
  const webhook = await send(webs[1], 'POST', '/webhooks/razorpay', { address, body: { event: 'payment.captured' } });
  assert.is(webhook.status, 400, JSON.stringify(webhook.body));
  assert.is(webhook.body.code, 'invalid_signature');
});

test('Redis down: the limiter lets writes through to their usual answers, 503 for a hold, never 500 or a hang', async () => {
  const vendor = await makeVendor();
  const { game, slots } = await makeGame(vendor.id, { slots: [['10:00', '11:00']] });
  const user = await makeUser();
  const web = await startWeb({ REDIS_URL: 'redis://127.0.0.1:1', RATE_LIMIT_USER_PER_MIN: '1', RATE_LIMIT_ADDRESS_PER_MIN: '1' });
  try {
    const token = tokenFor('user', user.id);
    const started = Date.now();
    for (let i = 0; i < 3; i++) {
      const hold = await send(web, 'POST', '/bookings', { token, body: { slot_id: slots[0].id, user_id: user.id, game_id: game.id, book_date: dateInDays(2) } });
      assert.is(hold.status, 503, JSON.stringify(hold.body));
      assert.is(hold.body.code, 'unavailable');
      assert.is((await send(web, 'POST', '/bookings', { body: {} })).status, 401);
    }
    assert.ok(Date.now() - started < 15_000, 'answered promptly');
  } finally {
    await web.stop();
  }
});

test.run();
