import { createRouter, AppContext } from '../context';
import { requireRole, requireUser, requireVendorAccess } from '../auth';
import { bodyIdSchema, bodyParser, clockTimeSchema, endTimeSchema, idParams, nullableBodyIdSchema, queryParser, toId, uniqueIds } from '../validate';
import { Invalid, NotFound, Forbidden } from '../../errors';
import { Console, Game, Slot, User, Vendor } from '../../db/models';
import { createVendor, findVendor, setOpeningDays } from '../../db/vendors';
import { addSlot, createGame, findGame, GameWithSlots, slotOverlap, updateGame } from '../../db/games';
import { ConsoleStatus, ConsoleWithGames, createConsole, findConsole, setConsoleStatus } from '../../db/consoles';
import { createUser, findUser } from '../../db/users';
import { listCustomers, registerCustomer } from '../../db/customers';
import { findOverlaps, normalizeWindow, normalizeWindows, OpeningHours, SlotTimesResult, SlotWindow, windowsFromOpeningHours } from '../../domain/slot-times';
import { isValidTimeZone } from '../../domain/dates';
import { paiseToRupees, rupeesToPaise } from '../../domain/money';

// SPEC §5.2: onboarding a cafe — vendor, games and their slots, consoles — and the local copies of
// users. Admin, or the vendor for its own cafe; creating vendors and users is admin only.

export const onboardingRouter = createRouter();

const OPENING_DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const MAX_SLOTS_PER_GAME = 288; // every 5 minutes of a day
const MAX_PRICE_RUPEES = 1_000_000;
const MAX_TOTAL_SLOTS = 1000;

const text = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength, pattern: '\\S' }) as const;
const openingDaysSchema = {
  type: 'array',
  items: { type: 'string', enum: OPENING_DAYS },
  uniqueItems: true,
  maxItems: 7,
} as const;
const totalSlotsSchema = { type: 'integer', minimum: 1, maximum: MAX_TOTAL_SLOTS } as const;
const priceSchema = { type: 'integer', minimum: 0, maximum: MAX_PRICE_RUPEES } as const;
const windowSchema = {
  type: 'object',
  properties: { start_time: clockTimeSchema, end_time: endTimeSchema },
  required: ['start_time', 'end_time'],
  additionalProperties: false,
} as const;
const openingHoursSchema = {
  type: 'object',
  properties: { open: clockTimeSchema, close: endTimeSchema, minutes: { type: 'integer', minimum: 5, maximum: 1440 } },
  required: ['open', 'close', 'minutes'],
  additionalProperties: false,
} as const;

interface VendorBody { cafe_name: string; timezone?: string; opening_days?: string[] }
const parseVendorBody = bodyParser<VendorBody>({
  type: 'object',
  properties: { cafe_name: text(200), timezone: { type: 'string', minLength: 1, maxLength: 64 }, opening_days: openingDaysSchema },
  required: ['cafe_name'],
  additionalProperties: false,
});

const parseOpeningDaysBody = bodyParser<{ opening_days: string[] }>({
  type: 'object',
  properties: { opening_days: openingDaysSchema },
  required: ['opening_days'],
  additionalProperties: false,
});

type WindowInput = { start_time: string; end_time: string };
interface GameBody {
  game_name: string;
  gaming_type_id?: number | string | null;
  total_slots: number;
  single_slot_price: number;
  slots?: WindowInput[] | OpeningHours;
}
const parseGameBody = bodyParser<GameBody>({
  type: 'object',
  properties: {
    game_name: text(200),
    gaming_type_id: nullableBodyIdSchema,
    total_slots: totalSlotsSchema,
    single_slot_price: priceSchema,
    slots: { oneOf: [{ type: 'array', items: windowSchema, maxItems: MAX_SLOTS_PER_GAME }, openingHoursSchema] },
  },
  required: ['game_name', 'total_slots', 'single_slot_price'],
  additionalProperties: false,
});

const parseGameChanges = bodyParser<{ single_slot_price?: number; total_slots?: number }>({
  type: 'object',
  properties: { single_slot_price: priceSchema, total_slots: totalSlotsSchema },
  minProperties: 1,
  additionalProperties: false,
});

const parseSlotBody = bodyParser<WindowInput>(windowSchema);

interface ConsoleBody { console_number: string | number; model_number: string; brand: string; console_type: string; game_ids?: Array<number | string> }
const parseConsoleBody = bodyParser<ConsoleBody>({
  type: 'object',
  properties: {
    // SPEC §12: the dashboard sends it as a string or an integer; it is kept as text.
    console_number: { anyOf: [text(50), { type: 'integer', minimum: 0, maximum: 2147483647 }] },
    model_number: text(100),
    brand: text(100),
    console_type: text(100),
    game_ids: { type: 'array', items: bodyIdSchema, maxItems: 100 },
  },
  required: ['console_number', 'model_number', 'brand', 'console_type'],
  additionalProperties: false,
});

