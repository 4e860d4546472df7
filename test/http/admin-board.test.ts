import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chromium } from 'playwright-core';
import { config } from '../../src/config';
import { queue, QUEUE_NAMES } from '../../src/jobs/queues';
import { adminToken, api, apiBaseUrl, tokenFor } from '../helpers/api';
import { eventually } from '../helpers/bookings';
import { makeUser } from '../helpers/fixtures';
import { startWorkers, stopWorkers, WorkerProcess } from '../helpers/workers';
import { basic, freshAddress } from './web-process';

// Bull Board as SPEC §5.5 says: it retries failed jobs and changes nothing else, refused by the
// server (a forged request to its API is 403, whatever the UI shows); wrong Basic passwords are
// limited per address; the security headers of every answer.

const adminBasic = () => basic(config.adminUser, config.adminPassword);
const board = (method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}) =>
  api(method, `/admin/queues/api${path}`, { body: options.body ?? (method === 'GET' ? undefined : {}), headers: { authorization: adminBasic(), ...options.headers } });

let workers: WorkerProcess[] = [];
test.before(async () => {
  workers = await startWorkers(1);
});
test.after(async () => {
  await stopWorkers(workers);
});

test('no admin click lifts a booking partition\'s concurrency of 1 (or its rate limit): forged API calls are 403', async () => {
  const partition = queue('booking-0');
  await partition.setGlobalConcurrency(1);
  for (const headers of [{ authorization: adminBasic() }, { authorization: `Bearer ${adminToken()}` }]) {
    for (const path of ['/queues/booking-0/concurrency', '/queues/booking-0/CONCURRENCY', '/queues/booking-0/concurrency/', '/queues/booking-0/%63oncurrency']) {
      const response = await board('PUT', path, { body: { concurrency: 50 }, headers });
      assert.is(response.status, 403, path);
      assert.is(response.body.code, 'forbidden');
    }
    const viaPrefix = await api('PUT', '/api/admin/queues/api/queues/booking-0/concurrency', { body: { concurrency: 50 }, headers });
    assert.is(viaPrefix.status, 403);
  }
  assert.is(await partition.getGlobalConcurrency(), 1);
  assert.is((await board('PUT', '/queues/booking-0/rate-limit', { body: { max: 1000, duration: 1 } })).status, 403);
});

test('every other change is refused: add, pause, empty, clean, obliterate, promote, remove, edit, schedulers, purge', async () => {
  const forged: Array<[string, string]> = [
    ['POST', '/queues/sweeper/add'],
    ['PUT', '/queues/pause'],
    ['PUT', '/queues/resume'],
    ['PUT', '/queues/sweeper/pause'],
    ['PUT', '/queues/sweeper/resume'],
    ['PUT', '/queues/sweeper/empty'],
    ['PUT', '/queues/sweeper/obliterate'],
    ['PUT', '/queues/sweeper/clean/completed'],
    ['PUT', '/queues/sweeper/clean/retry'],
    ['PUT', '/queues/sweeper/CLEAN/retry'],
    ['PUT', '/queues/sweeper/retry/retry'],
    ['PUT', '/queues/sweeper/retry/completed'],
    ['PUT', '/queues/sweeper/promote'],
    ['PUT', '/queues/sweeper/rate-limit/release'],
    ['PUT', '/queues/sweeper/some-job/clean'],
    ['PUT', '/queues/sweeper/some-job/promote'],
    ['PATCH', '/queues/sweeper/some-job/update-data'],
    ['PATCH', '/queues/sweeper/some-job/delay'],
    ['PATCH', '/queues/sweeper/some-job/priority'],
    ['PUT', '/queues/sweeper/some-job/remove-unprocessed-children'],
    ['PUT', '/queues/sweeper/job-schedulers/sweep-expired-holds/remove'],
    ['PATCH', '/queues/sweeper/job-schedulers/sweep-expired-holds'],
    ['PUT', '/queues/sweeper/job-schedulers/sweep-expired-holds/run'],
    ['POST', '/metrics/history/purge'],
    ['DELETE', '/queues/sweeper'],
  ];
  const waitingBefore = await queue(QUEUE_NAMES.sweeper).count();
  for (const [method, path] of forged) {
    const response = await board(method, path, { body: { name: 'forged', data: {} } });
    assert.is(response.status, 403, `${method} ${path}: ${JSON.stringify(response.body)}`);
  }
  assert.is(await queue(QUEUE_NAMES.sweeper).isPaused(), false);
  assert.ok((await queue(QUEUE_NAMES.sweeper).count()) <= waitingBefore + 1, 'no job added');
  assert.ok((await queue(QUEUE_NAMES.sweeper).getJobSchedulers()).some((s) => s.key === 'sweep-expired-holds' || s.id === 'sweep-expired-holds'));
});

