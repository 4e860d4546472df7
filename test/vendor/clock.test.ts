import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { db } from '../../src/db/knex';
import { adminToken, api } from '../helpers/api';
import { bookingCafe, eventually, holdOrFail, useWorkers, zoneWhereLocalHourIs } from '../helpers/bookings';
import { makeGame } from '../helpers/fixtures';
import { confirm, credit } from '../helpers/payments';
import { localNow } from '../../src/domain/dates';
import { resyncByClock } from '../../src/workers/vendor-sync';
import { assertVendorTablesMatchTruth } from './truth';

// upcoming → current → completed follows the cafe's clock (the sweeper's `vendor-clock`
// schedule). Slots are made to start a few seconds from now on the cafe's wall clock, booked
// while still ahead, and then left to start (and one to end). The cafe's zone shows 12:xx now,
// so the slots stay within today whatever the time of day where the test runs.

const test = suite('vendor tables: clock');
useWorkers(test, 1);

const LEAD_SECONDS = 15;

function clockIn(zone: string, secondsFromNow: number): string {
  return localNow(zone, new Date(Date.now() + secondsFromNow * 1000)).time;
}

test('a booking whose slot began shows current, one whose slot ended completed, a later one stays upcoming', async () => {
  const zone = zoneWhereLocalHourIs(12);
  const cafe = await bookingCafe({ timezone: zone, opening_days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], price_rupees: 100 });
  const start = clockIn(zone, LEAD_SECONDS);
  const { game, slots } = await makeGame(cafe.vendor.id, {
    total_slots: 2, price_rupees: 100,
    slots: [[start, clockIn(zone, LEAD_SECONDS + 3)], [clockIn(zone, LEAD_SECONDS + 4), clockIn(zone, 1800)], ['20:00', '21:00']],
  });
  const today = localNow(zone).date;
  const local = { ...cafe, game, slots, date: today };
  await credit(cafe.user.id, 1000);
  const [ending, running, later] = await holdOrFail(local, slots.map((s) => s.id));
  const confirmed = await confirm(cafe.token, { booking_id: [ending, running, later], payment_mode: 'wallet' });
  assert.is(confirmed.status, 200, JSON.stringify(confirmed.body));
  const statuses = async () => Object.fromEntries((await api('GET', `/vendor/${cafe.vendor.id}/dashboard?date=${today}`, { token: adminToken() }))
    .body.bookings.map((b: { book_id: number; book_status: string }) => [b.book_id, b.book_status]));
  await eventually(async () => Object.keys(await statuses()).length === 3, 'the confirmation to reach the dashboard', 10_000);
  assert.equal(await statuses(), { [ending]: 'upcoming', [running]: 'upcoming', [later]: 'upcoming' });

  // Both early slots have started, the first has ended: the clock moves their rows on.
  await eventually(async () => localNow(zone).time > slots[1].start_time, 'the slots to start', 30_000, 250);
  // The workers' own `vendor-clock` schedule (every 60 s) may get there first: then this run finds
  // the rows already moved on, and the end state is the same.
  const queued = await resyncByClock();
  if (queued === 0) assert.not.equal(await statuses(), { [ending]: 'upcoming', [running]: 'upcoming', [later]: 'upcoming' }, 'nothing moved the rows on');
  await eventually(async () => {
    const now = await statuses();
    return now[ending] === 'completed' && now[running] === 'current' ? now : undefined;
  }, 'the clock to move the rows on', 10_000);
  assert.is((await statuses())[later], 'upcoming');
  await assertVendorTablesMatchTruth([cafe.vendor.id]);
  // Nothing left to move: a second run queues nothing.
  const rows = await db('vendor_dashboard').where('vendor_id', cafe.vendor.id).select('book_id', 'book_status');
  assert.is(rows.length, 3);
  assert.is(await resyncByClock(), 0);
});

test.run();
