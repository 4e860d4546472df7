import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Koa from 'koa';
import { createServer } from 'http';
import { AddressInfo } from 'net';
import { api, adminToken, ApiResponse } from '../helpers/api';
import { makeGame, makeUser, makeVendor } from '../helpers/fixtures';
import { db } from '../../src/db/knex';
import { Game } from '../../src/db/models';
import { errorMiddleware } from '../../src/http/errors';

// SPEC §10.8: bad input of any shape gets a 4xx JSON error; nothing crashes, nothing is half-written.

const WRITTEN_TABLES = ['vendors', 'games', 'slots', 'slot_inventory', 'consoles', 'console_games', 'users', 'gaming_types'];

async function snapshot(): Promise<Record<string, unknown>> {
  const counts: Record<string, unknown> = {};
  for (const table of WRITTEN_TABLES) counts[table] = (await db(table).count('* as count').first())!.count;
  counts.partitions = (await db.raw('SELECT count(*)::int AS count FROM pg_inherits')).rows[0].count;
  counts.games = await db('games').orderBy('id').select('id', 'total_slots', 'single_slot_price_paise');
  counts.consoles = await db('consoles').orderBy('id').select('id', 'status');
  counts.vendors = await db('vendors').orderBy('id').select('id', 'opening_days');
  return counts;
}

