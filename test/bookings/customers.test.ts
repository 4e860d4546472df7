import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { db } from '../../src/db/knex';
import { adminToken, api, tokenFor } from '../helpers/api';
import { makeUser, makeVendor } from '../helpers/fixtures';
import { assertInventoryMatches, availableUnits, bookingCafe, holdOrFail, postHold, useWorkers } from '../helpers/bookings';

// SPEC §4, §5.2: a cafe holds slots only for its own customers — walk-ins it registered through
// POST /vendor/:id/users, or gamers with an earlier booking there — so it can never read a
// stranger's name, email and phone through a booking it made for them.

useWorkers(test, 1);

const staffOf = async (vendorId: number) => tokenFor('vendor', (await makeUser()).id, vendorId);
let phoneSeed = 7_000_000 + Math.floor(Math.random() * 1_000_000);
const freshPhone = () => `+9198${phoneSeed++}`;

test('a cafe cannot hold for a gamer who is not its customer: 403, nothing held, nothing of theirs shown', async () => {
  const cafe = await bookingCafe();
  const staff = await staffOf(cafe.vendor.id);
  const stranger = await makeUser({ name: 'Secret Gamer', phone: freshPhone() });
  const refused = await postHold(staff, { slot_id: cafe.slots[4].id, user_id: stranger.id, game_id: cafe.game.id, book_date: cafe.date });
  assert.is(refused.status, 403);
  assert.is(refused.body.code, 'forbidden');
  assert.not.match(JSON.stringify(refused.body), /Secret Gamer|@/);
  assert.is(Number((await db('bookings').where({ user_id: stranger.id }).count('* as n'))[0].n), 0);
  assert.is(await availableUnits(cafe.slots[4].id, cafe.date), null, 'no inventory row was created');
  assert.is((await api('GET', `/users/${stranger.id}`, { token: staff })).status, 403);
  const listed = await api('GET', `/vendor/${cafe.vendor.id}/users`, { token: staff });
  assert.is(listed.status, 200);
  assert.not.ok(listed.body.some((u: { id: number }) => u.id === stranger.id));
});

test('a walk-in registered by the cafe can be held for; the same phone again is the same customer', async () => {
  const cafe = await bookingCafe();
  const staff = await staffOf(cafe.vendor.id);
  const phone = freshPhone();
  const registered = await api('POST', `/vendor/${cafe.vendor.id}/users`, { token: staff, body: { name: '  Ravi  ', phone } });
  assert.is(registered.status, 201, JSON.stringify(registered.body));
  assert.equal(Object.keys(registered.body).sort(), ['email', 'id', 'name', 'phone']);
  assert.equal([registered.body.name, registered.body.email, registered.body.phone], ['Ravi', null, phone]);
  const spaced = `${phone.slice(0, 6)} ${phone.slice(6, 9)}-${phone.slice(9)}`;
  const again = await api('POST', `/vendor/${cafe.vendor.id}/users`, { token: staff, body: { name: 'Ravi K', phone: spaced } });
  assert.is(again.status, 201);
  assert.is(again.body.id, registered.body.id);

  const hold = await postHold(staff, { slot_id: cafe.slots[6].id, user_id: registered.body.id, game_id: cafe.game.id, book_date: cafe.date });
  assert.is(hold.status, 201, JSON.stringify(hold.body));
  const view = await api('GET', `/bookings/${hold.body.bookings[0].booking_id}`, { token: staff });
  assert.equal(view.body.booking.customer, { name: 'Ravi', email: null, phone });
  const found = await api('GET', `/vendor/${cafe.vendor.id}/users?q=${encodeURIComponent('rav')}&limit=5&t=1733112000000`, { token: staff });
  assert.is(found.status, 200, JSON.stringify(found.body));
  assert.equal(found.body, [{ id: registered.body.id, name: 'Ravi', email: null, phone }]);

  // Another cafe: not its customer, and not its list.
  const other = await makeVendor();
  const otherStaff = await staffOf(other.id);
  assert.is((await api('GET', `/vendor/${cafe.vendor.id}/users`, { token: otherStaff })).status, 403);
  assert.is((await api('POST', `/vendor/${cafe.vendor.id}/users`, { token: otherStaff, body: { name: 'X', phone: freshPhone() } })).status, 403);
  assert.equal((await api('GET', `/vendor/${other.id}/users`, { token: otherStaff })).body, []);
  await assertInventoryMatches(cafe.game.id);
});

