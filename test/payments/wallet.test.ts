import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { db } from '../../src/db/knex';
import { adminToken, api, tokenFor } from '../helpers/api';
import { makeUser, makeVendor } from '../helpers/fixtures';
import { walletsOutOfLine } from '../helpers/payments';

// SPEC §5.4 and invariant 5: a wallet's balance is never negative and always equals the sum of
// its ledger, however many changes arrive at once.

test('a user who never had a wallet has an empty one; GET /wallet is the caller\'s own', async () => {
  const user = await makeUser();
  const own = await api('GET', '/wallet', { token: tokenFor('user', user.id) });
  assert.is(own.status, 200);
  assert.equal(own.body, { balance: 0, transactions: [] });
  assert.is(own.headers.get('cache-control'), 'no-store');
  assert.is((await api('GET', '/wallet')).status, 401);
});

test('20 parallel credits: the balance is their sum and equals the ledger; newest first in the history', async () => {
  const user = await makeUser();
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => api('POST', `/users/${user.id}/wallet/credit`, {
    token: adminToken(), body: { amount: 10 + i, reason: `goodwill ${i}` },
  })));
  assert.equal(answers.map((a) => a.status), Array(20).fill(200));
  const expected = Array.from({ length: 20 }, (_, i) => 10 + i).reduce((a, b) => a + b, 0);
  const wallet = await api('GET', `/users/${user.id}/wallet`, { token: adminToken() });
  assert.is(wallet.body.balance, expected);
  assert.is(wallet.body.transactions.length, 20);
  const ids = wallet.body.transactions.map((t: { id: number }) => t.id);
  assert.equal(ids, [...ids].sort((a: number, b: number) => b - a));
  assert.equal(Object.keys(wallet.body.transactions[0]).sort(), ['amount', 'created_at', 'id', 'reason', 'transaction_id']);
  assert.equal((await api('GET', '/wallet', { token: tokenFor('user', user.id) })).body, wallet.body);
  const row = await db('wallets').where({ user_id: user.id }).first('balance_paise');
  assert.is(row.balance_paise, expected * 100);
  assert.equal(await walletsOutOfLine(), []);
});

test('credits are admin only, for a user that exists, with a whole positive amount and a reason', async () => {
  const user = await makeUser();
  const vendor = await makeVendor();
  const credit = (body: unknown, token = adminToken(), id: number | string = user.id) => api('POST', `/users/${id}/wallet/credit`, { token, body });
  assert.is((await credit({ amount: 10, reason: 'x' }, tokenFor('user', user.id))).status, 403);
  assert.is((await credit({ amount: 10, reason: 'x' }, tokenFor('vendor', user.id, vendor.id))).status, 403);
  assert.is((await api('GET', `/users/${user.id}/wallet`, { token: tokenFor('user', user.id) })).status, 403);
  assert.is((await credit({ amount: 10, reason: 'x' }, adminToken(), 2147483647)).status, 404);
  assert.is((await api('GET', '/users/2147483647/wallet', { token: adminToken() })).status, 404);
  assert.is((await credit({ amount: 10, reason: 'x' }, adminToken(), 'abc')).status, 400);
  for (const body of [{}, { amount: 10 }, { reason: 'x' }, { amount: 0, reason: 'x' }, { amount: -5, reason: 'x' }, { amount: 1.5, reason: 'x' },
    { amount: '10', reason: 'x' }, { amount: 100001, reason: 'x' }, { amount: 10, reason: '   ' }, { amount: 10, reason: 'x', extra: 1 }, []]) {
    const answer = await credit(body);
    assert.is(answer.status, 400, JSON.stringify(body));
    assert.is(answer.body.code, 'validation_failed');
  }
  assert.is(await db('wallets').where({ user_id: user.id }).first('user_id'), undefined, 'nothing was written');
  assert.equal(await walletsOutOfLine(), []);
});

test.run();
