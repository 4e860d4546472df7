import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { db } from '../../src/db/knex';
import { adminToken, api } from '../helpers/api';
import { bookingCafe, eventually, holdOrFail, useWorkers } from '../helpers/bookings';
import { confirm, credit } from '../helpers/payments';

// SPEC §8 through the outbox: a confirmation, a promo redemption and a cancellation reach the
// cafe's own dashboard and promo partitions by vendor-sync jobs; holds never appear.

const test = suite('vendor-sync');
useWorkers(test, 1);

const dashboard = (vendorId: number) => db.raw(`SELECT book_id, book_status, amount, username FROM vendor_${vendorId}_dashboard ORDER BY book_id`).then((r) => r.rows);

test('a confirmation with a promo and a cancellation reach the vendor tables; a hold does not', async () => {
  const cafe = await bookingCafe({ price_rupees: 400 });
  const promo = await api('POST', '/promo-codes', {
    token: adminToken(), body: { code: `SYNC${Date.now() % 100000}`, vendor_id: cafe.vendor.id, discount_type: 'flat', discount_value: 100 },
  });
  assert.is(promo.status, 201, JSON.stringify(promo.body));
  const [paid, other] = await holdOrFail(cafe, [cafe.slots[10].id, cafe.slots[11].id]);
  const [heldOnly] = await holdOrFail(cafe, [cafe.slots[12].id]);
  await credit(cafe.user.id, 1000);
  const confirmed = await confirm(cafe.token, { booking_id: [paid, other], payment_mode: 'wallet', promo_code: promo.body.code });
  assert.is(confirmed.status, 200, JSON.stringify(confirmed.body));
  assert.is(confirmed.body.amount_paid, 700);
  await eventually(async () => (await dashboard(cafe.vendor.id)).length === 2, 'the confirmation to reach the dashboard');
  assert.equal(await dashboard(cafe.vendor.id), [
    { book_id: paid, book_status: 'upcoming', amount: 35000, username: cafe.user.name },
    { book_id: other, book_status: 'upcoming', amount: 35000, username: cafe.user.name },
  ]);
  const promoRows = (await db.raw(`SELECT booking_id, promo_code, discount_applied, actual_price FROM vendor_${cafe.vendor.id}_promo_detail ORDER BY booking_id`)).rows;
  assert.equal(promoRows, [
    { booking_id: paid, promo_code: promo.body.code, discount_applied: 5000, actual_price: 40000 },
    { booking_id: other, promo_code: promo.body.code, discount_applied: 5000, actual_price: 40000 },
  ]);
  assert.is((await api('DELETE', `/bookings/${paid}`, { token: cafe.token })).status, 200);
  await eventually(async () => (await dashboard(cafe.vendor.id))[0].book_status === 'cancelled', 'the cancellation to reach the dashboard');
  assert.not.ok((await dashboard(cafe.vendor.id)).some((row: { book_id: number }) => row.book_id === heldOnly));
});

test.run();