const parseConsoleStatus = bodyParser<{ status: ConsoleStatus }>({
  type: 'object',
  properties: { status: { type: 'string', enum: ['available', 'in_use', 'maintenance'] } },
  required: ['status'],
  additionalProperties: false,
});

interface UserBody { name: string; email: string; phone: string }
const userFields = {
  name: text(200),
  email: { type: 'string', maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$' },
  phone: { type: 'string', pattern: '^\\+?[0-9][0-9 -]{5,18}[0-9]$' },
} as const;
const parseUserBody = bodyParser<UserBody>({
  type: 'object',
  properties: userFields,
  required: ['name', 'email', 'phone'],
  additionalProperties: false,
});
const parseCustomerBody = bodyParser<{ name: string; phone: string; email?: string }>({
  type: 'object',
  properties: userFields,
  required: ['name', 'phone'],
  additionalProperties: false,
});
const parseCustomerQuery = queryParser<{ q?: string; limit?: number }>({
  type: 'object',
  properties: { q: { type: 'string', minLength: 1, maxLength: 100 }, limit: { type: 'integer', minimum: 1, maximum: 200 } },
});
const parseVendorIdParam = idParams('vendor_id');

const parseId = idParams('id');

// --- answers -----------------------------------------------------------------------------------

function vendorBody(vendor: Vendor) {
  return { id: vendor.id, cafe_name: vendor.cafe_name, timezone: vendor.timezone, opening_days: vendor.opening_days };
}

function gameBody({ game, slots }: GameWithSlots) {
  return {
    id: game.id,
    vendor_id: game.vendor_id,
    game_name: game.game_name,
    gaming_type_id: game.gaming_type_id,
    total_slots: game.total_slots,
    single_slot_price: paiseToRupees(game.single_slot_price_paise),
    slots: slots.map((slot) => ({ id: slot.id, start_time: slot.start_time, end_time: slot.end_time })),
  };
}

/** The shape GET /slots lists. */
function slotBody(slot: Slot, game: Game) {
  return { id: slot.id, start_time: slot.start_time, end_time: slot.end_time, gaming_type_id: game.gaming_type_id, game_id: slot.game_id };
}

function consoleBody({ console: station, gameIds }: ConsoleWithGames) {
  return {
    id: station.id,
    console_number: station.console_number,
    model_number: station.model_number,
    brand: station.brand,
    console_type: station.console_type,
    status: station.status,
    game_ids: gameIds,
  };
}

function userBody(user: User) {
  return { id: user.id, name: user.name, email: user.email, phone: user.phone };
}

// --- input rules beyond the schema ---------------------------------------------------------------

/** Canonical IANA name ("asia/kolkata" → "Asia/Kolkata"), so vendor zones compare and display consistently. */
function canonicalTimeZone(zone: string): string {
  if (!isValidTimeZone(zone)) throw new Invalid(`Unknown time zone "${zone}"`);
  return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
}

function inWeekOrder(days: string[]): string[] {
  return OPENING_DAYS.filter((day) => days.includes(day));
}

function windowsOrInvalid(result: SlotTimesResult): SlotWindow[] {
  if (!result.ok) throw new Invalid(result.reason);
  return result.windows;
}

function requestedWindows(slots: GameBody['slots']): SlotWindow[] {
  if (slots === undefined) return [];
  const windows = windowsOrInvalid(Array.isArray(slots) ? normalizeWindows(slots) : windowsFromOpeningHours(slots));
  if (findOverlaps(windows).length) throw slotOverlap();
  return windows;
}

async function vendorOrNotFound(vendorId: number): Promise<Vendor> {
  const vendor = await findVendor(vendorId);
  if (!vendor) throw new NotFound('Vendor');
  return vendor;
}

/** Loads a game and checks the caller runs its cafe (or is admin). */
async function gameForCaller(ctx: AppContext): Promise<Game> {
  const user = requireUser(ctx.state.user);
  const { id } = parseId(ctx.params);
  const game = await findGame(id);
  if (!game) throw new NotFound('Game');
  requireVendorAccess(user, game.vendor_id);
  return game;
}

// --- routes ------------------------------------------------------------------------------------

onboardingRouter.post('/vendors', async (ctx) => {
  requireRole(ctx.state.user, 'admin');
  const body = parseVendorBody(ctx.request.body);
  const vendor = await createVendor({
    cafe_name: body.cafe_name.trim(),
    timezone: body.timezone === undefined ? undefined : canonicalTimeZone(body.timezone),
    opening_days: body.opening_days && inWeekOrder(body.opening_days),
  });
  ctx.status = 201;
  ctx.body = vendorBody(vendor);
});

// Public, like the rest of the catalog: a cafe's name, zone and days are shown to every gamer.
onboardingRouter.get('/vendors/:id', async (ctx) => {
  const { id } = parseId(ctx.params);
  ctx.body = vendorBody(await vendorOrNotFound(id));
});

onboardingRouter.put('/vendors/:id/opening-days', async (ctx) => {
  requireUser(ctx.state.user);
  const { id } = parseId(ctx.params);
  requireVendorAccess(ctx.state.user, id);
  const { opening_days } = parseOpeningDaysBody(ctx.request.body);
  const vendor = await setOpeningDays(id, inWeekOrder(opening_days));
  if (!vendor) throw new NotFound('Vendor');
  ctx.body = vendorBody(vendor);
});

onboardingRouter.post('/vendors/:id/games', async (ctx) => {
  requireUser(ctx.state.user);
  const { id } = parseId(ctx.params);
  requireVendorAccess(ctx.state.user, id);
  const body = parseGameBody(ctx.request.body);
  const created = await createGame(id, {
    game_name: body.game_name.trim(),
    gaming_type_id: body.gaming_type_id == null ? null : toId(body.gaming_type_id, 'gaming_type_id'),
    total_slots: body.total_slots,
    single_slot_price_paise: rupeesToPaise(body.single_slot_price),
    slots: requestedWindows(body.slots),
  });
  ctx.status = 201;
  ctx.body = gameBody(created);
});

onboardingRouter.patch('/games/:id', async (ctx) => {
  const game = await gameForCaller(ctx);
  const changes = parseGameChanges(ctx.request.body);
  const updated = await updateGame(game.id, {
    total_slots: changes.total_slots,
    single_slot_price_paise: changes.single_slot_price === undefined ? undefined : rupeesToPaise(changes.single_slot_price),
  });
  ctx.body = gameBody(updated);
});

onboardingRouter.post('/games/:id/slots', async (ctx) => {
  const game = await gameForCaller(ctx);
  const [window] = windowsOrInvalid(normalizeWindow(parseSlotBody(ctx.request.body)));
  const slot = await addSlot(game.id, window);
  ctx.status = 201;
  ctx.body = slotBody(slot, game);
});

onboardingRouter.post('/vendors/:id/consoles', async (ctx) => {
  requireUser(ctx.state.user);
  const { id } = parseId(ctx.params);
  requireVendorAccess(ctx.state.user, id);
  const body = parseConsoleBody(ctx.request.body);
  const created = await createConsole(id, {
    console_number: String(body.console_number).trim(),
    model_number: body.model_number.trim(),
    brand: body.brand.trim(),
    console_type: body.console_type.trim(),
    game_ids: uniqueIds(body.game_ids ?? [], 'game_ids'),
  });
  ctx.status = 201;
  ctx.body = consoleBody(created);
});

onboardingRouter.patch('/consoles/:id', async (ctx) => {
  const user = requireUser(ctx.state.user);
  const { id } = parseId(ctx.params);
  const station: Console | undefined = await findConsole(id);
  if (!station) throw new NotFound('Console');
  requireVendorAccess(user, station.vendor_id);
  const { status } = parseConsoleStatus(ctx.request.body);
  ctx.body = consoleBody(await setConsoleStatus(id, status));
});

onboardingRouter.post('/users', async (ctx) => {
  requireRole(ctx.state.user, 'admin');
  const body = parseUserBody(ctx.request.body);
  const user = await createUser({ name: body.name.trim(), email: body.email, phone: body.phone });
  ctx.status = 201;
  ctx.body = userBody(user);
});

onboardingRouter.get('/users/:id', async (ctx) => {
  const caller = requireUser(ctx.state.user);
  const { id } = parseId(ctx.params);
  if (caller.role !== 'admin' && caller.id !== id) throw new Forbidden('You may read only your own profile');
  const user = await findUser(id);
  if (!user) throw new NotFound('User');
  ctx.body = userBody(user);
});

// A cafe's walk-in customers (SPEC §5.2): the cafe (or an admin) registers them and may then hold
// slots for them; the same phone again is the same customer.
onboardingRouter.post('/vendor/:vendor_id/users', async (ctx) => {
  const { vendor_id } = parseVendorIdParam(ctx.params);
  requireVendorAccess(ctx.state.user, vendor_id);
  const body = parseCustomerBody(ctx.request.body);
  const { user } = await registerCustomer(vendor_id, { name: body.name.trim(), phone: body.phone, email: body.email ?? null });
  ctx.status = 201;
  ctx.body = userBody(user);
});

onboardingRouter.get('/vendor/:vendor_id/users', async (ctx) => {
  const { vendor_id } = parseVendorIdParam(ctx.params);
  requireVendorAccess(ctx.state.user, vendor_id);
  const query = parseCustomerQuery({ ...ctx.query });
  if (!(await findVendor(vendor_id))) throw new NotFound('Vendor');
  ctx.body = (await listCustomers(vendor_id, { q: query.q, limit: query.limit ?? 50 })).map(userBody);
});
