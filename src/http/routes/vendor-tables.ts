import { createRouter, AppContext } from '../context';
import { requireRole, requireVendorAccess } from '../auth';
import { dateSchema, idParams, noBody, queryParser } from '../validate';
import { Invalid, NotFound } from '../../errors';
import { config } from '../../config';
import { findVendor } from '../../db/vendors';
import { dashboardOf, promoDetailsOf } from '../../db/vendor-tables';
import { addDays, localNow, parseCalendarDate } from '../../domain/dates';
import { paiseToRupees } from '../../domain/money';
import { enqueueRepair } from '../../jobs/vendor-sync';
import { jobWaiter } from '../../jobs/job-waiter';
import { QUEUE_NAMES } from '../../jobs/queues';

// SPEC §8: a cafe's dashboard and promo tables, for that cafe or an admin, read from the vendor
// tables that vendor-sync jobs write (never from bookings); and the admin's repair, which
// rebuilds one cafe's rows from the bookings truth. Personal data: never stored by a cache.

export const vendorTablesRouter = createRouter();

/** The longest promo-details range, in days (a quarter). */
const MAX_RANGE_DAYS = 92;

const vendorParams = idParams('vendor_id');
const dayQuery = queryParser<{ date?: string }>({ type: 'object', properties: { date: dateSchema } });
const rangeQuery = queryParser<{ from: string; to: string }>({
  type: 'object', properties: { from: dateSchema, to: dateSchema }, required: ['from', 'to'],
});

/** The vendor named in the path, for a caller allowed to see it. */
async function cafeOf(ctx: AppContext) {
  const { vendor_id } = vendorParams(ctx.params);
  requireVendorAccess(ctx.state.user, vendor_id);
  const vendor = await findVendor(vendor_id);
  if (!vendor) throw new NotFound('Vendor');
  ctx.set('Cache-Control', 'no-store');
  return vendor;
}

const hhmm = (time: string) => time.slice(0, 5);

vendorTablesRouter.get('/vendor/:vendor_id/dashboard', async (ctx) => {
  const vendor = await cafeOf(ctx);
  const { date } = dayQuery(ctx.query);
  const day = date ? parseCalendarDate(date)! : localNow(vendor.timezone).date;
  const rows = await dashboardOf(vendor.id, day);
  ctx.body = {
    vendor_id: vendor.id,
    date: day,
    bookings: rows.map((row) => ({ ...row, start_time: hhmm(row.start_time), end_time: hhmm(row.end_time), amount: paiseToRupees(row.amount) })),
  };
});

vendorTablesRouter.get('/vendor/:vendor_id/promo-details', async (ctx) => {
  const vendor = await cafeOf(ctx);
  const query = rangeQuery(ctx.query);
  const from = parseCalendarDate(query.from)!;
  const to = parseCalendarDate(query.to)!;
  if (from > to) throw new Invalid('from must not be after to', { from, to });
  if (addDays(from, MAX_RANGE_DAYS - 1) < to) throw new Invalid(`A range covers at most ${MAX_RANGE_DAYS} days`, { from, to, max_days: MAX_RANGE_DAYS });
  const rows = await promoDetailsOf(vendor.id, from, to);
  ctx.body = {
    vendor_id: vendor.id,
    from,
    to,
    promo_details: rows.map((row) => ({
      ...row, start_time: hhmm(row.start_time), discount_applied: paiseToRupees(row.discount_applied), actual_price: paiseToRupees(row.actual_price),
    })),
  };
});

vendorTablesRouter.post('/admin/vendors/:vendor_id/vendor-sync/repair', async (ctx) => {
  const { vendor_id } = vendorParams(ctx.params);
  requireRole(ctx.state.user, 'admin');
  noBody(ctx.request.body ?? {});
  if (!(await findVendor(vendor_id))) throw new NotFound('Vendor');
  const jobId = await enqueueRepair(vendor_id);
  const end = /\brespond-async\b/i.test(ctx.get('Prefer')) ? null : await jobWaiter.join(QUEUE_NAMES.vendorSync, jobId, config.syncWaitMs);
  if (end?.state === 'completed') {
    ctx.body = { job_id: jobId, state: 'completed', result: end.returnvalue };
    return;
  }
  // Still queued, or failed an attempt and waiting for its retry: the repair goes on without us.
  ctx.status = 202;
  ctx.body = { job_id: jobId, status: 'queued' };
});