const STACK_TRACE = /\bat\s+\S+\s+\(|\bat\s+\/|node_modules|\.ts:\d+|\.js:\d+/;

function assertCleanError(response: ApiResponse, status: number | number[], label: string): void {
  const statuses = Array.isArray(status) ? status : [status];
  assert.ok(statuses.includes(response.status), `${label}: expected ${statuses.join('|')}, got ${response.status} ${JSON.stringify(response.body)}`);
  assert.match(response.headers.get('content-type') ?? '', /application\/json/, `${label}: JSON answer`);
  assert.type(response.body, 'object', label);
  assert.type(response.body.message, 'string', label);
  assert.type(response.body.code, 'string', label);
  assert.not.match(JSON.stringify(response.body), STACK_TRACE, `${label}: no stack trace`);
}

interface BadRequest {
  label: string;
  method: string;
  path: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  status: number | number[];
  code?: string;
}

async function assertNothingWritten(requests: BadRequest[]): Promise<void> {
  for (const request of requests) {
    const before = await snapshot();
    const response = await api(request.method, request.path, {
      token: adminToken(),
      body: request.body,
      rawBody: request.rawBody,
      headers: request.headers,
    });
    assertCleanError(response, request.status, request.label);
    if (request.code) assert.is(response.body.code, request.code, request.label);
    assert.equal(await snapshot(), before, `${request.label}: nothing written`);
  }
}

async function world() {
  const vendor = await makeVendor();
  const { game, slots } = await makeGame(vendor.id, { slots: [['10:00', '11:00']] });
  const user = await makeUser();
  const [station] = await db('consoles').insert({ vendor_id: vendor.id, console_number: 'R-1', model_number: 'M', brand: 'B', console_type: 'T' }).returning('*');
  return { vendor, game, slots, user, station };
}

test('bodies that are not JSON objects', async () => {
  const { vendor, game } = await world();
  const json = { 'content-type': 'application/json' };
  await assertNothingWritten([
    { label: 'text/plain body', method: 'POST', path: '/vendors', rawBody: 'cafe_name=x', headers: { 'content-type': 'text/plain' }, status: 415, code: 'unsupported_media_type' },
    { label: 'form body', method: 'POST', path: '/users', rawBody: 'name=x&email=y', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415 },
    { label: 'body without content type', method: 'PATCH', path: `/games/${game.id}`, rawBody: '{"total_slots":9}', headers: { 'content-type': '' }, status: 415 },
    { label: 'malformed JSON', method: 'POST', path: '/vendors', rawBody: '{"cafe_name": "x",', headers: json, status: 400, code: 'invalid_json' },
    { label: 'JSON with trailing garbage', method: 'POST', path: `/vendors/${vendor.id}/games`, rawBody: '{"game_name":"x"} trailing', headers: json, status: 400, code: 'invalid_json' },
    { label: 'JSON array', method: 'POST', path: '/vendors', rawBody: '[{"cafe_name":"x"}]', headers: json, status: 400 },
    { label: 'JSON string', method: 'POST', path: '/vendors', rawBody: '"cafe"', headers: json, status: 400 },
    { label: 'JSON null', method: 'PATCH', path: `/games/${game.id}`, rawBody: 'null', headers: json, status: 400 },
    { label: 'JSON number', method: 'POST', path: `/games/${game.id}/slots`, rawBody: '42', headers: json, status: 400 },
    { label: 'JSON true', method: 'POST', path: '/users', rawBody: 'true', headers: json, status: 400 },
    { label: 'empty JSON body', method: 'POST', path: `/vendors/${vendor.id}/consoles`, rawBody: '', headers: json, status: 400 },
  ]);
});

test('a body over 64kb is 413 JSON, and nothing is written', async () => {
  const { vendor } = await world();
  const huge = JSON.stringify({ cafe_name: 'x'.repeat(70 * 1024) });
  await assertNothingWritten([
    { label: '70kb vendor', method: 'POST', path: '/vendors', rawBody: huge, headers: { 'content-type': 'application/json' }, status: 413, code: 'payload_too_large' },
    {
      label: '70kb game slots',
      method: 'POST',
      path: `/vendors/${vendor.id}/games`,
      body: { game_name: 'x', total_slots: 1, single_slot_price: 1, slots: Array.from({ length: 2000 }, () => ({ start_time: '10:00', end_time: '11:00' })) },
      status: 413,
    },
  ]);
});

test('wrong types, out-of-range numbers and unknown fields are 400', async () => {
  const { vendor, game } = await world();
  const gamePath = `/vendors/${vendor.id}/games`;
  const base = { game_name: 'G', total_slots: 2, single_slot_price: 100 };
  const consoleBase = { console_number: 'N', model_number: 'M', brand: 'B', console_type: 'T' };
  const cases: Array<[string, string, string, unknown]> = [
    ['total_slots as string', 'POST', gamePath, { ...base, total_slots: '3' }],
    ['total_slots float', 'POST', gamePath, { ...base, total_slots: 1.5 }],
    ['total_slots zero', 'POST', gamePath, { ...base, total_slots: 0 }],
    ['total_slots negative', 'POST', gamePath, { ...base, total_slots: -2 }],
    ['total_slots huge', 'POST', gamePath, { ...base, total_slots: 1e12 }],
    ['price float', 'POST', gamePath, { ...base, single_slot_price: 10.5 }],
    ['price negative', 'POST', gamePath, { ...base, single_slot_price: -1 }],
    ['price huge', 'POST', gamePath, { ...base, single_slot_price: 1e20 }],
    ['price null', 'POST', gamePath, { ...base, single_slot_price: null }],
    ['gaming_type_id float', 'POST', gamePath, { ...base, gaming_type_id: 1.5 }],
    ['gaming_type_id negative', 'POST', gamePath, { ...base, gaming_type_id: -1 }],
    ['gaming_type_id not numeric', 'POST', gamePath, { ...base, gaming_type_id: 'one' }],
    ['gaming_type_id huge', 'POST', gamePath, { ...base, gaming_type_id: 99999999999 }],
    ['game_name number', 'POST', gamePath, { ...base, game_name: 5 }],
    ['game_name object', 'POST', gamePath, { ...base, game_name: { $ne: null } }],
    ['slots wrong shape', 'POST', gamePath, { ...base, slots: 'all day' }],
    ['slot with extra field', 'POST', gamePath, { ...base, slots: [{ start_time: '10:00', end_time: '11:00', price: 1 }] }],
    ['slot time not a time', 'POST', gamePath, { ...base, slots: [{ start_time: '10am', end_time: '11am' }] }],
    ['opening hours minutes 0', 'POST', gamePath, { ...base, slots: { open: '10:00', close: '12:00', minutes: 0 } }],
    ['opening hours minutes float', 'POST', gamePath, { ...base, slots: { open: '10:00', close: '12:00', minutes: 30.5 } }],
    ['unknown field on game', 'POST', gamePath, { ...base, vendor_id: vendor.id }],
    ['unknown field on vendor', 'POST', '/vendors', { cafe_name: 'x', is_admin: true }],
    ['opening_days not array', 'PUT', `/vendors/${vendor.id}/opening-days`, { opening_days: 'mon,tue' }],
    ['opening_days with extra', 'PUT', `/vendors/${vendor.id}/opening-days`, { opening_days: ['mon'], timezone: 'UTC' }],
    ['patch unknown field', 'PATCH', `/games/${game.id}`, { total_slots: 4, game_name: 'renamed' }],
    ['patch total_slots string', 'PATCH', `/games/${game.id}`, { total_slots: '4' }],
    ['patch price float', 'PATCH', `/games/${game.id}`, { single_slot_price: 0.1 }],
    ['slot extra field', 'POST', `/games/${game.id}/slots`, { start_time: '12:00', end_time: '13:00', capacity: 9 }],
    ['slot time number', 'POST', `/games/${game.id}/slots`, { start_time: 1200, end_time: 1300 }],
    ['game_ids float', 'POST', `/vendors/${vendor.id}/consoles`, { ...consoleBase, game_ids: [1.5] }],
    ['game_ids negative', 'POST', `/vendors/${vendor.id}/consoles`, { ...consoleBase, game_ids: [-1] }],
    ['game_ids not numeric', 'POST', `/vendors/${vendor.id}/consoles`, { ...consoleBase, game_ids: ['one'] }],
    ['game_ids repeated', 'POST', `/vendors/${vendor.id}/consoles`, { ...consoleBase, game_ids: [game.id, game.id] }],
    ['console_number float', 'POST', `/vendors/${vendor.id}/consoles`, { ...consoleBase, console_number: 7.5 }],
    ['console unknown field', 'POST', `/vendors/${vendor.id}/consoles`, { ...consoleBase, status: 'in_use' }],
    ['user unknown field', 'POST', '/users', { name: 'n', email: 'n@example.com', phone: '9800000000', role: 'admin' }],
    ['user email array', 'POST', '/users', { name: 'n', email: ['n@example.com'], phone: '9800000000' }],
  ];
  await assertNothingWritten(cases.map(([label, method, path, body]) => ({ label, method, path, body, status: 400, code: 'validation_failed' })));

  const unknown = await api('POST', gamePath, { token: adminToken(), body: { ...base, vendor_id: vendor.id } });
  assert.match(unknown.body.message, /unknown field "vendor_id"/);
});

test('ids in paths must be positive 32-bit integers', async () => {
  const { vendor, station } = await world();
  const requests: BadRequest[] = [];
  for (const id of ['abc', '-1', '0', '1.5', '99999999999', '1e400', 'Infinity', '1e3', '0x10', '%20', '+5', 'null']) {
    requests.push(
      { label: `GET /vendors/${id}`, method: 'GET', path: `/vendors/${id}`, status: 400 },
      { label: `PUT /vendors/${id}/opening-days`, method: 'PUT', path: `/vendors/${id}/opening-days`, body: { opening_days: ['mon'] }, status: 400 },
      { label: `POST /vendors/${id}/games`, method: 'POST', path: `/vendors/${id}/games`, body: { game_name: 'G', total_slots: 1, single_slot_price: 1 }, status: 400 },
      { label: `PATCH /games/${id}`, method: 'PATCH', path: `/games/${id}`, body: { total_slots: 2 }, status: 400 },
      { label: `POST /games/${id}/slots`, method: 'POST', path: `/games/${id}/slots`, body: { start_time: '12:00', end_time: '13:00' }, status: 400 },
      { label: `POST /vendors/${id}/consoles`, method: 'POST', path: `/vendors/${id}/consoles`, body: { console_number: 'Z', model_number: 'M', brand: 'B', console_type: 'T' }, status: 400 },
      { label: `PATCH /consoles/${id}`, method: 'PATCH', path: `/consoles/${id}`, body: { status: 'in_use' }, status: 400 },
      { label: `GET /users/${id}`, method: 'GET', path: `/users/${id}`, status: 400 },
    );
  }
  await assertNothingWritten(requests.map((request) => ({ ...request, code: 'validation_failed' })));
  // The same requests with good ids do write: the checks above are not vacuous.
  const good = await api('PATCH', `/consoles/${station.id}`, { token: adminToken(), body: { status: 'in_use' } });
  assert.is(good.status, 200);
  const days = await api('PUT', `/vendors/${vendor.id}/opening-days`, { token: adminToken(), body: { opening_days: ['mon'] } });
  assert.equal(days.body.opening_days, ['mon']);
});

test('a failure midway through onboarding rolls back, and the 500 carries no stack trace', async () => {
  // Squat on the next vendor's partition name so its creation fails after the vendor row is inserted.
  const nextId = Number((await db.raw('SELECT last_value + 1 AS next FROM vendors_id_seq')).rows[0].next);
  await db.raw(`CREATE TABLE vendor_${nextId}_dashboard (id integer)`);
  try {
    const before = await snapshot();
    const response = await api('POST', '/vendors', { token: adminToken(), body: { cafe_name: 'Doomed Cafe' } });
    assertCleanError(response, 500, 'partition clash');
    assert.equal(response.body, { message: 'Internal server error', code: 'internal' });
    assert.not.ok(JSON.stringify(response.body).includes('vendor_'), 'no SQL detail leaks');
    assert.equal(await snapshot(), before);
    assert.is((await db('vendors').where('cafe_name', 'Doomed Cafe').count('* as count').first())!.count, 0);
    const promo = await db.raw('SELECT to_regclass(?) AS name', [`vendor_${nextId}_promo_detail`]);
    assert.is(promo.rows[0].name, null);
  } finally {
    await db.raw(`DROP TABLE vendor_${nextId}_dashboard`);
  }
  const after = await api('POST', '/vendors', { token: adminToken(), body: { cafe_name: 'Lucky Cafe' } });
  assert.is(after.status, 201);
});

test('unknown methods and routes answer JSON, not HTML', async () => {
  const { game } = await world();
  const wrongMethod = await api('DELETE', `/games/${game.id}/slots`, { token: adminToken() });
  assertCleanError(wrongMethod, [404, 405], 'DELETE on slots');
  const unknownRoute = await api('POST', '/vendors/1/nonsense', { token: adminToken(), body: {} });
  assertCleanError(unknownRoute, 404, 'unknown route');
});

test('the error middleware: driver input errors are 400, crashes are 500/503 without stacks', async () => {
  const app = new Koa();
  app.silent = true;
  app.use(errorMiddleware);
  app.use(async (ctx) => {
    if (ctx.path === '/objection-data-error') {
      // Infinity is not an integer to PostgreSQL; objection wraps the driver error as DataError.
      await Game.query().findById(Infinity as unknown as number);
    } else if (ctx.path === '/crash') {
      throw new Error('secret detail at /work/main/src/somewhere.ts:12:3');
    } else if (ctx.path === '/redis-down') {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    }
    ctx.body = { ok: true };
  });
  const server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const call = async (path: string) => {
      const response = await fetch(`${base}${path}`);
      return { status: response.status, body: await response.json(), headers: response.headers } as ApiResponse;
    };
    const dataError = await call('/objection-data-error');
    assertCleanError(dataError, 400, 'objection DataError');
    assert.is(dataError.body.code, 'validation_failed');
    const crash = await call('/crash');
    assertCleanError(crash, 500, 'crash');
    assert.equal(crash.body, { message: 'Internal server error', code: 'internal' });
    const down = await call('/redis-down');
    assertCleanError(down, 503, 'redis down');
    assert.is(down.body.code, 'unavailable');
    assert.not.ok(JSON.stringify(down.body).includes('6379'));
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('NUL characters in text, undecodable gzip bodies and non-decimal numbers in queries are 400', async () => {
  await assertNothingWritten([
    { label: 'NUL in a cafe name', method: 'POST', path: '/vendors', body: { cafe_name: 'Bad\u0000Cafe' }, status: 400 },
    { label: 'NUL in a user name', method: 'POST', path: '/users', body: { name: 'A\u0000B', email: 'nul@example.test', phone: '+919800000000' }, status: 400 },
    {
      label: 'gzip that is not gzip', method: 'POST', path: '/vendors', rawBody: '{"cafe_name":"X"}',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, status: 400,
    },
    // Decoded before authentication: no token, and still a clean 400.
    ...['br', 'deflate', 'gzip'].map((encoding) => ({
      label: `${encoding} that is not ${encoding}, without a token`, method: 'POST', path: '/bookings', rawBody: '{"slot_id":1}',
      headers: { 'content-type': 'application/json', 'content-encoding': encoding }, status: 400,
    })),
  ]);
  const { user } = await world();
  for (const query of ['limit=1e400', 'limit=0x10', 'before=1e3', 'limit=%201']) {
    const response = await api('GET', `/bookings/user/${user.id}?${query}`, { token: adminToken() });
    assertCleanError(response, 400, query);
    assert.is(response.body.code, 'validation_failed', query);
  }
  const slots = await api('GET', '/slots?game_id=1e400');
  assertCleanError(slots, 400, '/slots?game_id=1e400');
});

test('unknown query parameters are ignored everywhere; a DELETE with a body is refused', async () => {
  const { vendor, user } = await world();
  for (const path of [`/vendors/${vendor.id}`, `/users/${user.id}`]) {
    const plain = await api('GET', path, { token: adminToken() });
    const busted = await api('GET', `${path}?x=1&t=1733112000000`, { token: adminToken() });
    assert.equal([busted.status, busted.body], [200, plain.body], path);
  }
  assert.is((await api('GET', '/bookings/2147480000?x=1', { token: adminToken() })).status, 404);
  const before = await snapshot();
  const typeCreated = await api('POST', '/gaming-types', { token: adminToken(), body: { name: `Type ${Date.now()}` } });
  const withBody = await api('DELETE', `/gaming-types/${typeCreated.body.id}`, { token: adminToken(), body: { force: true } });
  assertCleanError(withBody, 400, 'DELETE with a body');
  assert.is((await api('DELETE', `/gaming-types/${typeCreated.body.id}`, { token: adminToken() })).status, 200);
  assert.equal(await snapshot(), before);
});

test.run();
