import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ChildProcess, spawn } from 'child_process';
import path from 'path';
import { adminToken, api, apiBaseUrl } from '../helpers/api';
import { eventually } from '../helpers/bookings';
import { makeGame, makeVendor } from '../helpers/fixtures';
import { onTestsDone } from '../helpers/resources';
import { freePort } from '../../scripts/test-env';

// SPEC §12: the vendor dashboard's calls. Its CORS preflight, its cache-busters on every GET, a
// console number as a string or an integer, a cafe without consoles, and a cafe open until
// midnight (SPEC §5.2: a slot may end at 24:00).

const test = suite('the vendor dashboard');

const PREFLIGHT_HEADERS = 'authorization, content-type, x-client-source';
const ALLOWED = ['authorization', 'content-type', 'idempotency-key', 'prefer', 'x-client-source', 'x-requested-with'];

async function preflight(base: string, origin: string, route = '/api/bookings'): Promise<Response> {
  return fetch(`${base}${route}`, {
    method: 'OPTIONS',
    headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': PREFLIGHT_HEADERS },
  });
}

const allowedHeaders = (response: Response) => (response.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(',').map((h) => h.trim());

test('the preflight of any /api route is 204 and allows the dashboard\'s headers; Location is exposed', async () => {
  const base = await apiBaseUrl();
  for (const route of ['/api/bookings', '/api/bookings/confirm', '/api/getAllConsole/vendor/1', '/api/vendor/1/users']) {
    const answer = await preflight(base, 'https://dashboard.hfg.example', route);
    assert.is(answer.status, 204, route);
    for (const header of ALLOWED) assert.ok(allowedHeaders(answer).includes(header), `${route} allows ${header}`);
    assert.is(answer.headers.get('access-control-allow-origin'), '*');
  }
  const real = await fetch(`${base}/api/games`, { headers: { Origin: 'https://dashboard.hfg.example' } });
  assert.match(real.headers.get('access-control-expose-headers') ?? '', /Location/);
});

test('CORS_ORIGINS: a web process allows the listed origins only', async () => {
  const port = await freePort();
  const web: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', '..', 'src', 'http', 'server.ts')], {
    env: { ...process.env, PORT: String(port), CORS_ORIGINS: 'https://dashboard.hfg.example,http://localhost:5173', LOG_LEVEL: 'silent' },
    stdio: 'ignore',
  });
  const stopped = new Promise((resolve) => web.once('exit', resolve));
  onTestsDone(async () => { web.kill('SIGKILL'); });
  try {
    const base = `http://127.0.0.1:${port}`;
    await eventually(async () => (await fetch(`${base}/health`)).ok, 'the web process to answer', 20000, 100);
    const listed = await preflight(base, 'http://localhost:5173');
    assert.equal([listed.status, listed.headers.get('access-control-allow-origin')], [204, 'http://localhost:5173']);
    assert.match(listed.headers.get('vary') ?? '', /Origin/i);
    const other = await preflight(base, 'https://evil.example');
    assert.is(other.headers.get('access-control-allow-origin'), null, 'an origin not listed gets no CORS headers');
  } finally {
    web.kill('SIGTERM');
    await stopped;
  }
});

test('every dashboard GET ignores its ?t= cache-buster; consoles by string or integer number; a cafe without consoles', async () => {
  const vendor = await makeVendor();
  const { game } = await makeGame(vendor.id, { slots: [['18:00', '19:00']] });
  const t = `t=${Date.now()}`;
  const empty = await api('GET', `/api/getAllConsole/vendor/${vendor.id}?${t}`);
  assert.equal([empty.status, empty.body], [200, { consoles: [] }]);
  for (const consoleNumber of ['PS5-01', 7]) {
    const made = await api('POST', `/api/vendors/${vendor.id}/consoles`, {
      token: adminToken(), body: { console_number: consoleNumber, model_number: 'PS5', brand: 'Sony', console_type: 'console', game_ids: [game.id] },
    });
    assert.is(made.status, 201, JSON.stringify(made.body));
    assert.is(made.body.console_number, String(consoleNumber));
  }
  const consoles = await api('GET', `/api/getAllConsole/vendor/${vendor.id}?${t}`);
  assert.equal(consoles.body.consoles.map((c: { console_number: string }) => c.console_number).sort(), ['7', 'PS5-01']);
  for (const route of [`/api/games/vendor/${vendor.id}`, `/api/getSlots/vendor/${vendor.id}/game/${game.id}/${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`,
    `/api/getSlotList/vendor/${vendor.id}/game/${game.id}`, `/api/slots?game_id=${game.id}`, '/api/gaming-types', `/api/vendors/${vendor.id}`]) {
    const answer = await api('GET', `${route}${route.includes('?') ? '&' : '?'}${t}`);
    assert.is(answer.status, 200, `${route}: ${JSON.stringify(answer.body)}`);
  }
  const malformed = await api('GET', `/api/slots?game_id=abc&${t}`);
  assert.is(malformed.status, 400, 'a known parameter is still validated');
});

test('a cafe open until midnight offers its last hour: slots and opening hours accept 24:00 as an end', async () => {
  const vendor = await makeVendor();
  const late = await api('POST', `/api/vendors/${vendor.id}/games`, {
    token: adminToken(), body: { game_name: 'Late PC', total_slots: 2, single_slot_price: 90, slots: { open: '20:00', close: '24:00', minutes: 60 } },
  });
  assert.is(late.status, 201, JSON.stringify(late.body));
  assert.equal(late.body.slots.map((s: { start_time: string; end_time: string }) => [s.start_time, s.end_time]).slice(-1), [['23:00:00', '24:00:00']]);
  const listed = await api('POST', `/api/vendors/${vendor.id}/games`, {
    token: adminToken(), body: { game_name: 'Late PS5', total_slots: 1, single_slot_price: 90, slots: [{ start_time: '23:30', end_time: '24:00' }] },
  });
  assert.is(listed.status, 201, JSON.stringify(listed.body));
  const added = await api('POST', `/api/games/${listed.body.id}/slots`, { token: adminToken(), body: { start_time: '22:30', end_time: '23:30' } });
  assert.is(added.status, 201, JSON.stringify(added.body));
  const overlapping = await api('POST', `/api/games/${listed.body.id}/slots`, { token: adminToken(), body: { start_time: '23:45', end_time: '24:00' } });
  assert.is(overlapping.status, 409);
  for (const bad of [{ start_time: '24:00', end_time: '24:00' }, { start_time: '23:00', end_time: '24:30' }, { start_time: '23:00', end_time: '25:00' }]) {
    assert.is((await api('POST', `/api/games/${listed.body.id}/slots`, { token: adminToken(), body: bad })).status, 400, JSON.stringify(bad));
  }
  const day = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
  const slots = await api('GET', `/api/getSlots/vendor/${vendor.id}/game/${late.body.id}/${day}`);
  assert.equal(slots.body.slots.slice(-1)[0].end_time, '24:00:00');
});

test.run();
