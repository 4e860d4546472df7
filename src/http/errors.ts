import { Middleware } from 'koa';
import { AppError, Invalid, Unavailable } from '../errors';
import { logger } from '../logger';

// The one place errors become HTTP answers (SPEC §3). Bad input never reaches the 500 branch:
// body-parser failures, PostgreSQL input errors and unknown routes all map to 4xx here.

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P03', '08006', '08001']);

// What the drivers say when a server is gone, frozen or in the middle of a restart or failover:
// knex and pg (pool exhausted, connection cut, server starting up), ioredis (commandTimeout on a
// frozen server, a closed or offline stream, retries used up, a cluster with no node) and Redis
// replies from a server that cannot serve yet (LOADING, a replica after failover, cluster moves).
const CONNECTION_MESSAGES = new RegExp([
  'Knex: Timeout acquiring a connection', 'Connection terminated', 'Connection ended unexpectedly',
  'Client has encountered a connection error', 'timeout expired', 'the database system is (starting up|shutting down)',
  'Command timed out', 'Connection is closed', "Stream isn't writeable", 'max retries per request',
  'Redis.*(closed|offline)', 'Failed to refresh slots cache', 'All sentinels are unreachable',
  // ioredis wraps a cluster's refusals: "Too many Cluster redirections. Last error: ReplyError: CLUSTERDOWN …".
  'Too many Cluster redirections', '(^|ReplyError: )(LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN) ',
].join('|'), 'i');

function isConnectionError(error: any): boolean {
  if (!error) return false;
  if (CONNECTION_CODES.has(error.code)) return true;
  if (error.name === 'ClusterAllFailedError' || error.name === 'MaxRetriesPerRequestError') return true;
  return CONNECTION_MESSAGES.test(String(error.message ?? ''));
}

function toAppError(error: any): AppError | null {
  if (error instanceof AppError) return error;
  // koa/body-parser errors carry an explicit client status.
  if (error?.status === 413 || error?.type === 'entity.too.large') {
    return new AppError(413, 'payload_too_large', 'Request body is too large');
  }
  if (error?.type === 'entity.parse.failed' || (error?.status === 400 && error?.body !== undefined)) {
    return new AppError(400, 'invalid_json', 'Request body is not valid JSON');
  }
  if (error?.type === 'encoding.unsupported' || error?.status === 415) {
    return new AppError(415, 'unsupported_media_type', 'Unsupported request encoding');
  }
  // objection wraps driver errors (DataError, ...) and keeps the SQLSTATE on nativeError.
  if (error?.nativeError && error.code === undefined) return toAppError(error.nativeError);
  if (typeof error?.code === 'string') {
    // PostgreSQL input errors that slipped past validation are still the client's input.
    if (['22P02', '22007', '22008', '22003', '22001', '22021'].includes(error.code)) return new Invalid('Invalid value');
    // A deadlock or serialization failure: the transaction rolled back whole; the client may retry.
    if (['40P01', '40001'].includes(error.code)) return new Unavailable('The request collided with another; try again');
    // A bounded wait ran out (lock_timeout, statement_timeout): transient, the client may retry.
    if (['55P03', '57014'].includes(error.code)) return new Unavailable('The database is busy; try again');
    // zlib and brotli: a body whose Content-Encoding does not match its bytes.
    if (/^(Z_|ERR__ERROR_|ERR_BROTLI)/.test(error.code)) return new AppError(400, 'invalid_json', 'Request body could not be decoded');
    if (isConnectionError(error)) return new Unavailable('A backing service is unavailable');
  }
  if (isConnectionError(error)) return new Unavailable('A backing service is unavailable');
  return null;
}

export const errorMiddleware: Middleware = async (ctx, next) => {
  try {
    await next();
    if (ctx.status === 404 && ctx.body === undefined) {
      ctx.status = 404;
      ctx.body = { message: `No route for ${ctx.method} ${ctx.path}`, code: 'not_found' };
    } else if ((ctx.status === 405 || ctx.status === 501) && ctx.body === undefined) {
      // The router answers 501 for a method it has never heard of (PURGE): a refusal, never a 5xx.
      ctx.status = 405;
      ctx.body = { message: `Method ${ctx.method} not allowed on ${ctx.path}`, code: 'method_not_allowed' };
    }
  } catch (error: any) {
    const appError = toAppError(error);
    const log = ctx.state.log ?? logger;
    if (appError) {
      if (appError.status >= 500) log.warn({ err: error }, 'request failed: %s', appError.message);
      ctx.status = appError.status;
      ctx.body = appError.toBody();
    } else {
      log.error({ err: error }, 'unhandled error');
      ctx.status = 500;
      ctx.body = { message: 'Internal server error', code: 'internal' };
    }
  }
};
