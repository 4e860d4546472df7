import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { db } from '../../src/db/knex';
import { driftedBookings } from '../../src/db/vendor-tables';
import { resyncDrifted } from '../../src/workers/vendor-sync';
import { adminToken, api } from '../helpers/api';
import { bookingCafe, holdOrFail, useWorkers } from '../helpers/bookings';
import { confirm, credit } from '../helpers/payments';
import { assertVendorTablesMatchTruth, waitUntilDrained } from './truth';

// The audit (sweeper schedule `vendor-audit`): rows a sync that failed for good left out of line
// are found and synced again by the real worker. The corruption is made by SQL, as a sync that
// never ran would leave it. Other suites share the database, so each test reads the audit's due
// list for its own bookings only, and calls the audit itself rather than waiting for its schedule.

const test = suite('vendor tables: audit');
useWorkers(test, 1);

const dueAmong = async (ids: number[]) => (await driftedBookings()).filter((id) => ids.includes(id));

/** Runs the audit, lets the worker sync what it queued, and checks the cafe's tables against the truth. */
async function auditAndConverge(vendorId: number, ids: number[]): Promise<void> {
  assert.ok((await resyncDrifted()) >= 1, 'the audit queued syncs');
  await waitUntilDrained();
  await assertVendorTablesMatchTruth([vendorId]);
  assert.equal(await dueAmong(ids), [], 'nothing of the cafe is due after the syncs');
}

async function promoCode(vendorId: number): Promise<string> {
  const promo = await api('POST', '/promo-codes', { token: adminToken(), body: { code: `AUD${Date.now() % 1_000_000}`, vendor_id: vendorId, discount_type: 'percent', discount_value: 10 } });
  assert.is(promo.status, 201, JSON.stringify(promo.body));
  return promo.body.code;
}

test('a deleted dashboard row and a lost promo row come back', async () => {
  const cafe = await bookingCafe({ price_rupees: 200 });
  await credit(cafe.user.id, 1000);
  const ids = await holdOrFail(cafe, [cafe.slots[8].id, cafe.slots[9].id]);
  assert.is((await confirm(cafe.token, { booking_id: ids, payment_mode: 'wallet', promo_code: await promoCode(cafe.vendor.id) })).status, 200);
  await waitUntilDrained();
  await assertVendorTablesMatchTruth([cafe.vendor.id]);

  await db.raw(`DELETE FROM vendor_${cafe.vendor.id}_dashboard WHERE book_id = ?`, [ids[0]]);
  await db.raw(`DELETE FROM vendor_${cafe.vendor.id}_promo_detail WHERE booking_id = ?`, [ids[1]]);
  assert.equal(await dueAmong(ids), ids);
  await auditAndConverge(cafe.vendor.id, ids);
});

test('a cancelled paid booking whose row still says upcoming is corrected, however its row is stamped', async () => {
  const cafe = await bookingCafe({ price_rupees: 200 });
  await credit(cafe.user.id, 1000);
  const ids = await holdOrFail(cafe, [cafe.slots[8].id, cafe.slots[9].id]);
  assert.is((await confirm(cafe.token, { booking_id: ids, payment_mode: 'wallet' })).status, 200);
  for (const id of ids) assert.is((await api('DELETE', `/bookings/${id}`, { token: cafe.token })).status, 200);
  await waitUntilDrained();
  await assertVendorTablesMatchTruth([cafe.vendor.id]);

  // The first row as the confirmation's sync left it, the cancellation's sync never having run.
  await db.raw(`UPDATE vendor_${cafe.vendor.id}_dashboard d SET book_status = 'upcoming', updated_at = b.updated_at - interval '1 minute'
                  FROM bookings b WHERE b.id = d.book_id AND d.book_id = ?`, [ids[0]]);
  // The second stamped after the cancellation began: a sync that read the booking just before it committed.
  await db.raw(`UPDATE vendor_${cafe.vendor.id}_dashboard SET book_status = 'upcoming', updated_at = now() WHERE book_id = ?`, [ids[1]]);
  assert.equal(await dueAmong(ids), ids);
  await auditAndConverge(cafe.vendor.id, ids);
});

test('a row for a booking that is not shown (an unpaid hold) is deleted', async () => {
  const cafe = await bookingCafe();
  const [held] = await holdOrFail(cafe, [cafe.slots[8].id]);
  await waitUntilDrained();
  await db.raw(`INSERT INTO vendor_${cafe.vendor.id}_dashboard (vendor_id, book_id, user_id, username, game_id, game_name, date, start_time, end_time, book_status, amount)
                VALUES (?, ?, ?, ?, ?, ?, ?, '08:00', '09:00', 'upcoming', 100)`, [cafe.vendor.id, held, cafe.user.id, cafe.user.name, cafe.game.id, cafe.game.game_name, cafe.date]);
  assert.equal(await dueAmong([held]), [held]);
  await auditAndConverge(cafe.vendor.id, [held]);
  assert.is((await db('vendor_dashboard').where({ vendor_id: cafe.vendor.id, book_id: held })).length, 0);
});

test('rows in line are not due: confirmed with a promo, cancelled after paying, a hold, a hold released', async () => {
  const cafe = await bookingCafe({ price_rupees: 200 });
  await credit(cafe.user.id, 1000);
  const ids = await holdOrFail(cafe, [cafe.slots[8].id, cafe.slots[9].id, cafe.slots[10].id, cafe.slots[11].id]);
  assert.is((await confirm(cafe.token, { booking_id: ids.slice(0, 2), payment_mode: 'wallet', promo_code: await promoCode(cafe.vendor.id) })).status, 200);
  assert.is((await api('DELETE', `/bookings/${ids[1]}`, { token: cafe.token })).status, 200);
  assert.is((await api('DELETE', `/bookings/${ids[3]}`, { token: cafe.token })).status, 200);
  await waitUntilDrained();
  await assertVendorTablesMatchTruth([cafe.vendor.id]);
  assert.equal(await dueAmong(ids), []);
});

test.run();
