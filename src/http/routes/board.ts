import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';
import { config } from '../../config';
import { createRouter, AppContext } from '../context';
import { idParams, queryParser, dateSchema } from '../validate';
import { findVendor } from '../../db/vendors';
import { AppError, Invalid, NotFound } from '../../errors';
import { addDays, localNow, parseCalendarDate } from '../../domain/dates';

// SPEC §5.5: the live cafe board. The HTML names the cafe, the day and where the realtime process
// is; the page's script (src/http/board/) reads the day from the public catalog (SPEC §5.1) and
// keeps it current with the slot events of SPEC §9. No build step: the files are served as they
// are. X-Frame-Options and nosniff come from security-headers.ts; the page's own policy from here.

export const boardRouter = createRouter();

const vendorParams = idParams('vendor_id');
const dayQuery = queryParser<{ date?: string }>({
  type: 'object',
  properties: { date: dateSchema },
});

interface Asset {
  body: Buffer;
  type: string;
  /** A short content hash: the HTML links `?v=<hash>`, so browsers may keep an asset for long. */
  version: string;
}

function asset(file: string, type: string): Asset {
  const body = fs.readFileSync(file);
  return { body, type, version: createHash('sha256').update(body).digest('hex').slice(0, 12) };
}

const pageDirectory = path.join(__dirname, '..', 'board');
// The socket.io browser client shipped inside the server package we already run (a production
// install has it; socket.io-client is only a dev dependency): no CDN, no copy to drift.
const socketIoClient = path.join(path.dirname(require.resolve('socket.io/package.json')), 'client-dist', 'socket.io.min.js');
const assets: Record<string, Asset> = {
  'board.js': asset(path.join(pageDirectory, 'board.js'), 'text/javascript; charset=utf-8'),
  'board.css': asset(path.join(pageDirectory, 'board.css'), 'text/css; charset=utf-8'),
  'favicon.svg': asset(path.join(pageDirectory, 'favicon.svg'), 'image/svg+xml'),
  'socket.io.min.js': asset(socketIoClient, 'text/javascript; charset=utf-8'),
};
const pageTemplate = fs.readFileSync(path.join(pageDirectory, 'board.html'), 'utf8');
const assetUrl = (name: string) => `/board/assets/${name}?v=${assets[name].version}`;

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (character) => HTML_ESCAPES[character]);

/** Fills `{{name}}` placeholders, each value HTML-escaped. */
function render(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => escapeHtml(values[name] ?? ''));
}

const HOST_NAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*\.?|\[[0-9A-Fa-f:.]+\])$/;

/**
 * Where the browser finds the realtime process: BOARD_REALTIME_URL, else this page's own host at
 * REALTIME_PORT (SPEC §9). That host is the one the browser asked for (Host, or X-Forwarded-Host
 * behind the trusted proxy), checked to be a plain host name or address before it goes into the
 * page and its policy.
 */
function realtimeOrigin(ctx: AppContext): string {
  if (config.boardRealtimeUrl) return config.boardRealtimeUrl;
  const host = ctx.hostname;
  if (!HOST_NAME.test(host)) throw new Invalid('Invalid Host header');
  return `${ctx.protocol === 'https' ? 'https' : 'http'}://${host}:${config.realtimePort}`;
}

/** socket.io starts with a WebSocket (ws:, wss:) and may fall back to HTTP long-polling on the same origin. */
const webSocketOrigin = (origin: string) => origin.replace(/^http/, 'ws');

function contentSecurityPolicy(realtime: string | null): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    ["connect-src 'self'", ...(realtime ? [realtime, webSocketOrigin(realtime)] : [])].join(' '),
    "img-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function setPageHeaders(ctx: AppContext, realtime: string | null): void {
  ctx.set('Content-Security-Policy', contentSecurityPolicy(realtime));
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('Cache-Control', 'no-cache');
}

/** A browser that asked for the page gets its refusal as a page too; any other client gets JSON. */
async function answeringBrowsersInHtml(ctx: AppContext, next: () => Promise<unknown>): Promise<void> {
  try {
    await next();
  } catch (error) {
    if (!(error instanceof AppError) || error.status >= 500 || ctx.accepts('json', 'html') !== 'html') throw error;
    setPageHeaders(ctx, null);
    ctx.status = error.status;
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = render(
      '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
      + '<title>{{title}}</title><link rel="icon" href="{{icon}}"><link rel="stylesheet" href="{{css}}"></head>'
      + '<body><main class="refusal"><h1>{{title}}</h1><p>{{message}}</p></main></body></html>\n',
      { title: error.status === 404 ? 'No such cafe' : 'Bad request', message: error.message, css: assetUrl('board.css'), icon: assetUrl('favicon.svg') },
    );
  }
}

boardRouter.get('/board/assets/:name', async (ctx) => {
  const found = Object.prototype.hasOwnProperty.call(assets, ctx.params.name) ? assets[ctx.params.name] : undefined;
  if (!found) throw new NotFound('Asset');
  ctx.set('Cache-Control', ctx.query.v === found.version ? 'public, max-age=31536000, immutable' : 'no-cache');
  ctx.type = found.type;
  ctx.body = found.body;
});

boardRouter.get('/board/:vendor_id', answeringBrowsersInHtml, async (ctx) => {
  const { vendor_id } = vendorParams(ctx.params);
  const { date: asked } = dayQuery(ctx.query);
  const vendor = await findVendor(vendor_id);
  if (!vendor) throw new NotFound('Cafe');
  // Without ?date= the board shows the cafe's today, and moves on at the cafe's midnight.
  const date = asked ? parseCalendarDate(asked)! : localNow(vendor.timezone).date;
  const realtime = realtimeOrigin(ctx);
  setPageHeaders(ctx, realtime);
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = render(pageTemplate, {
    cafe_name: vendor.cafe_name,
    vendor_id: String(vendor.id),
    date,
    follows_today: asked ? 'false' : 'true',
    timezone: vendor.timezone,
    realtime_url: realtime,
    previous_day: `/board/${vendor.id}?date=${addDays(date, -1)}`,
    next_day: `/board/${vendor.id}?date=${addDays(date, 1)}`,
    css: assetUrl('board.css'),
    icon: assetUrl('favicon.svg'),
    socket_io: assetUrl('socket.io.min.js'),
    script: assetUrl('board.js'),
  });
});
