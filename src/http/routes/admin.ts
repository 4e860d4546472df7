import { Context, Middleware } from 'koa';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { KoaAdapter } from '@bull-board/koa';
import type { IServerAdapter } from '@bull-board/api/typings/app';
import { createRouter, AppState } from '../context';
import { basicCredentialsMatch } from '../auth';
import { Conflict, Forbidden, NotFound, Unauthenticated } from '../../errors';
import { allQueueNames, queue } from '../../jobs/queues';
import { checkBasicCredentials } from '../rate-limit';

// Bull Board over every queue (SPEC §5.5), for admins: HTTP Basic (ADMIN_USER / ADMIN_PASSWORD),
// which a browser prompts for, or an admin bearer token, which scripts use.

export const BULL_BOARD_PATH = '/admin/queues';

/** Admin token, or the admin Basic credentials (wrong ones are counted per address: rate-limit.ts). */
export function requireAdmin(realm: string): Middleware<AppState> {
  return async (ctx, next) => {
    if (ctx.state.user?.role === 'admin') return next();
    const header = ctx.get('Authorization') || undefined;
    if (!ctx.state.user && /^Basic\s/i.test(header ?? '') && (await checkBasicCredentials(ctx, () => basicCredentialsMatch(header)))) {
      return next();
    }
    if (ctx.state.user) throw new Forbidden('Requires role admin');
    // Without this challenge a browser shows the JSON instead of a login prompt.
    ctx.set('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`);
    throw new Unauthenticated('Admin credentials required (HTTP Basic or an admin token)');
  };
}

/**
 * What the board may change (SPEC §5.5): it retries failed jobs, and nothing else. Bull Board's
 * own options only hide buttons (`allowRetries` and friends are read by the UI, and its
 * `readOnlyMode` forbids retries too), so every other write to its API is refused here: adding
 * or editing jobs, a queue's concurrency (a booking partition runs one job at a time across all
 * workers) or rate limit, pausing, emptying, cleaning, obliterating, promoting, removing,
 * scheduler changes, history purges. Reads pass.
 */
const RETRY_FAILED_OF_QUEUE = /^\/api\/queues\/([^/]+)\/retry\/failed$/;
const RETRY_ONE_JOB = /^\/api\/queues\/([^/]+)\/([^/]+)\/retry$/;
/** Bull Board's router matches case-insensitively and tries `:queue/clean/:status` and `:queue/retry/:status` first. */
const ROUTE_WORDS = new Set(['clean', 'retry']);

function decoded(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/**
 * A job's retry, done here rather than by the board: the board reads the job's state and then
 * retries a failed *or completed* job, so a retry racing another could run a completed job
 * again (a hold, a refund). BullMQ's retry('failed') moves the job only if it is still failed,
 * in one Redis script, so of retries sent at once one wins and the others are refused 409.
 */
async function retryFailedJob(ctx: Context, queueName: string, jobId: string): Promise<void> {
  const job = allQueueNames().includes(queueName) ? await queue(queueName).getJob(jobId) : undefined;
  if (!job) throw new NotFound('Job');
  try {
    await job.retry('failed');
  } catch {
    throw new Conflict('invalid_state', 'Only a failed job may be retried', { state: await job.getState().catch(() => 'unknown') });
  }
  ctx.status = 204;
}

/** The path's single-job retry as [queue, job id], or null for any other path. */
function singleRetry(path: string): [string, string] | null {
  const one = RETRY_ONE_JOB.exec(path);
  if (!one) return null;
  const queueName = decoded(one[1]);
  const jobId = decoded(one[2]);
  return queueName === null || jobId === null || ROUTE_WORDS.has(jobId.toLowerCase()) ? null : [queueName, jobId];
}

const onlyRetries: Middleware<AppState> = async (ctx, next) => {
  const below = ctx.path.slice(BULL_BOARD_PATH.length) || '/';
  if (ctx.method === 'GET' || ctx.method === 'HEAD') return next();
  if (ctx.method === 'PUT' && RETRY_FAILED_OF_QUEUE.test(below)) return next();
  const retry = ctx.method === 'PUT' ? singleRetry(below) : null;
  if (!retry) throw new Forbidden('The queue board may only retry failed jobs');
  await retryFailedJob(ctx, ...retry);
};

/**
 * The board's page loads its scripts and styles from its own static path (and Google Fonts), and
 * talks only to its own API; its one inline script is JSON, never run.
 */
const BOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline' https://fonts.googleapis.com",
  "font-src 'self' https://fonts.gstatic.com data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const boardHeaders: Middleware<AppState> = async (ctx, next) => {
  await next();
  if (ctx.response.is('html')) ctx.set('Content-Security-Policy', BOARD_CSP);
};

/** What the UI offers (read by the UI only; onlyRetries is what refuses the rest). Untyped: the typings lag the adapter. */
const RETRY_BUTTONS = { allowRetries: true, allowCompletedRetries: false };

// Built on first use, so that starting the web process (or importing the routes in a test) opens
// no Redis connection until someone actually looks at the board.
let board: Middleware | null = null;

function bullBoard(): Middleware {
  if (!board) {
    const serverAdapter = new KoaAdapter();
    serverAdapter.setBasePath(BULL_BOARD_PATH);
    createBullBoard({
      queues: allQueueNames().map((name) => new BullMQAdapter(queue(name), RETRY_BUTTONS)),
      // @bull-board/koa pins its own copy of @bull-board/api one patch release behind; the
      // adapter interface is the same, only the duplicated private fields differ in type.
      serverAdapter: serverAdapter as unknown as IServerAdapter,
      options: { uiConfig: { boardTitle: 'HFG queues' } },
    });
    // Bull Board is its own small Koa app mounted at the base path; it sees paths below it.
    board = serverAdapter.registerPlugin() as Middleware;
  }
  return board;
}

export const adminRouter = createRouter();

adminRouter.all(`${BULL_BOARD_PATH}{/*rest}`, requireAdmin('HFG queues'), onlyRetries, boardHeaders, (ctx, next) => bullBoard()(ctx, next));
