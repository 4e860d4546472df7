import { Context, Middleware } from 'koa';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { config } from '../config';
import { AppError } from '../errors';
import { clientRedis } from '../jobs/connection';
import { logger } from '../logger';
import { AppState } from './context';

// Rate limits kept in Redis, so every web process counts against the same figures (SPEC §3, §11).
//
// When Redis cannot answer, a limit lets the request through (fails open) rather than refusing it:
// a write that needs Redis answers 503 by itself a moment later, and one that needs only
// PostgreSQL (onboarding, promo codes) keeps working through a Redis outage. A limit is a guard
// against floods, not a rule the data depends on.

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Razorpay retries a webhook that is refused (429 included) for up to a day, and every delivery is
 * signed and deduplicated by its event id: limiting it would only delay payments.
 */
const UNLIMITED_PATHS = new Set(['/webhooks/razorpay']);

/** How long a limiter may wait on Redis before the request goes on unlimited. */
const REDIS_WAIT_MS = 500;

/** Wrong Basic passwords per client address before the address must wait (SPEC §5.5, Bull Board). */
export const BASIC_FAILURES_ALLOWED = 10;
const BASIC_FAILURE_WINDOW_SECONDS = 15 * 60;

export class RateLimited extends AppError {
  constructor(message: string) {
    super(429, 'rate_limited', message);
  }
}

function limiter(name: string, points: number, durationSeconds: number): RateLimiterRedis {
  return new RateLimiterRedis({
    storeClient: clientRedis(),
    keyPrefix: `${config.redisKeyPrefix}:rate:${name}`,
    points,
    duration: durationSeconds,
    // Without it a command waits in ioredis's offline queue while Redis is down.
    rejectIfRedisNotReady: true,
  });
}

// Built on first use: importing the app opens no Redis connection.
const limiters = new Map<string, RateLimiterRedis>();
function named(name: string, points: number, durationSeconds: number): RateLimiterRedis {
  let existing = limiters.get(name);
  if (!existing) {
    existing = limiter(name, points, durationSeconds);
    limiters.set(name, existing);
  }
  return existing;
}

type Outcome = { refused: false } | { refused: true; retryAfterSeconds: number };

function withinRedisWait<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('rate limiter: Redis did not answer in time')), REDIS_WAIT_MS);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

function retryAfterSeconds(result: RateLimiterRes): number {
  return Math.max(1, Math.ceil(result.msBeforeNext / 1000));
}

/** Takes one point; a store failure counts as not refused (see the top of this file). */
async function take(store: RateLimiterRedis, key: string): Promise<Outcome> {
  try {
    await withinRedisWait(store.consume(key));
    return { refused: false };
  } catch (error) {
    if (error instanceof RateLimiterRes) return { refused: true, retryAfterSeconds: retryAfterSeconds(error) };
    logger.debug({ err: error }, 'rate limiter unavailable; request let through');
    return { refused: false };
  }
}

function refuse(ctx: Context, retryAfter: number, message: string): never {
  ctx.set('Retry-After', String(retryAfter));
  throw new RateLimited(message);
}

/**
 * Writes per minute per caller (token `sub`) and per client address. Every write counts, refused
 * ones too: a flood of bad requests is still a flood.
 */
export const writeRateLimits: Middleware<AppState> = async (ctx, next) => {
  if (!WRITE_METHODS.has(ctx.method) || UNLIMITED_PATHS.has(ctx.path)) return next();
  const checks: Array<Promise<Outcome>> = [];
  if (config.rateLimitAddressPerMin > 0) {
    checks.push(take(named('address', config.rateLimitAddressPerMin, 60), ctx.ip));
  }
  const user = ctx.state.user;
  if (user && config.rateLimitUserPerMin > 0) {
    checks.push(take(named('user', config.rateLimitUserPerMin, 60), String(user.id)));
  }
  const refusals = (await Promise.all(checks)).flatMap((outcome) => (outcome.refused ? [outcome.retryAfterSeconds] : []));
  if (refusals.length) refuse(ctx, Math.max(...refusals), 'Too many requests; try again later');
  return next();
};

const basicFailures = () => named('basic-failures', BASIC_FAILURES_ALLOWED, BASIC_FAILURE_WINDOW_SECONDS);

/**
 * Guards an HTTP Basic check against password guessing: an address that sent
 * BASIC_FAILURES_ALLOWED wrong credentials within 15 minutes is refused 429 until the window
 * ends, even with the right ones (else the guesser learns which guess was right).
 */
export async function checkBasicCredentials(ctx: Context, matches: () => boolean): Promise<boolean> {
  const store = basicFailures();
  const key = ctx.ip;
  try {
    const seen = await withinRedisWait(store.get(key));
    if (seen && seen.consumedPoints >= BASIC_FAILURES_ALLOWED) {
      refuse(ctx, retryAfterSeconds(seen), 'Too many wrong credentials from this address; try again later');
    }
  } catch (error) {
    if (error instanceof RateLimited) throw error;
    logger.debug({ err: error }, 'basic-failure limiter unavailable; credentials checked unlimited');
  }
  if (matches()) return true;
  // Only counted: the request already fails 401, and this very guess was allowed.
  await withinRedisWait(store.penalty(key)).catch((error) => logger.debug({ err: error }, 'could not count a wrong Basic password'));
  return false;
}
