import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { partitionOf, slotKey, stableHash } from '../../src/domain/slot-key';

test('slot key format', () => {
  assert.is(slotKey(12, '2026-11-25'), '12:2026-11-25');
});

test('the hash is pinned: changing it would move keys between partitions', () => {
  assert.is(stableHash(''), 0x811c9dc5);
  assert.is(stableHash('a'), 0xe40c292c);
  assert.is(stableHash('12:2026-11-25'), stableHash('12:2026-11-25'));
});

test('keys spread over every partition', () => {
  const counts = new Array(8).fill(0);
  for (let game = 1; game <= 400; game++) counts[partitionOf(slotKey(game, '2026-11-25'), 8)]++;
  for (const count of counts) assert.ok(count > 20, `uneven spread: ${counts.join(',')}`);
});

test.run();
