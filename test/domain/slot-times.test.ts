import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findOverlaps, normalizeWindow, normalizeWindows, windowsFromOpeningHours, windowsOverlap } from '../../src/domain/slot-times';

test('opening hours become consecutive windows; a last partial window is dropped', () => {
  const hourly = windowsFromOpeningHours({ open: '10:00', close: '13:30', minutes: 60 });
  assert.equal(hourly, {
    ok: true,
    windows: [
      { start_time: '10:00:00', end_time: '11:00:00' },
      { start_time: '11:00:00', end_time: '12:00:00' },
      { start_time: '12:00:00', end_time: '13:00:00' },
    ],
  });
  const exact = windowsFromOpeningHours({ open: '22:00', close: '23:30', minutes: 45 });
  assert.equal(exact, {
    ok: true,
    windows: [
      { start_time: '22:00:00', end_time: '22:45:00' },
      { start_time: '22:45:00', end_time: '23:30:00' },
    ],
  });
});

test('opening hours that fit no slot, or close before they open, are refused', () => {
  const tooShort = windowsFromOpeningHours({ open: '10:00', close: '10:30', minutes: 60 });
  assert.is(tooShort.ok, false);
  const backwards = windowsFromOpeningHours({ open: '22:00', close: '10:00', minutes: 60 });
  assert.is(backwards.ok, false);
  if (!backwards.ok) assert.match(backwards.reason, /after open/);
  assert.is(windowsFromOpeningHours({ open: '10:00', close: '10:00', minutes: 60 }).ok, false);
  assert.is(windowsFromOpeningHours({ open: '10:00', close: '12:00', minutes: 0 }).ok, false);
  assert.is(windowsFromOpeningHours({ open: '25:00', close: '26:00', minutes: 60 }).ok, false);
});

test('a window is normalised to HH:MM:SS and must end after it starts', () => {
  assert.equal(normalizeWindow({ start_time: '19:00', end_time: '20:00:30' }), {
    ok: true,
    windows: [{ start_time: '19:00:00', end_time: '20:00:30' }],
  });
  assert.is(normalizeWindow({ start_time: '20:00', end_time: '20:00' }).ok, false);
  assert.is(normalizeWindow({ start_time: '20:00', end_time: '19:00' }).ok, false);
  assert.is(normalizeWindow({ start_time: '7:00', end_time: '8:00' }).ok, false);
});

test('a list of windows is sorted by start time, and refused if any one is bad', () => {
  assert.equal(normalizeWindows([{ start_time: '12:00', end_time: '13:00' }, { start_time: '09:00', end_time: '10:00' }]), {
    ok: true,
    windows: [
      { start_time: '09:00:00', end_time: '10:00:00' },
      { start_time: '12:00:00', end_time: '13:00:00' },
    ],
  });
  assert.is(normalizeWindows([{ start_time: '09:00', end_time: '10:00' }, { start_time: '11:00', end_time: '10:00' }]).ok, false);
});

test('overlap is half-open: touching windows do not overlap', () => {
  assert.is(windowsOverlap({ start_time: '10:00', end_time: '11:00' }, { start_time: '11:00', end_time: '12:00' }), false);
  assert.is(windowsOverlap({ start_time: '10:00', end_time: '11:00' }, { start_time: '10:59', end_time: '12:00' }), true);
  assert.is(windowsOverlap({ start_time: '10:00', end_time: '12:00' }, { start_time: '10:30', end_time: '11:00' }), true);
  assert.is(windowsOverlap({ start_time: '10:30', end_time: '11:00' }, { start_time: '10:00', end_time: '12:00' }), true);
  assert.is(windowsOverlap({ start_time: '10:00', end_time: '11:00' }, { start_time: '10:00', end_time: '11:00' }), true);
});

test('findOverlaps names every overlapping pair', () => {
  const windows = [
    { start_time: '10:00', end_time: '11:00' },
    { start_time: '11:00', end_time: '12:00' },
    { start_time: '10:30', end_time: '11:30' },
    { start_time: '13:00', end_time: '14:00' },
  ];
  assert.equal(findOverlaps(windows), [[0, 2], [1, 2]]);
  assert.equal(findOverlaps(windows.slice(0, 2)), []);
  assert.equal(findOverlaps([]), []);
});

test.run();