test('a gamer with a booking at the cafe is its customer; an existing gamer\'s email cannot be claimed', async () => {
  const cafe = await bookingCafe();
  const staff = await staffOf(cafe.vendor.id);
  await holdOrFail(cafe, [cafe.slots[2].id]);
  const listed = await api('GET', `/vendor/${cafe.vendor.id}/users?q=${encodeURIComponent(cafe.user.email!)}`, { token: staff });
  assert.equal(listed.body.map((u: { id: number }) => u.id), [cafe.user.id]);
  const forThem = await postHold(staff, { slot_id: cafe.slots[3].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date });
  assert.is(forThem.status, 201, JSON.stringify(forThem.body));

  const stranger = await makeUser({ phone: freshPhone() });
  const claim = await api('POST', `/vendor/${cafe.vendor.id}/users`, { token: staff, body: { name: 'Someone', phone: freshPhone(), email: stranger.email } });
  assert.is(claim.status, 409);
  assert.is(claim.body.code, 'duplicate');
  assert.not.match(JSON.stringify(claim.body), new RegExp(stranger.phone.replace('+', '\\+')));
  assert.is(Number((await db('vendor_customers').where({ vendor_id: cafe.vendor.id, user_id: stranger.id }).count('* as n'))[0].n), 0);
});

test('ten registrations of one phone at once make one customer', async () => {
  const vendor = await makeVendor();
  const staff = await staffOf(vendor.id);
  const phone = freshPhone();
  const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => api('POST', `/vendor/${vendor.id}/users`, { token: staff, body: { name: `Walk-in ${i}`, phone } })));
  assert.equal(answers.map((a) => a.status), Array(10).fill(201));
  assert.is(new Set(answers.map((a) => a.body.id)).size, 1);
  const rows = await db('vendor_customers as c').join('users as u', 'u.id', 'c.user_id').where({ 'c.vendor_id': vendor.id }).select('u.id', 'u.phone');
  assert.equal(rows, [{ id: answers[0].body.id, phone }]);
});

test('POST /vendor/:id/users refuses bad input and other callers', async () => {
  const vendor = await makeVendor();
  const staff = await staffOf(vendor.id);
  const post = (body: unknown, token = staff, id: number | string = vendor.id) => api('POST', `/vendor/${id}/users`, { token, body });
  for (const body of [{}, [], { name: 'A' }, { phone: freshPhone() }, { name: 'A', phone: 'call me' }, { name: 'A', phone: freshPhone(), email: 'nope' },
    { name: 'A\u0000B', phone: freshPhone() }, { name: 'A', phone: freshPhone(), email: null }, { name: 'A', phone: 9812345678 }, { name: 'x'.repeat(201), phone: freshPhone() },
    { name: 'A', phone: freshPhone(), role: 'admin' }, { name: '', phone: freshPhone() }, { name: 5, phone: freshPhone() }]) {
    const answer = await post(body);
    assert.is(answer.status, 400, JSON.stringify(body));
    assert.is(answer.body.code, 'validation_failed');
  }
  const gamer = tokenFor('user', (await makeUser()).id);
  assert.is((await post({ name: 'A', phone: freshPhone() }, gamer)).status, 403);
  assert.is((await post({ name: 'A', phone: freshPhone() }, adminToken(), 2147483647)).status, 404);
  assert.is((await post({ name: 'A', phone: freshPhone() }, adminToken(), 2147483648)).status, 400);
  for (const query of ['limit=0', 'limit=1e3', 'q=%00', 'q=a&q=b', `q=${'x'.repeat(101)}`]) {
    const answer = await api('GET', `/vendor/${vendor.id}/users?${query}`, { token: staff });
    assert.is(answer.status, 400, query);
  }
  // LIKE wildcards in q are plain characters.
  assert.equal((await api('GET', `/vendor/${vendor.id}/users?q=${encodeURIComponent('%_\\')}`, { token: staff })).body, []);
  assert.is(Number((await db('vendor_customers').where({ vendor_id: vendor.id }).count('* as n'))[0].n), 0);
});

test.run();
