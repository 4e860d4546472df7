import { createHash } from 'crypto';
import { config } from '../config';
import { Conflict } from '../errors';
import { clientRedis } from './connection';
import { formatJobRef, JobRef, parseJobRef } from './job-ref';

// The joining half of Idempotency-Key: a retry that arrives while the first request is queued or
// running finds the first request's job here and waits for it (or gets the same 202). The
// answer itself is made durable by the worker in the request ledger (src/db/request-ledger.ts),
// in the transaction that made the effect; the request id derived from the key makes a
// resubmitted job find it.

const CLAIM_TTL_SECONDS = 24 * 3600;
const REF_POLL_MS = 25;

export function requestHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/** The same (user, endpoint, key) always names the same request. */
export function idempotentRequestId(userId: number, endpoint: string, key: string): string {
  return `k${createHash('sha256').update(`${userId}\n${endpoint}\n${key}`).digest('hex').slice(0, 40)}`;
}

const claimKey = (requestId: string) => `${config.redisKeyPrefix}:idempotency:${requestId}`;

export type Claim = { first: true } | { first: false; ref: JobRef | null };

/** Claims the key for this request, or says which job the first request with it went to. */
export async function claimIdempotencyKey(requestId: string, hash: string, waitForRefMs: number): Promise<Claim> {
  const redis = clientRedis();
  if (await redis.set(claimKey(requestId), `${hash}|`, 'EX', CLAIM_TTL_SECONDS, 'NX')) return { first: true };
  const deadline = Date.now() + waitForRefMs;
  for (;;) {
    const value = await redis.get(claimKey(requestId));
    if (value === null) {
      // The claim expired between our SET and GET: this request is the first again.
      if (await redis.set(claimKey(requestId), `${hash}|`, 'EX', CLAIM_TTL_SECONDS, 'NX')) return { first: true };
      continue;
    }
    const [claimedHash, refText] = value.split('|');
    if (claimedHash !== hash) throw new Conflict('duplicate', 'This Idempotency-Key was already used with a different request');
    if (refText) return { first: false, ref: parseJobRef(refText) };
    // The first request is between claiming and enqueueing (milliseconds), or died in between.
    if (Date.now() >= deadline) return { first: false, ref: null };
    await new Promise((resolve) => setTimeout(resolve, REF_POLL_MS));
  }
}

export async function recordJobRef(requestId: string, hash: string, ref: JobRef): Promise<void> {
  await clientRedis().set(claimKey(requestId), `${hash}|${formatJobRef(ref)}`, 'EX', CLAIM_TTL_SECONDS);
}

export async function forgetIdempotencyKey(requestId: string): Promise<void> {
  await clientRedis().del(claimKey(requestId));
}
