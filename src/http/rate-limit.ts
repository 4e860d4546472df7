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

// How long a limiter waits on Redis before the request goes on unlimited: a Redis that is down is
// refused at once (rejectIfRedisNotReady), a frozen one after the client connection's command
// timeout (src/redis.ts). Not shorter: on a loaded host an event-loop stall would fire a short
// timer before the reply is read, and the limit would let a flood through.

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

function retryAfterSeconds(result: RateLimiterRes): number {
  return Math.max(1, Math.ceil(result.msBeforeNext / 1000));
}

/** Takes one point; a store failure counts as not refused (see the top of this file). */
async function take(store: RateLimiterRedis, key: string): Promise<Outcome> {
  try {
    await store.consume(key);
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

const isLimitedWrite = (ctx: Context) => WRITE_METHODS.has(ctx.method) && !UNLIMITED_PATHS.has(ctx.path);

async function limit(ctx: Context, check: Promise<Outcome>): Promise<void> {
  const outcome = await check;
  if (outcome.refused) refuse(ctx, outcome.retryAfterSeconds, 'Too many requests; try again later');
}

/**
 * Writes per minute per client address. It runs before the body is parsed and the token checked,
 * so every write counts, refused ones too: a flood of malformed bodies or bad tokens is still a flood.
 */
export const addressRateLimit: Middleware<AppState> = async (ctx, next) => {
  if (isLimitedWrite(ctx) && config.rateLimitAddressPerMin > 0) {
    await limit(ctx, take(named('address', config.rateLimitAddressPerMin, 60), ctx.ip));
  }
  return next();
};

/** Writes per minute per caller (token `sub`), once the token is verified: a forged one cannot spend another's allowance. */
export const callerRateLimit: Middleware<AppState> = async (ctx, next) => {
  const user = ctx.state.user;
  if (user && isLimitedWrite(ctx) && config.rateLimitUserPerMin > 0) {
    await limit(ctx, take(named('user', config.rateLimitUserPerMin, 60), String(user.id)));
  }
  return next();
};

const basicFailures = () => named('basic-failures', BASIC_FAILURES_ALLOWED, BASIC_FAILURE_WINDOW_SECONDS);

/**
 * Guards an HTTP Basic check against password guessing: each address may have its credentials
 * compared BASIC_FAILURES_ALLOWED times per 15 minutes, and right ones give their attempt back.
 * The attempt is taken (an atomic increment) before the comparison, so guesses sent all at once
 * cannot all pass a count read before any of them was recorded. Past the allowance the address is
 * refused 429 until the window ends, even with the right credentials (else the guesser learns
 * which guess was right); an admin bearer token is never refused by it.
 */
export async function checkBasicCredentials(ctx: Context, matches: () => boolean): Promise<boolean> {
  const store = basicFailures();
  const key = ctx.ip;
  let taken = false;
  try {
    await store.consume(key);
    taken = true;
  } catch (error) {
    if (error instanceof RateLimiterRes) refuse(ctx, retryAfterSeconds(error), 'Too many wrong credentials from this address; try again later');
    logger.debug({ err: error }, 'basic-failure limiter unavailable; credentials checked unlimited');
  }
  if (!matches()) return false;
  if (taken) await store.reward(key).catch((error) => logger.debug({ err: error }, 'could not give back a right Basic attempt'));
  return true;
}
