import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { config } from '../../src/config';
import { allQueueNames } from '../../src/jobs/queues';
import { freePort } from '../../scripts/test-env';
import { adminToken, api, tokenFor } from '../helpers/api';
import { bookingCafe, eventually, holdOrFail } from '../helpers/bookings';
import { startWorkers, stopWorkers, WorkerProcess } from '../helpers/workers';
import { basic, startWeb } from './web-process';

// GET /metrics (SPEC §5.5): web's HTTP figures by route template, every queue's depth and job
// latency from Redis, bookings, refunds and outbox lag from PostgreSQL; a worker's own figures on
// METRICS_PORT; METRICS_AUTH=basic puts /metrics behind the admin credentials.

let workerMetricsPort = 0;
let workers: WorkerProcess[] = [];

test.before(async () => {
  workerMetricsPort = await freePort();
  workers = await startWorkers(1, { METRICS_PORT: String(workerMetricsPort) });
});

test.after(async () => {
  await stopWorkers(workers);
});

/** Parses Prometheus text into `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    map.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return map;
}

async function scrape(): Promise<{ text: string; values: Map<string, number> }> {
  const response = await api('GET', '/metrics');
  assert.is(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
  return { text: response.body as string, values: samples(response.body as string) };
}

const bookingsTotal = (values: Map<string, number>) =>
  [...values].filter(([key]) => key.startsWith('hfg_bookings{')).reduce((sum, [, n]) => sum + n, 0);

test('the figures SPEC §5.5 names are there: queues, bookings, refunds, outbox, HTTP, process', async () => {
  const { text, values } = await scrape();
  for (const name of allQueueNames()) {
    for (const state of ['waiting', 'active', 'delayed', 'failed']) {
      assert.ok(values.has(`hfg_queue_jobs{queue="${name}",state="${state}"}`), `${name} ${state}`);
    }
  }
  for (const status of ['pending_verified', 'confirmed', 'cancelled', 'verification_failed', 'refunded']) {
    assert.ok(values.has(`hfg_bookings{status="${status}"}`), status);
  }
  for (const name of ['hfg_refunds{status="pending"}', 'hfg_outbox_pending', 'hfg_outbox_oldest_age_seconds',
    'hfg_metrics_source_up{source="redis"}', 'hfg_metrics_source_up{source="postgres"}', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds']) {
    assert.ok(values.has(name), name);
  }
  assert.is(values.get('hfg_metrics_source_up{source="redis"}'), 1);
  assert.is(values.get('hfg_metrics_source_up{source="postgres"}'), 1);
  assert.match(text, /# TYPE hfg_http_request_duration_seconds histogram/);
});

test('a hold changes the figures: one more booking, and its partition shows job latency', async () => {
  const before = bookingsTotal((await scrape()).values);
  const cafe = await bookingCafe();
  await holdOrFail(cafe, [cafe.slots[10].id]);
  const { values } = await scrape();
  assert.ok(bookingsTotal(values) >= before + 1, `bookings ${before} → ${bookingsTotal(values)}`);
  assert.ok(values.get('hfg_bookings{status="pending_verified"}')! >= 1);
  const latencies = [...values].filter(([key]) => /^hfg_queue_job_run_seconds\{queue="booking-\d+",quantile="0.99"\}$/.test(key));
  assert.ok(latencies.length >= 1, 'run-time figures for a booking partition');
  assert.ok(latencies.every(([, seconds]) => seconds >= 0 && seconds < 60));
  assert.ok([...values.keys()].some((key) => /^hfg_queue_job_wait_seconds\{queue="booking-\d+",quantile="0.5"\}$/.test(key)));
});

test('HTTP latency is labelled by route template and status class, never by the raw path', async () => {
  const vendorId = 987_654_321;
  await api('GET', `/games/vendor/${vendorId}`);
  await api('GET', `/api/games/vendor/${vendorId + 1}`);
  await api('GET', `/no/such/path/${vendorId}`);
  await api('GET', '/bookings/424242', { token: tokenFor('user', 5) });
  const { text, values } = await scrape();
  assert.not.match(text, String(vendorId));
  assert.not.match(text, '424242');
  assert.not.match(text, '/no/such');
  assert.ok(values.get('hfg_http_request_duration_seconds_count{method="GET",route="/games/vendor/:vendor_id",status_class="4xx"}')! >= 2);
  assert.ok(values.get('hfg_http_request_duration_seconds_count{method="GET",route="unmatched",status_class="4xx"}')! >= 1);
  assert.ok([...values.keys()].some((key) => key.startsWith('hfg_http_request_duration_seconds_bucket{') && key.includes('route="/bookings/:booking_id"')));
});

test('a worker serves its own figures on METRICS_PORT: process figures and the jobs it ran', async () => {
  const cafe = await bookingCafe();
  await holdOrFail(cafe, [cafe.slots[5].id]);
  const text = await eventually(async () => {
    const response = await fetch(`http://127.0.0.1:${workerMetricsPort}/metrics`);
    assert.is(response.status, 200);
    const body = await response.text();
    return /hfg_worker_jobs_total\{queue="booking-\d+",name="hold",outcome="completed"\} [1-9]/.test(body) ? body : undefined;
  }, 'the worker to count the hold');
  assert.match(text, /process_cpu_seconds_total/);
  assert.match(text, /hfg_worker_job_duration_seconds_bucket\{/);
  assert.is((await fetch(`http://127.0.0.1:${workerMetricsPort}/other`)).status, 404);
});

test('METRICS_AUTH=basic: the admin Basic credentials or an admin token, nobody else', async () => {
  const web = await startWeb({ METRICS_AUTH: 'basic' });
  try {
    const get = (authorization?: string) => fetch(`${web.base}/metrics`, { headers: authorization ? { authorization } : {} });
    const anonymous = await get();
    assert.is(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic realm=/);
    assert.is(((await anonymous.json()) as { code: string }).code, 'unauthenticated');
    assert.is((await get(basic(config.adminUser, 'wrong-password'))).status, 401);
    assert.is((await get(`Bearer ${tokenFor('user', 9)}`)).status, 403);
    for (const authorization of [basic(config.adminUser, config.adminPassword), `Bearer ${adminToken()}`]) {
      const response = await get(authorization);
      assert.is(response.status, 200);
      assert.match(await response.text(), /hfg_queue_jobs\{/);
    }
  } finally {
    await web.stop();
  }
});

test.run();
