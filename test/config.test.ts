import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, parseConfig } from '../src/config';

const valid = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/hfg',
  REDIS_URL: 'redis://127.0.0.1:6379',
  JWT_SECRET: 'a-secret-that-is-long-enough',
  RAZORPAY_KEY_ID: 'rzp_test',
  RAZORPAY_KEY_SECRET: 'secret',
  RAZORPAY_WEBHOOK_SECRET: 'webhook-secret',
  ADMIN_USER: 'admin',
  ADMIN_PASSWORD: 'admin-password',
};

test('defaults of SPEC §11 apply when only the required variables are set', () => {
  const config = parseConfig(valid);
  assert.equal(
    [config.port, config.realtimePort, config.holdTtlSeconds, config.sweepIntervalMs, config.bookingPartitions, config.syncWaitMs,
      config.maxSlotsPerBooking, config.maxPendingHoldsPerUser, config.cancellationCutoffMinutes, config.redisKeyPrefix, config.razorpayApiBase],
    [3000, 3001, 360, 15000, 8, 5000, 12, 12, 60, 'hfg', 'https://api.razorpay.com'],
  );
});

test('one message names every missing or malformed variable', () => {
  try {
    parseConfig({ ...valid, DATABASE_URL: 'mysql://x', JWT_SECRET: 'short', BOOKING_PARTITIONS: 'eight', PORT: '70000', REDIS_URL: undefined, REDIS_KEY_PREFIX: '{hfg}' });
    assert.unreachable('should have thrown');
  } catch (error) {
    assert.instance(error, ConfigError);
    const message = (error as Error).message;
    for (const name of ['DATABASE_URL', 'JWT_SECRET', 'BOOKING_PARTITIONS', 'PORT', 'REDIS_URL is required', 'REDIS_KEY_PREFIX']) {
      assert.match(message, name);
    }
  }
});

test('CORS_ORIGINS is * by default, or a list of origins; anything else is refused at start-up', () => {
  assert.is(parseConfig(valid).corsOrigins, '*');
  assert.equal(parseConfig({ ...valid, CORS_ORIGINS: ' https://dash.example , http://localhost:5173' }).corsOrigins, ['https://dash.example', 'http://localhost:5173']);
  for (const bad of ['dash.example', 'https://dash.example/', 'ftp://x.example', 'https://a.example,nonsense']) {
    assert.throws(() => parseConfig({ ...valid, CORS_ORIGINS: bad }), (error: Error) => /CORS_ORIGINS/.test(error.message), bad);
  }
});

test('REDIS_CLUSTER_NODES is unset by default, or host:port pairs used instead of REDIS_URL; anything else is refused', () => {
  assert.is(parseConfig(valid).redisClusterNodes, null);
  const cluster = parseConfig({ ...valid, REDIS_URL: undefined, REDIS_CLUSTER_NODES: ' 10.0.0.1:7000, redis-b.internal:7001,[::1]:7002 ' });
  assert.equal(cluster.redisClusterNodes, [{ host: '10.0.0.1', port: 7000 }, { host: 'redis-b.internal', port: 7001 }, { host: '::1', port: 7002 }]);
  assert.is(cluster.redisUrl, '', 'REDIS_URL is not required with a cluster');
  for (const bad of ['10.0.0.1', '10.0.0.1:0', 'host:70000', '10.0.0.1:7000,', 'redis://10.0.0.1:7000']) {
    assert.throws(() => parseConfig({ ...valid, REDIS_CLUSTER_NODES: bad }), (error: Error) => /REDIS_CLUSTER_NODES must be a comma-separated list of host:port/.test(error.message), bad);
  }
});

test.run();