test('retrying failed jobs is allowed, one or all; a completed job is not run again', async () => {
  const sweeper = queue(QUEUE_NAMES.sweeper);
  // The sweeper worker fails a job name it does not know: a failed job to retry.
  const failing = await sweeper.add('not-a-sweeper-job', {}, { attempts: 1 });
  const firstFailure = await eventually(async () => {
    const job = await sweeper.getJob(failing.id!);
    return job && (await job.getState()) === 'failed' ? job.finishedOn! : undefined;
  }, 'the job to fail', 10_000);
  const retried = await board('PUT', `/queues/sweeper/${encodeURIComponent(failing.id!)}/retry`);
  assert.is(retried.status, 204, JSON.stringify(retried.body));
  await eventually(async () => {
    const job = await sweeper.getJob(failing.id!);
    return job && (await job.getState()) === 'failed' && job.finishedOn! > firstFailure ? true : undefined;
  }, 'the retried job to run (and fail) again', 10_000);
  const all = await board('PUT', '/queues/sweeper/retry/failed');
  assert.is(all.status, 200, JSON.stringify(all.body));
  assert.ok(all.body.retried >= 1);

  const completing = await sweeper.add('prune-ledger', {});
  await eventually(async () => ((await sweeper.getJob(completing.id!)) && (await (await sweeper.getJob(completing.id!))!.getState()) === 'completed') || undefined, 'prune-ledger to complete', 10_000);
  const again = await board('PUT', `/queues/sweeper/${completing.id}/retry`);
  assert.equal([again.status, again.body.code, again.body.details?.state], [409, 'invalid_state', 'completed'], JSON.stringify(again.body));
  assert.is((await board('PUT', '/queues/sweeper/no-such-job/retry')).status, 404);
  assert.is((await board('PUT', '/queues/no-such-queue/1/retry')).status, 404);
  assert.is((await board('PUT', '/queues/no-such-queue/retry/failed')).status, 404);
  assert.is((await board('GET', '/queues')).status, 200, 'reads pass');
});

test('retries of one failed job sent at once: each is run once or refused 409, never a 500', async () => {
  const sweeper = queue(QUEUE_NAMES.sweeper);
  const failing = await sweeper.add('not-a-sweeper-job', {}, { attempts: 1 });
  await eventually(async () => ((await (await sweeper.getJob(failing.id!))?.getState()) === 'failed') || undefined, 'the job to fail', 10_000);
  const answers = await Promise.all(Array.from({ length: 16 }, () => board('PUT', `/queues/sweeper/${encodeURIComponent(failing.id!)}/retry`)));
  const statuses = answers.map((answer) => answer.status);
  assert.ok(statuses.every((status) => status === 204 || status === 409), JSON.stringify(statuses));
  assert.ok(answers.every((answer) => answer.status === 204 || answer.body.code === 'invalid_state'), 'refusals are the API\'s own error shape');
  const retried = statuses.filter((status) => status === 204).length;
  assert.ok(retried >= 1);
  // The job fails at once, so a late request may find it failed again and retry it rightly; but
  // every 204 is exactly one more run: the first attempt and one per accepted retry.
  await eventually(async () => {
    const job = await sweeper.getJob(failing.id!);
    return job && (await job.getState()) === 'failed' && job.attemptsStarted === 1 + retried ? true : undefined;
  }, `the job to have run ${1 + retried} times`, 10_000);
});

