import { Middleware } from 'koa';
import { AppState } from './context';

// Headers every answer carries (SPEC §5.5, issue 10): no MIME sniffing anywhere; HTML pages may not
// be framed (clickjacking); answers for an authenticated caller — bookings, users, wallets, jobs,
// customers — are never stored by a browser or a shared cache. Public catalog reads stay cacheable.

/** For HTML that sets no policy of its own: forbids framing and plugins, restricts nothing it loads. */
const BASELINE_HTML_CSP = "frame-ancestors 'none'; object-src 'none'; base-uri 'self'";

export const securityHeaders: Middleware<AppState> = async (ctx, next) => {
  try {
    await next();
  } finally {
    ctx.set('X-Content-Type-Options', 'nosniff');
    if (ctx.response.is('html')) {
      ctx.set('X-Frame-Options', 'DENY');
      if (!ctx.response.get('Content-Security-Policy')) ctx.set('Content-Security-Policy', BASELINE_HTML_CSP);
    }
    // The request's credentials count even when they were refused: the answer may still name them.
    if (ctx.state.user || ctx.get('Authorization')) ctx.set('Cache-Control', 'no-store');
  }
};
