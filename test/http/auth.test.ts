import { test } from 'uvu';
import * as assert from 'uvu/assert';
import jwt from 'jsonwebtoken';
import { api, adminToken, tokenFor } from '../helpers/api';
import { makeUser, makeVendor } from '../helpers/fixtures';
import { config } from '../../src/config';

// Bearer-token handling over real HTTP (SPEC §4). GET /users/:id needs a valid token and answers
// 200 only to that user, so it shows both "rejected" and "accepted with these claims".

const base64url = (value: object | string) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const nowSeconds = () => Math.floor(Date.now() / 1000);

async function assertRejected(authorization: string, path: string, message?: RegExp): Promise<void> {
  const response = await api('GET', path, { headers: { authorization } });
  assert.is(response.status, 401, `${authorization.slice(0, 60)} → ${response.status}`);
  assert.is(response.body.code, 'unauthenticated');
  assert.type(response.body.message, 'string');
  if (message) assert.match(response.body.message, message);
}

test('a valid token reads the own profile (control for the rejections below)', async () => {
  const user = await makeUser();
  const response = await api('GET', `/users/${user.id}`, { token: tokenFor('user', user.id) });
  assert.is(response.status, 200);
  assert.is(response.body.id, user.id);
});

test('alg "none" is refused', async () => {
  const user = await makeUser();
  const unsigned = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ sub: user.id, role: 'admin', exp: nowSeconds() + 600 })}.`;
  await assertRejected(`Bearer ${unsigned}`, `/users/${user.id}`);
  // Some libraries also accept "none" with a leftover signature.
  const withSignature = `${unsigned}${tokenFor('user', user.id).split('.')[2]}`;
  await assertRejected(`Bearer ${withSignature}`, `/users/${user.id}`);
});

test('a wrong secret or a tampered payload is refused', async () => {
  const user = await makeUser();
  const foreign = jwt.sign({ sub: user.id, role: 'user' }, 'some-other-secret-entirely', { algorithm: 'HS256', expiresIn: '1h' });
  await assertRejected(`Bearer ${foreign}`, `/users/${user.id}`);

  const [header, , signature] = tokenFor('user', user.id).split('.');
  const promoted = base64url({ sub: user.id, role: 'admin', iat: nowSeconds(), exp: nowSeconds() + 3600 });
  await assertRejected(`Bearer ${header}.${promoted}.${signature}`, `/users/${user.id}`);

  const otherUser = await makeUser();
  const [, originalPayload] = tokenFor('user', user.id).split('.');
  const impersonating = base64url({ ...JSON.parse(Buffer.from(originalPayload, 'base64url').toString()), sub: otherUser.id });
  await assertRejected(`Bearer ${header}.${impersonating}.${signature}`, `/users/${otherUser.id}`);
});

test('an HS512 or RS-style token signed with the right secret is refused (algorithm pinned)', async () => {
  const user = await makeUser();
  const hs512 = jwt.sign({ sub: user.id, role: 'user' }, config.jwtSecret, { algorithm: 'HS512', expiresIn: '1h' });
  await assertRejected(`Bearer ${hs512}`, `/users/${user.id}`);
});

test('an expired token is refused, saying so', async () => {
  const user = await makeUser();
  const expired = jwt.sign({ sub: user.id, role: 'user', exp: nowSeconds() - 60 }, config.jwtSecret, { algorithm: 'HS256' });
  await assertRejected(`Bearer ${expired}`, `/users/${user.id}`, /expired/i);
});

test('garbage and non-Bearer Authorization headers are refused', async () => {
  const user = await makeUser();
  const path = `/users/${user.id}`;
  for (const header of [
    'Bearer x.y.z',
    'Bearer garbage',
    'Bearer ',
    'Bearer a.b',
    `Basic ${Buffer.from('admin:admin-password').toString('base64')}`,
    `Token ${tokenFor('user', user.id)}`,
    tokenFor('user', user.id),
    `Bearer ${tokenFor('user', user.id)} extra`,
  ]) {
    await assertRejected(header, path);
  }
});

test('a bad token is refused even on a public route', async () => {
  const vendor = await makeVendor();
  assert.is((await api('GET', `/vendors/${vendor.id}`)).status, 200);
  await assertRejected('Bearer x.y.z', `/vendors/${vendor.id}`);
});

test('a vendor token without vendor_id is refused', async () => {
  const vendor = await makeVendor();
  const token = jwt.sign({ sub: 77, role: 'vendor' }, config.jwtSecret, { algorithm: 'HS256', expiresIn: '1h' });
  const response = await api('PUT', `/vendors/${vendor.id}/opening-days`, { token, body: { opening_days: ['mon'] } });
  assert.is(response.status, 401);
  assert.is(response.body.code, 'unauthenticated');
  const withVendor = await api('PUT', `/vendors/${vendor.id}/opening-days`, { token: tokenFor('vendor', 77, vendor.id), body: { opening_days: ['mon'] } });
  assert.is(withVendor.status, 200);
});

test('sub as a numeric string is accepted; non-numeric, zero or negative sub is refused', async () => {
  const user = await makeUser();
  const numericString = jwt.sign({ sub: String(user.id), role: 'user' }, config.jwtSecret, { algorithm: 'HS256', expiresIn: '1h' });
  const accepted = await api('GET', `/users/${user.id}`, { token: numericString });
  assert.is(accepted.status, 200);
  assert.is(accepted.body.id, user.id);

  // Ids stop at 2147483647 everywhere (SPEC §3), so a bigger sub is no user at all.
  for (const sub of ['abc', `${user.id}abc`, '0', '-1', '1.5', 0, -3, 1.5, null, 2147483648, '2147483648', 1e20, '99999999999']) {
    const token = jwt.sign({ sub, role: 'user' } as object, config.jwtSecret, { algorithm: 'HS256', expiresIn: '1h' });
    const response = await api('GET', `/users/${user.id}`, { token });
    assert.is(response.status, 401, `sub ${JSON.stringify(sub)}`);
  }
});

test('a token without exp is refused, however well signed', async () => {
  const user = await makeUser();
  const forever = jwt.sign({ sub: user.id, role: 'admin' }, config.jwtSecret, { algorithm: 'HS256' });
  await assertRejected(`Bearer ${forever}`, `/users/${user.id}`, /exp/);
  const withExp = jwt.sign({ sub: user.id, role: 'user' }, config.jwtSecret, { algorithm: 'HS256', expiresIn: '5m' });
  assert.is((await api('GET', `/users/${user.id}`, { token: withExp })).status, 200);
});

test('an unknown role is refused; roles are not taken from anywhere but the token', async () => {
  const user = await makeUser();
  const superuser = jwt.sign({ sub: user.id, role: 'superuser' }, config.jwtSecret, { algorithm: 'HS256', expiresIn: '1h' });
  await assertRejected(`Bearer ${superuser}`, `/users/${user.id}`);
  const spoofed = await api('GET', `/users/${user.id + 1}`, { token: tokenFor('user', user.id), headers: { 'x-role': 'admin' } });
  assert.is(spoofed.status, 403);
  assert.is((await api('GET', `/users/${user.id}`, { token: adminToken() })).status, 200);
});

test.run();