test('the board page loads and lists the queues under its Content-Security-Policy', async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const context = await browser.newContext({ httpCredentials: { username: config.adminUser, password: config.adminPassword } });
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    const response = await page.goto(`${await apiBaseUrl()}/admin/queues`);
    assert.is(response?.status(), 200);
    const csp = response!.headers()['content-security-policy'] ?? '';
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.is(response!.headers()['x-frame-options'], 'DENY');
    await page.getByText('booking-0').first().waitFor({ timeout: 15_000 });
    await page.getByText('payment-verification').first().waitFor({ timeout: 5_000 });
    assert.equal(violations, []);
  } finally {
    await browser.close();
  }
});

test('wrong Basic passwords: after 10 from one address, 429 for that address (even the right password), not for others', async () => {
  const address = freshAddress();
  const attempt = (authorization: string, from = address) => api('GET', '/admin/queues/api/queues', { headers: { authorization, 'x-forwarded-for': from } });
  for (let i = 0; i < 10; i++) {
    const response = await attempt(basic(config.adminUser, `guess-${i}`));
    assert.is(response.status, 401, `guess ${i + 1}`);
  }
  const refused = await attempt(basic(config.adminUser, 'guess-10'));
  assert.is(refused.status, 429);
  assert.is(refused.body.code, 'rate_limited');
  const retryAfter = Number(refused.headers.get('retry-after'));
  assert.ok(retryAfter > 0 && retryAfter <= 15 * 60, `Retry-After ${retryAfter}`);
  assert.is((await attempt(adminBasic())).status, 429, 'the right password does not pass while blocked');
  assert.is((await attempt(adminBasic(), freshAddress())).status, 200, 'another address');
  assert.is((await attempt(`Bearer ${adminToken()}`)).status, 200, 'an admin token is not a guess');
});

test('a burst of wrong Basic passwords sent at once from one address: no more than 10 are compared', async () => {
  const address = freshAddress();
  const answers = await Promise.all(Array.from({ length: 60 }, (_, i) =>
    api('GET', '/admin/queues/api/queues', { headers: { authorization: basic(config.adminUser, `burst-${i}`), 'x-forwarded-for': address } })));
  const statuses = answers.map((answer) => answer.status);
  assert.is(statuses.filter((status) => status === 401).length, 10, JSON.stringify(statuses));
  assert.is(statuses.filter((status) => status === 429).length, 50);
});

test('headers: nosniff on every answer; no-store on authenticated answers; public catalog reads stay cacheable', async () => {
  const user = await makeUser();
  const token = tokenFor('user', user.id);
  for (const [path, options] of [['/games', {}], ['/health', {}], ['/no-such-route', {}], [`/bookings/user/${user.id}`, { token }], ['/jobs/not-a-job', { token }]] as const) {
    const response = await api('GET', path, options);
    assert.is(response.headers.get('x-content-type-options'), 'nosniff', path);
  }
  for (const path of [`/bookings/user/${user.id}`, `/users/${user.id}/wallet`, '/jobs/not-a-job', `/users/${user.id}`]) {
    const response = await api('GET', path, { token });
    assert.is(response.headers.get('cache-control'), 'no-store', `${path} (${response.status})`);
  }
  const refusal = await api('GET', `/bookings/user/${user.id}`, { token: tokenFor('user', user.id + 1) });
  assert.is(refusal.headers.get('cache-control'), 'no-store');
  const catalog = await api('GET', '/games');
  assert.is(catalog.status, 200);
  assert.is.not(catalog.headers.get('cache-control'), 'no-store');
  const html = await api('GET', '/admin/queues', { headers: { authorization: adminBasic() } });
  assert.is(html.headers.get('x-frame-options'), 'DENY');
  assert.match(html.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
  assert.is(html.headers.get('cache-control'), 'no-store');
  assert.is(html.headers.get('x-content-type-options'), 'nosniff');
});

test.run();
