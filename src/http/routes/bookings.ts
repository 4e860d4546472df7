import { randomUUID } from 'crypto';
import { config } from '../../config';
import { createRouter } from '../context';
import { requireActingFor, requireUser } from '../auth';
import { bodyParser, dateSchema, idParams, idSchema, paramsParser, queryParser, noBody, noQuery } from '../validate';
import { parseCalendarDate } from '../../domain/dates';
import { NotFound } from '../../errors';
import { bookingView, findBookingFor, userBookings } from '../../db/booking-views';
import { enqueueBookingJob, partitionForKey, submitHold } from '../../jobs/booking';
import { actorOf, respondWithJob, runIdempotent } from '../job-response';
import { AppContext } from '../context';
import { BOOKING_STATUSES, BookingStatus } from '../../db/models';

// SPEC §5.3. Reads are queries; every change is a job in the booking partition of its slot key.

export const bookingsRouter = createRouter();

/** `123` or `BK-123`, in a path or a body. */
const bookingIdText = { type: 'string', pattern: '^(?:[Bb][Kk]-)?[1-9][0-9]{0,9}$' } as const;
export const bookingIdSchema = { anyOf: [idSchema, bookingIdText] } as const;
export function bookingIdOf(value: number | string): number {
  const id = typeof value === 'number' ? value : Number(value.replace(/^bk-/i, ''));
  if (id > 2147483647) throw new NotFound('Booking');
  return id;
}

const bookingParams = paramsParser<{ booking_id: string }>({
  type: 'object',
  properties: { booking_id: bookingIdText },
  required: ['booking_id'],
  additionalProperties: false,
});
const bookingIdParam = (ctx: AppContext) => bookingIdOf(bookingParams(ctx.params).booking_id);

interface HoldBody {
  slot_id: number | number[];
  user_id: number;
  game_id: number;
  book_date: string;
}
const holdBody = bodyParser<HoldBody>({
  type: 'object',
  properties: {
    slot_id: {
      anyOf: [idSchema, { type: 'array', items: idSchema, minItems: 1, maxItems: config.maxSlotsPerBooking, uniqueItems: true }],
    },
    user_id: idSchema,
    game_id: idSchema,
    book_date: dateSchema,
  },
  required: ['slot_id', 'user_id', 'game_id', 'book_date'],
  additionalProperties: false,
});

/** POST /bookings' body, checked and authorized: what it asks for, and the hold as a worker takes it. */
export function holdFromRequest(ctx: AppContext) {
  const user = requireUser(ctx.state.user);
  const body = holdBody(ctx.request.body);
  requireActingFor(user, body.user_id);
  const what = {
    userId: body.user_id,
    gameId: body.game_id,
    bookDate: parseCalendarDate(body.book_date)!,
    slotIds: Array.isArray(body.slot_id) ? body.slot_id : [body.slot_id],
  };
  return { user, what, hold: { ...what, actor: actorOf(user), httpRequestId: ctx.state.requestId } };
}

bookingsRouter.post('/bookings', async (ctx) => {
  const { user, what, hold } = holdFromRequest(ctx);
  await runIdempotent(ctx, 'POST /bookings', user.id, what, (requestId, idempotency) =>
    submitHold({ requestId, ...hold, ...(idempotency ? { idempotency } : {}) }));
});

const userBookingsQuery = queryParser<{ status?: BookingStatus; limit?: number; before?: number }>({
  type: 'object',
  properties: {
    status: { type: 'string', enum: BOOKING_STATUSES },
    limit: { type: 'integer', minimum: 1, maximum: 200 },
    before: idSchema,
  },
  additionalProperties: false,
});
const userIdParams = idParams('user_id');

bookingsRouter.get('/bookings/user/:user_id', async (ctx) => {
  const user = requireUser(ctx.state.user);
  const { user_id } = userIdParams(ctx.params);
  requireActingFor(user, user_id);
  const query = userBookingsQuery({ ...ctx.query });
  ctx.body = await userBookings(actorOf(user), user_id, { status: query.status, before: query.before, limit: query.limit ?? 50 });
});

bookingsRouter.get('/bookings/:booking_id', async (ctx) => {
  const user = requireUser(ctx.state.user);
  noQuery(ctx.query);
  const view = await bookingView(actorOf(user), bookingIdParam(ctx));
  if (!view) throw new NotFound('Booking');
  ctx.body = view;
});

bookingsRouter.delete('/bookings/:booking_id', async (ctx) => {
  const user = requireUser(ctx.state.user);
  noQuery(ctx.query);
  noBody(ctx.request.body ?? {});
  const actor = actorOf(user);
  const booking = await findBookingFor(actor, bookingIdParam(ctx));
  if (!booking) throw new NotFound('Booking');
  await respondWithJob(ctx, await enqueueBookingJob('cancel', partitionForKey(booking.game_id, booking.book_date), {
    requestId: randomUUID(), httpRequestId: ctx.state.requestId, actor, bookingId: booking.id,
  }));
});

const moveBody = bodyParser<{ slot_id: number; book_date?: string }>({
  type: 'object',
  properties: { slot_id: idSchema, book_date: dateSchema },
  required: ['slot_id'],
  additionalProperties: false,
});

async function moveHandler(ctx: AppContext): Promise<void> {
  const user = requireUser(ctx.state.user);
  const bookingId = bookingIdParam(ctx);
  const body = moveBody(ctx.request.body);
  const actor = actorOf(user);
  const booking = await findBookingFor(actor, bookingId);
  if (!booking) throw new NotFound('Booking');
  const bookDate = body.book_date ? parseCalendarDate(body.book_date)! : booking.book_date;
  await respondWithJob(ctx, await enqueueBookingJob('move', partitionForKey(booking.game_id, bookDate), {
    requestId: randomUUID(), httpRequestId: ctx.state.requestId, actor, bookingId: booking.id, slotId: body.slot_id, bookDate,
  }));
}
bookingsRouter.put('/bookings/:booking_id', moveHandler);
bookingsRouter.put('/update_booking/:booking_id', moveHandler);

const releaseBody = bodyParser<{ bookings: Array<{ booking_id: number | string }> }>({
  type: 'object',
  properties: {
    bookings: {
      type: 'array',
      minItems: 1,
      maxItems: config.maxPendingHoldsPerUser,
      items: { type: 'object', properties: { booking_id: bookingIdSchema }, required: ['booking_id'], additionalProperties: false },
    },
  },
  required: ['bookings'],
  additionalProperties: false,
});

bookingsRouter.post('/release_slot', async (ctx) => {
  const user = requireUser(ctx.state.user);
  const actor = actorOf(user);
  const ids = [...new Set(releaseBody(ctx.request.body).bookings.map((b) => bookingIdOf(b.booking_id)))];
  const bookings = await Promise.all(ids.map((id) => findBookingFor(actor, id)));
  if (bookings.some((b) => b === null)) throw new NotFound('Booking');
  // One job, all or nothing. It runs in the partition of the first booking's key: holds of one
  // request share a key; holds of several keys are also changed under their row locks.
  const [first] = bookings;
  await respondWithJob(ctx, await enqueueBookingJob('release', partitionForKey(first!.game_id, first!.book_date), {
    requestId: randomUUID(), httpRequestId: ctx.state.requestId, actor, bookingIds: ids,
  }));
});
