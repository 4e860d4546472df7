import { randomUUID } from 'crypto';
import { config } from '../config';
import { Actor, IdempotencyRef, Outcome } from '../domain/booking-types';
import { Invalid } from '../errors';
import { Submitted } from '../jobs/booking';
import { formatJobRef, JobRef } from '../jobs/job-ref';
import { queue } from '../jobs/queues';
import { jobWaiter, outcomeOf } from '../jobs/job-waiter';
import { claimIdempotencyKey, forgetIdempotencyKey, idempotentRequestId, recordJobRef, requestHash } from '../jobs/idempotency';
import { replayOfRequest } from '../db/request-ledger';
import { AuthUser } from './auth';
import { AppContext } from './context';

// Job-backed answers (SPEC §2): wait up to SYNC_WAIT_MS for the job and answer as a synchronous
// API would; otherwise, or when the client prefers it, 202 with where to look.

export function actorOf(user: AuthUser): Actor {
  return { userId: user.id, role: user.role, vendorId: user.vendorId };
}

function prefersAsync(ctx: AppContext): boolean {
  return /\brespond-async\b/i.test(ctx.get('Prefer'));
}

function accepted(ctx: AppContext, ref: JobRef): void {
  const jobId = formatJobRef(ref);
  const statusUrl = `/jobs/${jobId}`;
  ctx.status = 202;
  ctx.set('Location', statusUrl);
  ctx.body = { job_id: jobId, status: 'queued', status_url: statusUrl };
}

function answer(ctx: AppContext, outcome: Outcome): void {
  ctx.status = outcome.status;
  ctx.body = outcome.body;
}

const started = new WeakMap<object, number>();

/** Remaining synchronous wait for this request, measured from when it arrived. */
function remainingWait(ctx: AppContext): number {
  if (!started.has(ctx)) started.set(ctx, Date.now());
  return Math.max(0, config.syncWaitMs - (Date.now() - started.get(ctx)!));
}

async function within<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), ms); });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function respondWithJob(ctx: AppContext, submitted: Submitted): Promise<void> {
  if (prefersAsync(ctx)) return accepted(ctx, submitted.ref);
  const end = await within(submitted.done, remainingWait(ctx));
  if (!end) return accepted(ctx, submitted.ref);
  answer(ctx, outcomeOf(end, submitted.ref.index));
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * Runs a job-backed request under its Idempotency-Key, if it has one: the first request with a
 * key submits; a retry joins the first one's job, or gets its stored answer once that job is gone.
 */
export async function runIdempotent(
  ctx: AppContext,
  endpoint: string,
  userId: number,
  requestBody: unknown,
  submit: (requestId: string, idempotency?: IdempotencyRef) => Promise<Submitted>,
): Promise<void> {
  remainingWait(ctx);
  const key = ctx.get('Idempotency-Key');
  if (!key) return respondWithJob(ctx, await submit(randomUUID()));
  if (!IDEMPOTENCY_KEY.test(key)) throw new Invalid('Idempotency-Key must be 1 to 255 visible ASCII characters');
  const requestId = idempotentRequestId(userId, endpoint, key);
  const hash = requestHash(requestBody);
  const idempotency: IdempotencyRef = { endpoint, key, requestHash: hash };
  // The ledger's record decides, whatever Redis knows (its claims last a day, the ledger a week):
  // the first answer for the first body, 409 for another, and nothing claimed or submitted.
  const recorded = await replayOfRequest(requestId, hash);
  if (recorded) return answer(ctx, recorded);
  const claim = await claimIdempotencyKey(requestId, hash, Math.min(remainingWait(ctx), 2000));
  if (!claim.first && claim.ref) {
    const state = await queue(claim.ref.queueName).getJobState(claim.ref.jobId);
    // A job that failed for good rolled back everything: the retry runs the request again.
    if (state !== 'unknown' && state !== 'failed') {
      const done = jobWaiter.join(claim.ref.queueName, claim.ref.jobId, remainingWait(ctx));
      return respondWithJob(ctx, { ref: claim.ref, done });
    }
  }
  if (!claim.first) {
    // The first request's job is gone: its answer, if it committed one, is in the ledger by now.
    const replay = await replayOfRequest(requestId, hash);
    if (replay) return answer(ctx, replay);
  }
  // First request, or the first one's job vanished before answering: (re)submit under the same
  // request id; the request ledger makes a second run change nothing.
  let submitted: Submitted;
  try {
    submitted = await submit(requestId, idempotency);
  } catch (error) {
    await forgetIdempotencyKey(requestId).catch(() => undefined); // nothing was queued: a retry starts afresh
    throw error;
  }
  await recordJobRef(requestId, hash, submitted.ref);
  return respondWithJob(ctx, submitted);
}
