import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { api, adminToken, tokenFor } from '../helpers/api';
import { config } from '../../src/config';
import { allQueueNames } from '../../src/jobs/queues';

// Bull Board at /admin/queues (SPEC §4, §5.5): HTTP Basic with ADMIN_USER / ADMIN_PASSWORD, or an
// admin bearer token; everyone else gets the JSON error with a Basic challenge.

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const adminBasic = () => basic(config.adminUser, config.adminPassword);

test('without credentials: 401 JSON with a Basic challenge', async () => {
  for (const path of ['/admin/queues', '/admin/queues/', '/admin/queues/api/queues', '/api/admin/queues']) {
    const response = await api('GET', path);
    assert.is(response.status, 401, path);
    assert.is(response.body.code, 'unauthenticated');
    assert.match(response.headers.get('www-authenticate') ?? '', /^Basic realm=/);
  }
});

test('wrong Basic credentials: 401', async () => {
  for (const header of [
    basic(config.adminUser, `${config.adminPassword}x`),
    basic(`${config.adminUser}x`, config.adminPassword),
    basic(config.adminUser, ''),
    'Basic not-base64-at-all',
  ]) {
    const response = await api('GET', '/admin/queues', { headers: { authorization: header } });
    assert.is(response.status, 401, header);
    assert.is(response.body.code, 'unauthenticated');
  }
});

test('user and vendor tokens: 403', async () => {
  for (const token of [tokenFor('user', 12), tokenFor('vendor', 13, 4)]) {
    const response = await api('GET', '/admin/queues', { token });
    assert.is(response.status, 403);
    assert.is(response.body.code, 'forbidden');
  }
});

test('correct Basic credentials or an admin token: the board page', async () => {
  for (const headers of [{ authorization: adminBasic() }, { authorization: `Bearer ${adminToken()}` }]) {
    const response = await api('GET', '/admin/queues', { headers });
    assert.is(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/html/);
    assert.match(response.body, /HFG queues/);
    assert.match(response.body, /<base href="\/admin\/queues\/"/);
  }
  const asset = await api('GET', '/admin/queues/static/favicon-32x32.png', { headers: { authorization: adminBasic() } });
  assert.is(asset.status, 200);
  assert.is(asset.headers.get('content-type'), 'image/png');
  assert.is((await api('GET', '/admin/queues/static/favicon-32x32.png')).status, 401);
  const viaApiPrefix = await api('GET', '/api/admin/queues', { headers: { authorization: adminBasic() } });
  assert.is(viaApiPrefix.status, 200);
});

test('the board lists every queue', async () => {
  const response = await api('GET', '/admin/queues/api/queues', { headers: { authorization: adminBasic() } });
  assert.is(response.status, 200);
  const names = (response.body.queues as Array<{ name: string }>).map((entry) => entry.name).sort();
  assert.equal(names, allQueueNames().sort());
  assert.ok(names.includes('booking-0') && names.includes('payment-verification') && names.includes('sweeper'));
});

test('Basic credentials count only for the board; the rest of the API still wants Bearer', async () => {
  const response = await api('GET', '/games', { headers: { authorization: adminBasic() } });
  assert.is(response.status, 401);
  assert.is(response.body.code, 'unauthenticated');
  const missing = await api('GET', '/admin/nothing-here', { headers: { authorization: `Bearer ${adminToken()}` } });
  assert.is(missing.status, 404);
  assert.is(missing.body.code, 'not_found');
});

test.run();
