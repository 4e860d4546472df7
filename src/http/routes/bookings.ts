import { randomUUID } from 'crypto';
import { config } from '../../config';
import { createRouter } from '../context';
import { requireActingFor, requireUser } from '../auth';
import { bodyIdSchema, bodyParser, bookingIdOf, bookingIdSchema, bookingIdText, dateSchema, idParams, idSchema, ignoredValueSchema, paramsParser, queryParser, noBody, toId, uniqueIds } from '../validate';
import { parseCalendarDate } from '../../domain/dates';
import { NotFound } from '../../errors';
import { clientFieldSchemas, refuseUnofferedFeatures } from '../client-features';
import { appBookings, bookingView, findBookingFor, userBookings } from '../../db/booking-views';
import { enqueueBookingJob, partitionForKey, submitHold } from '../../jobs/booking';
import { actorOf, respondWithJob, runIdempotent } from '../job-response';
import { AppContext } from '../context';
import { BOOKING_STATUSES, BookingStatus } from '../../db/models';

// SPEC §5.3. Reads are queries; every change is a job in the booking partition of its slot key.

export const bookingsRouter = createRouter();


const bookingParams = paramsParser<{ booking_id: string }>({
  type: 'object',
  properties: { booking_id: bookingIdText },
  required: ['booking_id'],
  additionalProperties: false,
});
const bookingIdParam = (ctx: AppContext) => bookingIdOf(bookingParams(ctx.params).booking_id);

type BodyId = number | string;
interface HoldBody {
  slot_id: BodyId | BodyId[];
  user_id?: BodyId;
  game_id: BodyId;
  book_date: string;
}
const holdBody = bodyParser<HoldBody>({
  type: 'object',
  properties: {
    slot_id: {
      anyOf: [bodyIdSchema, { type: 'array', items: bodyIdSchema, minItems: 1, maxItems: config.maxSlotsPerBooking }],
    },
    user_id: bodyIdSchema,
    game_id: bodyIdSchema,
    book_date: dateSchema,
    ...clientFieldSchemas,
  },
  required: ['slot_id', 'game_id', 'book_date'],
  additionalProperties: false,
});

/** POST /bookings' body, checked and authorized: what it asks for, and the hold as a worker takes it. */
export function holdFromRequest(ctx: AppContext) {
  const user = requireUser(ctx.state.user);
  refuseUnofferedFeatures(ctx.request.body);
  const body = holdBody(ctx.request.body);
  const userId = body.user_id === undefined ? user.id : toId(body.user_id, 'user_id'); // SPEC §5.3: the caller by default
  requireActingFor(user, userId);
  const slotIds = uniqueIds(Array.isArray(body.slot_id) ? body.slot_id : [body.slot_id], 'slot_id');
  const what = { userId, gameId: toId(body.game_id, 'game_id'), bookDate: parseCalendarDate(body.book_date)!, slotIds };
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
  const query = userBookingsQuery(ctx.query);
  ctx.body = await userBookings(actorOf(user), user_id, { status: query.status, before: query.before, limit: query.limit ?? 50 });
});

const APP_LIST_LIMIT = 1000;

// SPEC §12: the HFG app's own list, the caller's bookings.
bookingsRouter.get('/users/bookings', async (ctx) => {
  const user = requireUser(ctx.state.user);
  const query = userBookingsQuery(ctx.query);
  ctx.set('Cache-Control', 'no-store');
  // The app does not page: every booking, up to a bound no gamer reaches.
  ctx.body = await appBookings(user.id, { status: query.status, before: query.before, limit: query.limit ?? APP_LIST_LIMIT });
});

bookingsRouter.get('/bookings/:booking_id', async (ctx) => {
  const user = requireUser(ctx.state.user);
  const view = await bookingView(actorOf(user), bookingIdParam(ctx));
  if (!view) throw new NotFound('Booking');
  ctx.body = view;
});

bookingsRouter.delete('/bookings/:booking_id', async (ctx) => {
  const user = requireUser(ctx.state.user);
  noBody(ctx.request.body ?? {});
  const actor = actorOf(user);
  const booking = await findBookingFor(actor, bookingIdParam(ctx));
  if (!booking) throw new NotFound('Booking');
  await respondWithJob(ctx, await enqueueBookingJob('cancel', partitionForKey(booking.game_id, booking.book_date), {
    requestId: randomUUID(), httpRequestId: ctx.state.requestId, actor, bookingId: booking.id,
  }));
});

const moveBody = bodyParser<{ slot_id: BodyId; book_date?: string }>({
  type: 'object',
  properties: { slot_id: bodyIdSchema, book_date: dateSchema },
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
    requestId: randomUUID(), httpRequestId: ctx.state.requestId, actor, bookingId: booking.id, slotId: toId(body.slot_id, 'slot_id'), bookDate,
  }));
}
bookingsRouter.put('/bookings/:booking_id', moveHandler);
bookingsRouter.put('/update_booking/:booking_id', moveHandler);

/** A release item: the booking id decides; the app also sends the slot and a timestamp, ignored. */
const releaseItem = {
  type: 'object',
  properties: { booking_id: bookingIdSchema, slot_id: bodyIdSchema, book_date: ignoredValueSchema },
  required: ['booking_id'],
  additionalProperties: false,
} as const;
const releaseBody = bodyParser<{ bookings: ReleaseItem | ReleaseItem[] }>({
  type: 'object',
  properties: {
    bookings: { anyOf: [releaseItem, { type: 'array', minItems: 1, maxItems: config.maxPendingHoldsPerUser, items: releaseItem }] },
  },
  required: ['bookings'],
  additionalProperties: false,
});
interface ReleaseItem { booking_id: number | string }

bookingsRouter.post('/release_slot', async (ctx) => {
  const user = requireUser(ctx.state.user);
  const actor = actorOf(user);
  const { bookings: items } = releaseBody(ctx.request.body);
  const ids = [...new Set((Array.isArray(items) ? items : [items]).map((b) => bookingIdOf(b.booking_id)))];
  const bookings = await Promise.all(ids.map((id) => findBookingFor(actor, id)));
  if (bookings.some((b) => b === null)) throw new NotFound('Booking');
  // One job, all or nothing. It runs in the partition of the first booking's key: holds of one
  // request share a key; holds of several keys are also changed under their row locks.
  const [first] = bookings;
  await respondWithJob(ctx, await enqueueBookingJob('release', partitionForKey(first!.game_id, first!.book_date), {
    requestId: randomUUID(), httpRequestId: ctx.state.requestId, actor, bookingIds: ids,
  }));
});
