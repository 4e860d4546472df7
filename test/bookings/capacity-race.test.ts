import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'crypto';
import { db } from '../../src/db/knex';
import { applyHolds } from '../../src/db/holds';
import { moveBooking } from '../../src/db/booking-changes';
import { Actor } from '../../src/domain/booking-types';
import { dateInDays, makeGame, makeUser, makeVendor } from '../helpers/fixtures';
import { assertInventoryMatches } from '../helpers/bookings';

// A capacity change (PATCH /games/:id) locks the game row and rewrites the inventory rows that
// exist. A hold or move that creates a new inventory row meanwhile must wait for it and start the
// row from the new capacity, or the slot could be sold beyond it.

const limits = { holdTtlSeconds: 360, maxPendingHoldsPerUser: 12, maxDaysAhead: 90 };

test('a move that creates its target row waits for a capacity cut in progress and uses the new capacity', async () => {
  const vendor = await makeVendor();
  const { game, slots } = await makeGame(vendor.id, { total_slots: 3, slots: [['10:00', '11:00'], ['11:00', '12:00']] });
  const user = await makeUser();
  const actor: Actor = { userId: user.id, role: 'user', vendorId: null };
  const bookDate = dateInDays(4);
  const held = await db.transaction((trx) => applyHolds(trx, [{ requestId: randomUUID(), actor, userId: user.id, gameId: game.id, bookDate, slotIds: [slots[0].id] }], limits));
  const bookingId = (held.outcomes[0].body as { bookings: Array<{ booking_id: number }> }).bookings[0].booking_id;

  const cut = await db.transaction();
  await cut('games').where('id', game.id).forUpdate().first('id');
  await cut('games').where('id', game.id).update({ total_slots: 1 });
  let moved = false;
  const moving = db.transaction((trx) => moveBooking(trx, { requestId: randomUUID(), actor, bookingId, slotId: slots[1].id, bookDate }, 90))
    .then((result) => { moved = true; return result; });
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.not.ok(moved, 'the move waited for the capacity change');
  await cut.commit();
  assert.is((await moving).outcome.status, 200);

  const target = await db('slot_inventory').where({ slot_id: slots[1].id, book_date: bookDate }).first('capacity', 'available');
  assert.equal(target, { capacity: 1, available: 0 });
  await assertInventoryMatches(game.id);
});

test.run();
