import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { localNow, parseCalendarDate, parseClockTime, weekdayOf, zonedInstant } from '../../src/domain/dates';

test('calendar dates: both spellings, impossible dates refused', () => {
  assert.is(parseCalendarDate('2026-11-24'), '2026-11-24');
  assert.is(parseCalendarDate('20261124'), '2026-11-24');
  assert.is(parseCalendarDate('20251345'), null);
  assert.is(parseCalendarDate('2025-02-29'), null);
  assert.is(parseCalendarDate('2024-02-29'), '2024-02-29');
  assert.is(parseCalendarDate('2025-0101'), null);
  assert.is(parseCalendarDate('24-11-2026'), null);
  assert.is(parseCalendarDate('2026-11-24T00:00:00Z'), null);
});

test('weekday of a date', () => {
  assert.is(weekdayOf('2026-11-25'), 'wed');
  assert.is(weekdayOf('2026-11-29'), 'sun');
});

test('local time in a vendor zone', () => {
  const instant = new Date('2026-11-24T20:00:00Z');
  assert.equal(localNow('Asia/Kolkata', instant), { date: '2026-11-25', time: '01:30:00', weekday: 'wed' });
  assert.equal(localNow('America/New_York', instant), { date: '2026-11-24', time: '15:00:00', weekday: 'tue' });
  assert.is(zonedInstant('Asia/Kolkata', '2026-11-25', '01:30').toISOString(), instant.toISOString());
  assert.is(zonedInstant('America/New_York', '2026-07-01', '12:00').toISOString(), '2026-07-01T16:00:00.000Z');
});

test('clock times', () => {
  assert.is(parseClockTime('19:00'), 19 * 3600);
  assert.is(parseClockTime('19:00:30'), 19 * 3600 + 30);
  assert.is(parseClockTime('24:00'), null);
  assert.is(parseClockTime('7:00'), null);
});

test.run();
