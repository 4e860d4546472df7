import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'crypto';
import { Browser, Page } from 'playwright-core';
import { freePort } from '../../scripts/test-env';
import { parseConfig } from '../../src/config';
import { createVendor } from '../../src/db/vendors';
import { localNow } from '../../src/domain/dates';
import { api } from '../helpers/api';
import { bookingCafe, BookingCafe, holdOrFail, makeCustomer, useWorkers } from '../helpers/bookings';
import { makeGame } from '../helpers/fixtures';
import { confirm, credit, expireHolds } from '../helpers/payments';
import { cellState, launchChromium, unitsShown, waitForStatus, waitForUnits } from './browser';
import { Service, startService } from './services';

// The live cafe board end to end: a real web process and a real realtime process on ports of their
// own, a real worker, and Debian's chromium driven by playwright-core. A hold made through the API
// must reach the page's cell through worker → outbox → Redis → realtime → socket.io in the browser.

const board = suite('board');
useWorkers(board, 1);

/** Generous: a change reaches the page in well under a second; this only bounds a failing wait. */
const CHANGE_MS = 5000;

let web: Service | undefined;
let realtime: Service | undefined;
let webPort: number;
let realtimePort: number;
let browser: Browser | undefined;

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

const startRealtime = () => startService('realtime/server.ts', realtimePort, { REALTIME_PORT: String(realtimePort) });
const startWeb = (port: number, env: Record<string, string> = {}) =>
  startService('http/server.ts', port, { PORT: String(port), REALTIME_PORT: String(realtimePort), ...env });

board.before(async () => {
  [webPort, realtimePort] = await distinctFreePorts(2);
  // Each resource is kept as soon as it exists, so after() closes whatever did start.
  await Promise.all([
    startRealtime().then((service) => { realtime = service; }),
    startWeb(webPort).then((service) => { web = service; }),
    launchChromium().then((launched) => { browser = launched; }),
  ]);
});

board.after(async () => {
  try {
    await browser?.close();
  } finally {
    await Promise.all([web?.stop(), realtime?.stop()]);
  }
});

interface OpenBoard {
  page: Page;
  /** Console errors and CSP refusals the page reported. */
  problems: string[];
}

/** Opens the board and waits until it follows every game's room. */
async function openBoard(path: string): Promise<OpenBoard> {
  const page = await browser!.newPage({ viewport: { width: 390, height: 844 } });
  const problems: string[] = [];
  page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()); });
  page.on('pageerror', (error) => problems.push(error.message));
  try {
    const response = await page.goto(`${web!.url}${path}`);
    assert.is(response?.status(), 200);
    await waitForStatus(page, 'live', CHANGE_MS);
  } catch (error) {
    await page.close();
    throw error;
  }
  return { page, problems };
}

type TwoGameCafe = BookingCafe & { second: BookingCafe };

/** Game one: 3 units at 10, 11 and 12 o'clock; game two: 2 units at 11 and 13 o'clock. */
async function twoGameCafe(): Promise<TwoGameCafe> {
  const cafe = await bookingCafe({ total_slots: 3, slots: [['10:00', '11:00'], ['11:00', '12:00'], ['12:00', '13:00']] });
  const { game, slots } = await makeGame(cafe.vendor.id, { total_slots: 2, slots: [['11:00', '12:00'], ['13:00', '14:00']] });
  return { ...cafe, second: { ...cafe, game, slots } };
}

