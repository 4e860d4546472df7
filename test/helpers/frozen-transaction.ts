// A database client on a host that is about to be cut off (test/bookings/bounded-waits.test.ts):
// opens a transaction with the service's own pool (src/db/knex, so the bounded waits its
// environment sets apply), locks the inventory row of one (slot, date), prints one JSON line
// naming its backend, and then does nothing, holding the transaction open. The test stops it
// with SIGSTOP (its TCP connection stays open) and kills it at the end.
//
//   node --import tsx test/helpers/frozen-transaction.ts <slot_id> <book_date>
import { db } from '../../src/db/knex';

async function main(): Promise<void> {
  const [slotId, bookDate] = process.argv.slice(2);
  if (!slotId || !bookDate) throw new Error('usage: frozen-transaction.ts <slot_id> <book_date>');
  const trx = await db.transaction();
  const { pid } = (await trx.raw('SELECT pg_backend_pid() AS pid')).rows[0];
  const locked = (await trx.raw(
    'SELECT available FROM slot_inventory WHERE slot_id = ? AND book_date = ? FOR UPDATE',
    [Number(slotId), bookDate],
  )).rows;
  if (locked.length !== 1) throw new Error(`no inventory row for slot ${slotId} on ${bookDate}`);
  process.stdout.write(`${JSON.stringify({ marker: 'frozen-transaction-locked', pid, available: locked[0].available })}\n`);
  // Alive, idle, the transaction open.
  setInterval(() => undefined, 60_000);
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
