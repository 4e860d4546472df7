import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { shareDiscount } from '../../src/domain/money';
import { ACCESS_CODE_PATTERN, newAccessCode } from '../../src/domain/access-code';

test('a discount is shared in proportion to the prices, in whole paise, summing to the discount', () => {
  assert.equal(shareDiscount([50000, 50000], 10000), [5000, 5000]);
  assert.equal(shareDiscount([30000, 30000, 30000], 10000), [3333, 3333, 3334]);
  assert.equal(shareDiscount([10000, 90000], 0), [0, 0]);
  for (const [prices, discount] of [[[1, 1, 1], 2], [[700, 300, 1], 1001], [[12345, 67890], 5432]] as Array<[number[], number]>) {
    const shares = shareDiscount(prices, discount);
    assert.is(shares.reduce((a, b) => a + b, 0), discount);
    shares.forEach((share, i) => assert.ok(share >= 0 && share <= prices[i]));
  }
});

test('access codes are 6 characters of A-Z0-9 and differ', () => {
  const codes = Array.from({ length: 200 }, newAccessCode);
  codes.forEach((code) => assert.match(code, ACCESS_CODE_PATTERN));
  assert.ok(new Set(codes).size > 195);
});

test.run();
