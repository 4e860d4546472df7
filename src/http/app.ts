import Koa, { Middleware } from 'koa';
import { bodyParser } from '@koa/bodyparser';
import cors from '@koa/cors';
import { config } from '../config';
import { randomUUID } from 'crypto';
import { AppState } from './context';
import { errorMiddleware } from './errors';
import { bearerToken, verifyToken } from './auth';
import { AppError } from '../errors';
import { logger } from '../logger';
import { routes } from './routes';
import { BULL_BOARD_PATH } from './routes/admin';
import { httpMetrics } from './metrics';
import { addressRateLimit, callerRateLimit } from './rate-limit';
import { securityHeaders } from './security-headers';

export const BODY_LIMIT = '64kb';

const requestContext: Middleware<AppState> = async (ctx, next) => {
  const offered = ctx.get('X-Request-Id');
  const requestId = /^[A-Za-z0-9._-]{1,64}$/.test(offered) ? offered : randomUUID();
  ctx.state.requestId = requestId;
  ctx.state.log = logger.child({ requestId });
  ctx.set('X-Request-Id', requestId);
  const started = process.hrtime.bigint();
  try {
    await next();
  } finally {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    ctx.state.log.info({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10 }, 'request');
  }
};

// The original deployment mounted everything under /api; both spellings reach the same routes.
const apiPrefix: Middleware = async (ctx, next) => {
  if (ctx.path === '/api' || ctx.path.startsWith('/api/')) ctx.path = ctx.path.slice(4) || '/';
  await next();
};

const requireJsonBody: Middleware = async (ctx, next) => {
  if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(ctx.method) && ctx.request.length) {
    if (!ctx.is('application/json')) {
      throw new AppError(415, 'unsupported_media_type', 'Request body must be application/json');
    }
  }
  await next();
};

const authenticate: Middleware<AppState> = async (ctx, next) => {
  const header = ctx.get('Authorization') || undefined;
  // Bull Board and /metrics also take HTTP Basic, which routes/admin.ts checks itself.
  const basicForAdminPages = /^Basic\s/i.test(header ?? '')
    && (ctx.path === BULL_BOARD_PATH || ctx.path.startsWith(`${BULL_BOARD_PATH}/`) || ctx.path === '/metrics');
  const token = basicForAdminPages ? null : bearerToken(header);
  if (token) ctx.state.user = verifyToken(token);
  await next();
};

/**
 * Browsers may call the API from CORS_ORIGINS (SPEC §12: the dashboard's preflight sends
 * Authorization, Content-Type and X-Client-Source). Tokens travel in headers, never cookies, so no
 * credentials are allowed; `Location` is exposed for 202 answers.
 */
const corsPolicy = cors({
  origin: (ctx) => {
    const origin = ctx.get('Origin');
    if (config.corsOrigins === '*') return '*';
    return config.corsOrigins.includes(origin) ? origin : '';
  },
  allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
  allowHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'Prefer', 'X-Client-Source', 'X-Requested-With'],
  exposeHeaders: ['Location', 'X-Request-Id'],
  maxAge: 600,
});

export function createApp(): Koa<AppState> {
  const app = new Koa<AppState>();
  app.proxy = true;
  // The address the nearest proxy saw (the last X-Forwarded-For entry, which it appends): the
  // leftmost entries are whatever the client sent, and per-address limits must not trust them.
  app.maxIpsCount = 1;
  app.silent = true; // errorMiddleware logs; Koa's default logger would print stacks
  app.use(requestContext);
  app.use(httpMetrics); // outside errorMiddleware: it times the answer as finally sent
  app.use(securityHeaders);
  app.use(corsPolicy);
  app.use(errorMiddleware);
  app.use(apiPrefix);
  app.use(addressRateLimit);
  app.use(requireJsonBody);
  app.use(bodyParser({ enableTypes: ['json'], jsonLimit: BODY_LIMIT, encoding: 'utf-8', enableRawChecking: false, parsedMethods: ['POST', 'PUT', 'PATCH', 'DELETE'] }));
  app.use(authenticate);
  app.use(callerRateLimit);
  for (const router of routes) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return app;
}
