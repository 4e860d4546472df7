import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canTransition } from '../../src/domain/booking-status';

test('allowed transitions follow the lifecycle', () => {
  assert.ok(canTransition('pending_verified', 'confirmed'));
  assert.ok(canTransition('pending_verified', 'cancelled'));
  assert.ok(canTransition('pending_verified', 'verification_failed'));
  assert.ok(canTransition('confirmed', 'cancelled'));
  assert.ok(canTransition('verification_failed', 'refunded'));
});

test('terminal and backward transitions are refused', () => {
  assert.not.ok(canTransition('cancelled', 'cancelled'));
  assert.not.ok(canTransition('cancelled', 'confirmed'));
  assert.not.ok(canTransition('verification_failed', 'cancelled'));
  assert.not.ok(canTransition('confirmed', 'pending_verified'));
  assert.not.ok(canTransition('refunded', 'confirmed'));
});

test.run();
