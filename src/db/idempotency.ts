import { Transaction } from './knex';
import { IdempotencyRef, Outcome } from '../domain/booking-types';
import { Conflict } from '../errors';

// The durable half of Idempotency-Key (the other half, joining a running job, is in
// src/jobs/idempotency.ts). The record is written in the same transaction as the effect, so a
// key either has both or neither, and a retry after any crash returns the first answer.

/**
 * Claims (user, endpoint, key) for this request. Returns null when this request is the first, or
 * the earlier answer, or a `duplicate` conflict when the key was used with another body. A claim
 * by a concurrent transaction makes this wait for its commit (unique index), then read it.
 */
export async function claimIdempotency(trx: Transaction, userId: number, ref: IdempotencyRef, requestId: string): Promise<Outcome | null> {
  const claimed = await trx('idempotency_keys')
    .insert({ user_id: userId, endpoint: ref.endpoint, key: ref.key, request_hash: ref.requestHash, job_id: requestId })
    .onConflict(['user_id', 'endpoint', 'key'])
    .ignore()
    .returning('key');
  if (claimed.length > 0) return null;
  const earlier = await trx('idempotency_keys')
    .where({ user_id: userId, endpoint: ref.endpoint, key: ref.key })
    .first('request_hash', 'response_status', 'response_body');
  if (earlier.request_hash !== ref.requestHash) {
    return { status: 409, body: new Conflict('duplicate', 'This Idempotency-Key was already used with a different request').toBody() };
  }
  if (earlier.response_status === null) throw new Error(`idempotency key claimed twice in one transaction`);
  return { status: earlier.response_status, body: earlier.response_body };
}

export async function storeIdempotentAnswer(trx: Transaction, userId: number, ref: IdempotencyRef, outcome: Outcome): Promise<void> {
  await trx('idempotency_keys')
    .where({ user_id: userId, endpoint: ref.endpoint, key: ref.key })
    .update({ response_status: outcome.status, response_body: JSON.stringify(outcome.body) });
}