board('the grid shows every game and slot with the units left, and follows holds, a confirmation, an expiry and a cancellation', async () => {
  const cafe = await twoGameCafe();
  const { page, problems } = await openBoard(`/board/${cafe.vendor.id}?date=${cafe.date}`);
  try {
    assert.equal(await page.locator('thead th').allTextContents(), ['Time', cafe.game.game_name, cafe.second.game.game_name]);
    assert.equal(await page.locator('tbody th').allTextContents(), ['10:00–11:00', '11:00–12:00', '12:00–13:00', '13:00–14:00']);
    for (const slot of cafe.slots) assert.is(await unitsShown(page, slot.id), '3');
    for (const slot of cafe.second.slots) assert.is(await unitsShown(page, slot.id), '2');
    assert.is(await page.locator('tbody tr:nth-child(1) td.none').count(), 1, 'game two has no 10:00 slot');

    // A hold takes a unit.
    const [expiring] = await holdOrFail(cafe, [cafe.slots[1].id]);
    await waitForUnits(page, cafe.slots[1].id, 2, CHANGE_MS);
    assert.is(await cellState(page, cafe.slots[1].id), 'open');

    // A confirmation keeps the unit taken: no count changes, nothing breaks.
    const payer = await makeCustomer();
    const [confirmed] = await holdOrFail(cafe, [cafe.slots[0].id], payer);
    await waitForUnits(page, cafe.slots[0].id, 2, CHANGE_MS);
    await credit(payer.user.id, 1000);
    const paid = await confirm(payer.token, { booking_id: [confirmed], payment_mode: 'wallet' });
    assert.is(paid.status, 200, JSON.stringify(paid.body));

    // The first hold runs out: the sweeper's release gives its unit back.
    await expireHolds([expiring]);
    await waitForUnits(page, cafe.slots[1].id, 3, CHANGE_MS);
    // The expiry's event came after the confirmation's: the confirmed slot still shows its unit taken.
    assert.is(await unitsShown(page, cafe.slots[0].id), '2');

    // A second game's room is followed too; the last unit shows the slot full, a cancellation frees it.
    const firstHolder = await makeCustomer();
    const [first] = await holdOrFail(cafe.second, [cafe.second.slots[1].id], firstHolder);
    await waitForUnits(page, cafe.second.slots[1].id, 1, CHANGE_MS);
    await holdOrFail(cafe.second, [cafe.second.slots[1].id], await makeCustomer());
    await waitForUnits(page, cafe.second.slots[1].id, 0, CHANGE_MS);
    assert.is(await cellState(page, cafe.second.slots[1].id), 'full');
    const cancelled = await api('DELETE', `/bookings/${first}`, { token: firstHolder.token });
    assert.ok([200, 202].includes(cancelled.status), `cancel: ${cancelled.status} ${JSON.stringify(cancelled.body)}`);
    await waitForUnits(page, cafe.second.slots[1].id, 1, CHANGE_MS);
    assert.is(await cellState(page, cafe.second.slots[1].id), 'open');

    assert.is(await unitsShown(page, cafe.slots[2].id), '3', 'other cells keep their number');
    assert.is(await page.locator('#status').textContent(), 'live');
    assert.equal(problems, [], 'the page reported no errors and no CSP refusals');
  } finally {
    await page.close();
  }
});

board('after the realtime process comes back, the page reconnects, reads again and follows events', async () => {
  const cafe = await twoGameCafe();
  const { page, problems } = await openBoard(`/board/${cafe.vendor.id}?date=${cafe.date}`);
  try {
    await realtime!.stop();
    realtime = undefined;
    await waitForStatus(page, 'live', CHANGE_MS, true);
    // Missed while offline: only the read after reconnecting can show it.
    await holdOrFail(cafe, [cafe.slots[2].id]);
    realtime = await startRealtime();
    await waitForStatus(page, 'live', 15_000);
    await waitForUnits(page, cafe.slots[2].id, 2, CHANGE_MS);
    // Events flow again on the new connection, for both games.
    await holdOrFail(cafe, [cafe.slots[0].id]);
    await waitForUnits(page, cafe.slots[0].id, 2, CHANGE_MS);
    await holdOrFail(cafe.second, [cafe.second.slots[0].id]);
    await waitForUnits(page, cafe.second.slots[0].id, 1, CHANGE_MS);
    // Chromium logs the closed socket and the refused reconnection attempts as console errors;
    // an exception in the page or a CSP refusal would still show here.
    assert.equal(problems.filter((text) => !/ERR_CONNECTION_REFUSED|WebSocket|socket\.io/.test(text)), []);
  } finally {
    await page.close();
  }
});

board('a cafe with more than 50 games follows them on more than one connection (50 rooms each)', async () => {
  const cafe = await bookingCafe({ total_slots: 2, slots: [['20:00', '21:00']] });
  const more: BookingCafe[] = [];
  for (let index = 0; index < 51; index++) {
    const { game, slots } = await makeGame(cafe.vendor.id, { total_slots: 2, slots: [['20:00', '21:00']] });
    more.push({ ...cafe, game, slots });
  }
  const { page, problems } = await openBoard(`/board/${cafe.vendor.id}?date=${cafe.date}`);
  try {
    assert.is(await page.locator('thead th[data-game-id]').count(), 52);
    assert.is(await page.locator('#board').getAttribute('data-connections'), '2');
    const last = more[more.length - 1];
    await holdOrFail(last, [last.slots[0].id]);
    await waitForUnits(page, last.slots[0].id, 1, CHANGE_MS);
    await holdOrFail(cafe, [cafe.slots[0].id]);
    await waitForUnits(page, cafe.slots[0].id, 1, CHANGE_MS);
    assert.is(await unitsShown(page, more[20].slots[0].id), '2');
    assert.equal(problems, []);
  } finally {
    await page.close();
  }
});

