import { UniqueViolationError } from 'objection';
import { db, Transaction } from './knex';
import { Console, Vendor } from './models';
import { AppError, Conflict, NotFound } from '../errors';

// A cafe's physical stations and which of its games each one runs (console_games).

export type ConsoleStatus = Console['status'];

export interface NewConsole {
  console_number: string;
  model_number: string;
  brand: string;
  console_type: string;
  game_ids: number[];
}

export interface ConsoleWithGames {
  console: Console;
  gameIds: number[];
}

async function gameIdsOf(consoleId: number, trx?: Transaction): Promise<number[]> {
  const rows: Array<{ game_id: number }> = await (trx ?? db)('console_games').where('console_id', consoleId).orderBy('game_id').select('game_id');
  return rows.map((row) => row.game_id);
}

export async function findConsole(consoleId: number): Promise<Console | undefined> {
  return Console.query().findById(consoleId);
}

/** Creates the console and its game links together, or nothing. */
export async function createConsole(vendorId: number, input: NewConsole): Promise<ConsoleWithGames> {
  return db.transaction(async (trx) => {
    const vendor = await Vendor.query(trx).findById(vendorId);
    if (!vendor) throw new NotFound('Vendor');
    const gameIds = [...new Set(input.game_ids)].sort((a, b) => a - b);
    if (gameIds.length) {
      const found: Array<{ id: number }> = await trx('games')
        .where('vendor_id', vendorId)
        .whereIn('id', gameIds)
        .forKeyShare()
        .select('id');
      const foundIds = new Set(found.map((row) => row.id));
      const missing = gameIds.filter((id) => !foundIds.has(id));
      if (missing.length) {
        throw new AppError(404, 'not_found', 'Game not found at this cafe', { missing_game_ids: missing });
      }
    }
    let created: Console;
    try {
      created = await Console.query(trx).insertAndFetch({
        vendor_id: vendorId,
        console_number: input.console_number,
        model_number: input.model_number,
        brand: input.brand,
        console_type: input.console_type,
      });
    } catch (error) {
      // The (vendor_id, console_number) unique index decides, so two racing creates cannot both win.
      if (error instanceof UniqueViolationError) {
        throw new Conflict('duplicate', `Console number "${input.console_number}" already exists at this cafe`);
      }
      throw error;
    }
    if (gameIds.length) {
      await trx('console_games').insert(gameIds.map((gameId) => ({ console_id: created.id, game_id: gameId })));
    }
    return { console: created, gameIds };
  });
}

/** The console after the change, or NotFound. */
export async function setConsoleStatus(consoleId: number, status: ConsoleStatus): Promise<ConsoleWithGames> {
  const [updated] = await Console.query()
    .patch({ status, updated_at: db.fn.now() } as Partial<Console>)
    .where('id', consoleId)
    .returning('*');
  if (!updated) throw new NotFound('Console');
  return { console: updated as unknown as Console, gameIds: await gameIdsOf(consoleId) };
}
