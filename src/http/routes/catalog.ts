import { config } from '../../config';
import { createRouter } from '../context';
import { requireRole } from '../auth';
import { bodyParser, dateSchema, idParams, idSchema, paramsParser, queryParser, noBody } from '../validate';
import {
  createGamingType, deleteGamingType, findGameSlotsWithInventory, findVendorConsoles, findVendorGames,
  listGames, listGamingTypes, listSlots,
} from '../../db/catalog';
import { NotFound } from '../../errors';
import { parseCalendarDate } from '../../domain/dates';
import { paiseToRupees } from '../../domain/money';
import {
  bookingDay, datesThatAreTodaySomewhere, isShopOpen, isSlotBookable, upcomingSlots, vendorToday,
} from '../../domain/slot-availability';

// SPEC §5.1: the public catalog (reads open to anyone) and the admin-managed gaming types.

export const catalogRouter = createRouter();

const vendorParams = idParams('vendor_id');
const vendorGameParams = idParams('vendor_id', 'game_id');
const gamingTypeParams = idParams('id');

const slotDayParams = paramsParser<{ vendor_id: number; game_id: number; date: string }>({
  type: 'object',
  properties: { vendor_id: idSchema, game_id: idSchema, date: dateSchema },
  required: ['vendor_id', 'game_id', 'date'],
  additionalProperties: false,
});

const slotFilterQuery = queryParser<{ game_id?: number; vendor_id?: number }>({
  type: 'object',
  properties: { game_id: idSchema, vendor_id: idSchema },
  additionalProperties: false,
});

const newGamingTypeBody = bodyParser<{ name: string; description?: string }>({
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100, pattern: '\\S' },
    description: { type: 'string', maxLength: 1000 },
  },
  required: ['name'],
  additionalProperties: false,
});

catalogRouter.get('/games', async (ctx) => {
  const games = await listGames();
  ctx.body = games.map((game) => ({
    id: game.id,
    game_name: game.game_name,
    total_slots: game.total_slots,
    single_slot_price: paiseToRupees(game.single_slot_price_paise),
  }));
});

catalogRouter.get('/games/vendor/:vendor_id', async (ctx) => {
  const { vendor_id } = vendorParams(ctx.params);
  const found = await findVendorGames(vendor_id);
  if (!found) throw new NotFound('Vendor');
  ctx.body = {
    games: found.games.map((game) => ({
      id: game.id,
      game_name: game.game_name,
      total_slots: game.total_slots,
      single_slot_price: paiseToRupees(game.single_slot_price_paise),
      opening_days: found.vendor.opening_days,
    })),
    shop_open: isShopOpen(found.vendor),
    game_count: found.games.length,
  };
});

catalogRouter.get('/gaming-types', async (ctx) => {
  ctx.body = await listGamingTypes();
});

catalogRouter.post('/gaming-types', async (ctx) => {
  requireRole(ctx.state.user, 'admin');
  const body = newGamingTypeBody(ctx.request.body);
  ctx.status = 201;
  ctx.body = await createGamingType({ name: body.name.trim(), description: body.description?.trim() ?? '' });
});

catalogRouter.delete('/gaming-types/:id', async (ctx) => {
  requireRole(ctx.state.user, 'admin');
  const { id } = gamingTypeParams(ctx.params);
  noBody(ctx.request.body ?? {});
  await deleteGamingType(id);
  ctx.body = { message: 'Gaming type deleted' };
});

catalogRouter.get('/slots', async (ctx) => {
  const filter = slotFilterQuery(ctx.query);
  ctx.body = await listSlots(filter);
});

catalogRouter.get('/getSlots/vendor/:vendor_id/game/:game_id/:date', async (ctx) => {
  const params = slotDayParams(ctx.params);
  const date = parseCalendarDate(params.date)!; // the schema's format already proved it parses
  const found = await findGameSlotsWithInventory(params.vendor_id, params.game_id, [date]);
  if (!found) throw new NotFound('Game of this vendor');
  const day = bookingDay(found.vendor, date);
  if (!day.open) {
    ctx.body = { slots: [] };
    return;
  }
  const price = paiseToRupees(found.game.single_slot_price_paise);
  ctx.body = {
    slots: found.slots.map((slot) => {
      const available = slot.availableByDate.get(date) ?? found.game.total_slots;
      return {
        slot_id: slot.id,
        start_time: slot.start_time,
        end_time: slot.end_time,
        is_available: isSlotBookable(day, slot.start_time, available, config.maxDaysAhead),
        available_slot: available,
        single_slot_price: price,
      };
    }),
  };
});

catalogRouter.get('/getSlotList/vendor/:vendor_id/game/:game_id', async (ctx) => {
  const { vendor_id, game_id } = vendorGameParams(ctx.params);
  const now = new Date();
  // The vendor's zone is known only once the row is read, so fetch every date that can be today.
  const found = await findGameSlotsWithInventory(vendor_id, game_id, datesThatAreTodaySomewhere(now));
  if (!found) throw new NotFound('Game of this vendor');
  const today = vendorToday(found.vendor, now);
  ctx.body = upcomingSlots(today, found.slots).map((slot) => ({
    slot_id: slot.id,
    start_time: slot.start_time,
    end_time: slot.end_time,
    is_available: isSlotBookable(today, slot.start_time, slot.availableByDate.get(today.date) ?? found.game.total_slots, config.maxDaysAhead),
  }));
});

catalogRouter.get('/getAllConsole/vendor/:vendor_id', async (ctx) => {
  const { vendor_id } = vendorParams(ctx.params);
  const consoles = await findVendorConsoles(vendor_id);
  if (!consoles) throw new NotFound('Vendor');
  ctx.body = { consoles };
});