board('names are shown as text, never as markup', async () => {
  const cafeName = `<img src=x id=injected-cafe> Cafe "${randomUUID().slice(0, 6)}" & Co`;
  const gameName = '<script id="injected-game">window.injected = 1</script><b>FIFA</b>';
  const vendor = await createVendor({ cafe_name: cafeName });
  await makeGame(vendor.id, { game_name: gameName, slots: [['09:00', '10:00']] });
  const html = await (await fetch(`${web!.url}/board/${vendor.id}`)).text();
  assert.not.match(html, '<img src=x');
  assert.match(html, '&lt;img src=x id=injected-cafe&gt; Cafe &quot;');
  const { page, problems } = await openBoard(`/board/${vendor.id}`);
  try {
    await page.waitForSelector('thead th[data-game-id]');
    assert.is(await page.locator('#cafe-name').textContent(), cafeName);
    assert.is(await page.locator('thead th[data-game-id]').textContent(), gameName);
    assert.is(await page.locator('#injected-cafe, #injected-game, thead b').count(), 0);
    assert.is(await page.evaluate(() => (globalThis as any).injected), undefined);
    assert.equal(problems, []);
  } finally {
    await page.close();
  }
});

/** The board's day for a cafe in `timezone`, as the page names it; today there as the test sees it, before and after. */
async function defaultDay(timezone: string): Promise<{ shown: string; today: string[] }> {
  const vendor = await createVendor({ cafe_name: `Cafe ${randomUUID().slice(0, 8)}`, timezone });
  const before = localNow(timezone).date;
  const response = await fetch(`${web!.url}/board/${vendor.id}`, { headers: { accept: 'text/html' } });
  const after = localNow(timezone).date;
  assert.is(response.status, 200);
  const shown = /data-date="(\d{4}-\d{2}-\d{2})"/.exec(await response.text())?.[1];
  assert.ok(shown, 'the page names its day');
  return { shown: shown!, today: [before, after] };
}

board('without ?date= the board shows today in the cafe zone', async () => {
  // UTC+14 and UTC−11 are 25 hours apart: their calendar dates always differ, whatever the server's.
  const east = await defaultDay('Pacific/Kiritimati');
  const west = await defaultDay('Pacific/Pago_Pago');
  assert.ok(east.today.includes(east.shown), `Kiritimati: ${east.shown} is not ${east.today}`);
  assert.ok(west.today.includes(west.shown), `Pago Pago: ${west.shown} is not ${west.today}`);
  assert.is.not(east.shown, west.shown);

  const vendor = await createVendor({ cafe_name: `Cafe ${randomUUID().slice(0, 8)}`, timezone: 'Pacific/Kiritimati' });
  await makeGame(vendor.id, { slots: [['23:00', '24:00']] });
  const { page, problems } = await openBoard(`/board/${vendor.id}`);
  try {
    const today = localNow('Pacific/Kiritimati').date;
    assert.ok([today, east.shown].includes((await page.locator('#board-date').textContent())!));
    assert.is(await page.locator('td[data-slot-id]').count(), 1);
    assert.equal(problems, []);
  } finally {
    await page.close();
  }
});

