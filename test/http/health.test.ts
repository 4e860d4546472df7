import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { api } from '../helpers/api';

test('GET /health reports db and redis', async () => {
  const response = await api('GET', '/health');
  assert.is(response.status, 200);
  assert.equal(response.body, { status: 'ok', db: 'ok', redis: 'ok' });
  assert.ok(response.headers.get('x-request-id'));
});

test('unknown routes answer JSON 404, also under /api', async () => {
  for (const path of ['/nope', '/api/nope']) {
    const response = await api('GET', path);
    assert.is(response.status, 404);
    assert.is(response.body.code, 'not_found');
  }
});

test.run();
