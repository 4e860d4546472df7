import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bookingDay, canHold, datesThatAreTodaySomewhere, hasStarted, isShopOpen, isSlotBookable, upcomingSlots, vendorToday,
} from '../../src/domain/slot-availability';

const everyDay = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
// 2026-11-24T20:00:00Z is Wednesday 01:30 in Kolkata and Tuesday 15:00 in New York.
const instant = new Date('2026-11-24T20:00:00Z');
const kolkata = { timezone: 'Asia/Kolkata', opening_days: everyDay };
const newYork = { timezone: 'America/New_York', opening_days: everyDay };

test('a date is past, today or future on the vendor calendar, not the server one', () => {
  assert.equal(bookingDay(kolkata, '2026-11-25', instant), { date: '2026-11-25', open: true, relation: 'today', daysAhead: 0, localTime: '01:30:00' });
  assert.is(bookingDay(kolkata, '2026-11-24', instant).relation, 'past');
  assert.is(bookingDay(newYork, '2026-11-24', instant).relation, 'today');
  assert.is(bookingDay(newYork, '2026-11-25', instant).relation, 'future');
  assert.is(vendorToday(newYork, instant).date, '2026-11-24');
  assert.is(vendorToday(kolkata, instant).date, '2026-11-25');
});

test('opening days decide whether the day is open', () => {
  const weekdaysOnly = { timezone: 'Asia/Kolkata', opening_days: ['mon', 'tue', 'wed', 'thu', 'fri'] };
  assert.is(bookingDay(weekdaysOnly, '2026-11-28', instant).open, false); // a Saturday
  assert.is(bookingDay(weekdaysOnly, '2026-11-27', instant).open, true); // a Friday
  // Wednesday in Kolkata, Tuesday in New York, at the same instant.
  assert.is(isShopOpen({ timezone: 'Asia/Kolkata', opening_days: ['wed'] }, instant), true);
  assert.is(isShopOpen({ timezone: 'America/New_York', opening_days: ['wed'] }, instant), false);
  assert.is(isShopOpen({ timezone: 'America/New_York', opening_days: ['tue'] }, instant), true);
});

test('today: only slots starting after the current local second are ahead', () => {
  const today = bookingDay(newYork, '2026-11-24', instant); // 15:00:00 local
  assert.is(hasStarted(today, '14:59:59'), true);
  assert.is(hasStarted(today, '15:00:00'), true);
  assert.is(hasStarted(today, '15:00:01'), false);
  assert.is(isSlotBookable(today, '16:00:00', 1, 90), true);
  assert.is(isSlotBookable(today, '14:00:00', 3, 90), false);
});

test('a date beyond MAX_DAYS_AHEAD in the vendor\'s zone cannot be held', () => {
  // 2026-11-24 15:00 in New York, 2026-11-25 01:30 in Kolkata: the horizon counts from each one's today.
  assert.is(bookingDay(newYork, '2027-02-22', instant).daysAhead, 90);
  assert.is(bookingDay(kolkata, '2027-02-22', instant).daysAhead, 89);
  assert.is(canHold(bookingDay(newYork, '2027-02-22', instant), '10:00:00', 90), true);
  assert.is(canHold(bookingDay(newYork, '2027-02-23', instant), '10:00:00', 90), false);
  assert.is(isSlotBookable(bookingDay(newYork, '9999-12-31', instant), '10:00:00', 5, 90), false);
  assert.is(bookingDay(newYork, '2026-11-20', instant).daysAhead, -4);
});

test('past days are never bookable, future days whenever units are left', () => {
  const past = bookingDay(newYork, '2026-11-23', instant);
  const future = bookingDay(newYork, '2026-11-30', instant);
  assert.is(isSlotBookable(past, '23:00:00', 3, 90), false);
  assert.is(isSlotBookable(future, '00:00:00', 1, 90), true);
  assert.is(isSlotBookable(future, '00:00:00', 0, 90), false);
  const closedFuture = bookingDay({ timezone: 'America/New_York', opening_days: ['sun'] }, '2026-11-30', instant);
  assert.is(isSlotBookable(closedFuture, '10:00:00', 3, 90), false);
});

test('upcoming slots: the next ones not started, earliest first, at most the limit', () => {
  const today = bookingDay(newYork, '2026-11-24', instant); // 15:00:00 local
  const slots = ['22:00:00', '09:00:00', '15:00:00', '16:00:00', '17:00:00', '18:00:00', '19:00:00', '20:00:00', '21:00:00']
    .map((start_time, id) => ({ id, start_time }));
  assert.equal(upcomingSlots(today, slots).map((slot) => slot.start_time),
    ['16:00:00', '17:00:00', '18:00:00', '19:00:00', '20:00:00', '21:00:00']);
  assert.equal(upcomingSlots(today, slots, 2).map((slot) => slot.start_time), ['16:00:00', '17:00:00']);
  assert.equal(upcomingSlots(today, slots.slice(0, 3).filter((slot) => slot.start_time < '16:00:00')), []);
  const closed = bookingDay({ timezone: 'America/New_York', opening_days: ['mon'] }, '2026-11-24', instant);
  assert.equal(upcomingSlots(closed, slots), []);
});

test('the dates that can be today cover every zone from UTC-12 to UTC+14', () => {
  assert.equal(datesThatAreTodaySomewhere(instant), ['2026-11-23', '2026-11-24', '2026-11-25']);
  for (const zone of ['Pacific/Kiritimati', 'Pacific/Pago_Pago', 'Etc/GMT+12', 'Etc/GMT-14', 'UTC']) {
    for (const at of ['2026-11-24T00:00:00Z', '2026-11-24T09:59:59Z', '2026-11-24T23:59:59Z']) {
      const now = new Date(at);
      assert.ok(datesThatAreTodaySomewhere(now).includes(vendorToday({ timezone: zone, opening_days: everyDay }, now).date), `${zone} at ${at}`);
    }
  }
});

test.run();