board('the page and its assets: security headers, no inline script, the realtime origin', async () => {
  const vendor = await createVendor({ cafe_name: `Cafe ${randomUUID().slice(0, 8)}` });
  const response = await fetch(`${web!.url}/board/${vendor.id}`, { headers: { accept: 'text/html' } });
  assert.is(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
  const html = await response.text();
  assert.match(html, `data-realtime-url="http://127.0.0.1:${realtimePort}"`);

  const csp = response.headers.get('content-security-policy') ?? '';
  const directives = Object.fromEntries(csp.split(';').map((part) => part.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
  assert.equal(directives['default-src'], ["'none'"]);
  assert.equal(directives['script-src'], ["'self'"]);
  assert.equal(directives['connect-src'], ["'self'", `http://127.0.0.1:${realtimePort}`, `ws://127.0.0.1:${realtimePort}`]);
  assert.equal(directives['frame-ancestors'], ["'none'"]);
  assert.is(response.headers.get('x-frame-options'), 'DENY');
  assert.is(response.headers.get('x-content-type-options'), 'nosniff');
  const scripts = html.match(/<script\b[^>]*>/g) ?? [];
  assert.is(scripts.length, 2);
  for (const tag of scripts) assert.match(tag, /^<script src="\/board\/assets\/[a-z.]+\.js\?v=[0-9a-f]{12}">$/);
  assert.not.match(html, /\son[a-z]+=/i, 'no inline event handlers');
  assert.not.match(html, /<style\b|\sstyle=/i, 'no inline styles');

  for (const [name, type] of [['board.js', 'text/javascript'], ['board.css', 'text/css'], ['favicon.svg', 'image/svg+xml'], ['socket.io.min.js', 'text/javascript']]) {
    const served = await fetch(`${web!.url}/board/assets/${name}`);
    assert.is(served.status, 200, name);
    assert.match(served.headers.get('content-type') ?? '', type);
    assert.is(served.headers.get('x-content-type-options'), 'nosniff');
  }
  assert.is((await fetch(`${web!.url}/board/assets/..%2Fboard.html`)).status, 404);
  assert.is((await fetch(`${web!.url}/board/assets/constructor`)).status, 404);
});

board('BOARD_REALTIME_URL names the realtime origin of the page and its policy', async () => {
  assert.is(parseConfig({ ...process.env, BOARD_REALTIME_URL: 'https://rt.example.com/' }).boardRealtimeUrl, 'https://rt.example.com');
  assert.is(parseConfig({ ...process.env, BOARD_REALTIME_URL: '' }).boardRealtimeUrl, null);
  for (const bad of ['rt.example.com', 'ftp://rt.example.com', 'https://rt.example.com/socket']) {
    assert.throws(() => parseConfig({ ...process.env, BOARD_REALTIME_URL: bad }), /BOARD_REALTIME_URL/, bad);
  }

  const [port] = await distinctFreePorts(1);
  const configured = await startWeb(port, { BOARD_REALTIME_URL: 'https://rt.example.com' });
  try {
    const vendor = await createVendor({ cafe_name: `Cafe ${randomUUID().slice(0, 8)}` });
    const response = await fetch(`${configured.url}/board/${vendor.id}`);
    assert.is(response.status, 200);
    assert.match(await response.text(), 'data-realtime-url="https://rt.example.com"');
    assert.match(response.headers.get('content-security-policy') ?? '', "connect-src 'self' https://rt.example.com wss://rt.example.com;");
  } finally {
    await configured.stop();
  }
});

board('an unknown cafe is 404 and a malformed id or date 400, as a page for browsers and JSON otherwise', async () => {
  const vendor = await createVendor({ cafe_name: `Cafe ${randomUUID().slice(0, 8)}` });
  const unknown = 2_000_000_000;
  const asJson = await fetch(`${web!.url}/board/${unknown}`);
  assert.is(asJson.status, 404);
  assert.equal(await asJson.json(), { message: 'Cafe not found', code: 'not_found' });

  const asPage = await fetch(`${web!.url}/board/${unknown}`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
  assert.is(asPage.status, 404);
  assert.match(asPage.headers.get('content-type') ?? '', /^text\/html/);
  assert.is(asPage.headers.get('x-frame-options'), 'DENY');
  assert.is(asPage.headers.get('x-content-type-options'), 'nosniff');
  assert.match(asPage.headers.get('content-security-policy') ?? '', "default-src 'none'");
  assert.match(await asPage.text(), 'No such cafe');

  for (const date of ['2026-13-40', 'tomorrow', '2026-02-30']) {
    const refused = await fetch(`${web!.url}/board/${vendor.id}?date=${date}`);
    assert.is(refused.status, 400, date);
    assert.is(((await refused.json()) as { code: string }).code, 'validation_failed');
  }
  for (const id of ['not-a-cafe', '0', '-1', '1.5']) {
    assert.is((await fetch(`${web!.url}/board/${id}`)).status, 400, id);
  }

  const browserView = await browser!.newPage();
  try {
    const response = await browserView.goto(`${web!.url}/board/${unknown}`);
    assert.is(response?.status(), 404);
    assert.is(await browserView.locator('h1').textContent(), 'No such cafe');
    const refused = await browserView.goto(`${web!.url}/board/${vendor.id}?date=tomorrow`);
    assert.is(refused?.status(), 400);
    assert.is(await browserView.locator('h1').textContent(), 'Bad request');
  } finally {
    await browserView.close();
  }
});

board.run();
