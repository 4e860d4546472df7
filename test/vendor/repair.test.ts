import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { db } from '../../src/db/knex';
import { adminToken, api, tokenFor } from '../helpers/api';
import { bookingCafe, holdOrFail, useWorkers } from '../helpers/bookings';
import { confirm, credit } from '../helpers/payments';
import { actualDashboard, assertVendorTablesMatchTruth, expectedDashboard, waitUntilDrained } from './truth';

// The admin's repair (POST /admin/vendors/:vendor_id/vendor-sync/repair): a `repair-vendor` job
// on the vendor-sync queue rebuilds one cafe's rows from the bookings truth in one transaction —
// missing rows back, wrong ones corrected, rows the truth does not show deleted.

const test = suite('vendor tables: repair');
useWorkers(test, 1);

const repair = (vendorId: number, token: string | null = adminToken(), headers: Record<string, string> = {}) =>
  api('POST', `/admin/vendors/${vendorId}/vendor-sync/repair`, { token: token ?? undefined, headers });

test('only an admin may repair; an unknown cafe is 404', async () => {
  const cafe = await bookingCafe();
  assert.is((await repair(cafe.vendor.id, null)).status, 401);
  assert.is((await repair(cafe.vendor.id, tokenFor('vendor', 7, cafe.vendor.id))).status, 403);
  assert.is((await repair(cafe.vendor.id, cafe.token)).status, 403);
  assert.is((await repair(2147483000)).status, 404);
  const queued = await repair(cafe.vendor.id, adminToken(), { Prefer: 'respond-async' });
  assert.is(queued.status, 202);
  assert.match(queued.body.job_id, new RegExp(`^repair-vendor-${cafe.vendor.id}-`));
  assert.is(queued.body.status, 'queued');
});

test('a corrupted cafe table is rebuilt from the truth: a deleted row, a wrong status, a bogus row, a lost promo row', async () => {
  const cafe = await bookingCafe({ price_rupees: 300 });
  const neighbour = await bookingCafe();
  const promo = await api('POST', '/promo-codes', { token: adminToken(), body: { code: `FIX${Date.now() % 1_000_000}`, vendor_id: cafe.vendor.id, discount_type: 'percent', discount_value: 10 } });
  assert.is(promo.status, 201);
  await credit(cafe.user.id, 5000);
  await credit(neighbour.user.id, 5000);
  const ids = await holdOrFail(cafe, [cafe.slots[8].id, cafe.slots[9].id, cafe.slots[10].id, cafe.slots[11].id]);
  assert.is((await confirm(cafe.token, { booking_id: ids.slice(0, 2), payment_mode: 'wallet', promo_code: promo.body.code })).status, 200);
  assert.is((await confirm(cafe.token, { booking_id: ids.slice(2), payment_mode: 'wallet' })).status, 200);
  assert.is((await api('DELETE', `/bookings/${ids[3]}`, { token: cafe.token })).status, 200);
  const [theirs] = await holdOrFail(neighbour, [neighbour.slots[8].id]);
  assert.is((await confirm(neighbour.token, { booking_id: theirs, payment_mode: 'wallet' })).status, 200);
  await waitUntilDrained();
  await assertVendorTablesMatchTruth([cafe.vendor.id, neighbour.vendor.id]);
  const neighbourBefore = await db.raw(`SELECT * FROM vendor_${neighbour.vendor.id}_dashboard`).then((r) => r.rows);

  await db.raw(`DELETE FROM vendor_${cafe.vendor.id}_dashboard WHERE book_id = ?`, [ids[0]]);
  await db.raw(`UPDATE vendor_${cafe.vendor.id}_dashboard SET book_status = 'completed', amount = 1 WHERE book_id = ?`, [ids[3]]);
  await db.raw(`INSERT INTO vendor_${cafe.vendor.id}_dashboard (vendor_id, book_id, user_id, username, game_id, game_name, date, start_time, end_time, book_status, amount)
                VALUES (?, 2147483000, ?, 'ghost', ?, 'ghost', ?, '10:00', '11:00', 'upcoming', 100)`, [cafe.vendor.id, cafe.user.id, cafe.game.id, cafe.date]);
  await db.raw(`DELETE FROM vendor_${cafe.vendor.id}_promo_detail WHERE booking_id = ?`, [ids[1]]);
  await db.raw(`INSERT INTO vendor_${cafe.vendor.id}_promo_detail (vendor_id, booking_id, transaction_id, promo_code, discount_applied, actual_price)
                VALUES (?, ?, 1, 'BOGUS', 5, 10)`, [cafe.vendor.id, ids[2]]);
  assert.not.equal(await actualDashboard([cafe.vendor.id]), await expectedDashboard([cafe.vendor.id]));

  const repaired = await repair(cafe.vendor.id);
  assert.is(repaired.status, 200, JSON.stringify(repaired.body));
  assert.is(repaired.body.state, 'completed');
  assert.equal(repaired.body.result, { upserted: 6, deleted: 2 }, 'four dashboard and two promo rows written; the ghost and the bogus promo row deleted');
  await assertVendorTablesMatchTruth([cafe.vendor.id, neighbour.vendor.id]);
  assert.equal(await db.raw(`SELECT * FROM vendor_${neighbour.vendor.id}_dashboard`).then((r) => r.rows), neighbourBefore, 'another cafe is left alone');
  const again = await repair(cafe.vendor.id);
  assert.equal(again.body.result, { upserted: 6, deleted: 0 }, 'a second repair changes nothing');
  await assertVendorTablesMatchTruth([cafe.vendor.id]);
});

test.run();
