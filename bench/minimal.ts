import { Client } from 'pg';
import { Attempt, OK } from './load';

// The floor a user compares the engine with (issue 11): the minimal booking transaction from
// node-postgres, one client per request in flight, on a scratch table pair of the shape of
// slot_inventory and bookings (LIKE … INCLUDING ALL: the same columns, defaults, CHECKs and
// indexes; no foreign keys, no ledger, no outbox, no user lock, no catalog read):
//
//   BEGIN
//   SELECT available FROM inventory WHERE slot_id = $1 AND book_date = $2 FOR UPDATE
//   UPDATE inventory SET available = available - 1 WHERE slot_id = $1 AND book_date = $2 AND available > 0
//   INSERT INTO bookings (…) VALUES (…) RETURNING id
//   COMMIT
//
// Five round trips, three statements. Many keys: MINIMAL_MANY_KEYS rows on one day, picked at
// random; hot slot: one row of MINIMAL_HOT_CAPACITY units. The hot row sells out every
// MINIMAL_HOT_CAPACITY holds, so the transaction that finds it empty (after its lock) refills it
// to capacity before taking its unit: the run measures holds, not refusals, at one extra
// statement per thousand holds. The refills are counted, so the check below still proves that
// no unit was sold twice.

export const MINIMAL_MANY_KEYS = 224;
export const MINIMAL_HOT_CAPACITY = 1000;
const ROOMY_CAPACITY = 1_000_000;
const HOT_SLOT_ID = 1_000_000;
const BOOK_DATE = '2031-01-01';

export type MinimalScenario = 'many keys' | 'hot slot';

export interface MinimalBench {
  /** One attempt per call: the scenario's row for the next user, run on a free client. */
  prepare(scenario: MinimalScenario): () => Attempt;
  /** Holds committed so far (answers OK). */
  committed(): number;
  /** Refills of the hot row (each gave it MINIMAL_HOT_CAPACITY units again). */
  refills(): number;
  /** Null when every row's bookings equal the units it gave (capacity − available + refills × capacity) and the bookings count equals the holds committed. */
  check(): Promise<string | null>;
  close(): Promise<void>;
}

export async function setUpMinimal(databaseUrl: string, clients: number): Promise<MinimalBench> {
  const admin = new Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    await admin.query(`
      DROP TABLE IF EXISTS bench_bookings, bench_inventory;
      CREATE TABLE bench_inventory (LIKE slot_inventory INCLUDING ALL);
      CREATE TABLE bench_bookings (LIKE bookings INCLUDING ALL);
      CREATE SEQUENCE bench_bookings_id_seq OWNED BY bench_bookings.id;
      ALTER TABLE bench_bookings ALTER COLUMN id SET DEFAULT nextval('bench_bookings_id_seq');
      INSERT INTO bench_inventory (slot_id, book_date, game_id, capacity, available)
        SELECT n, DATE '${BOOK_DATE}', 1 + n / 23, ${ROOMY_CAPACITY}, ${ROOMY_CAPACITY} FROM generate_series(1, ${MINIMAL_MANY_KEYS}) AS n
        UNION ALL SELECT ${HOT_SLOT_ID}, DATE '${BOOK_DATE}', 0, ${MINIMAL_HOT_CAPACITY}, ${MINIMAL_HOT_CAPACITY};
      ANALYZE bench_inventory;
    `);
  } finally {
    await admin.end();
  }

  const free: Client[] = [];
  for (let i = 0; i < clients; i++) {
    const client = new Client({ connectionString: databaseUrl });
    await client.connect();
    free.push(client);
  }
  let committed = 0;
  let refills = 0;
  let sequence = 0;

  const hold = async (client: Client, slotId: number, userId: number): Promise<string> => {
    await client.query('BEGIN');
    try {
      const { rows: [row] } = await client.query('SELECT available FROM bench_inventory WHERE slot_id = $1 AND book_date = $2 FOR UPDATE', [slotId, BOOK_DATE]);
      if (row && row.available === 0 && slotId === HOT_SLOT_ID) {
        await client.query('UPDATE bench_inventory SET available = capacity WHERE slot_id = $1 AND book_date = $2', [slotId, BOOK_DATE]);
        refills++;
      }
      const taken = await client.query(
        'UPDATE bench_inventory SET available = available - 1 WHERE slot_id = $1 AND book_date = $2 AND available > 0', [slotId, BOOK_DATE]);
      if (taken.rowCount !== 1) {
        await client.query('ROLLBACK');
        return '409 slot_unavailable';
      }
      await client.query(
        `INSERT INTO bench_bookings (user_id, vendor_id, game_id, slot_id, book_date, status, price_paise, hold_expires_at, held_by_vendor_id)
         VALUES ($1, $2, $3, $4, $5, 'pending_verified', $6, now() + interval '10 minutes', NULL) RETURNING id`,
        [userId, 1, 1, slotId, BOOK_DATE, 50000]);
      await client.query('COMMIT');
      committed++;
      return OK;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  };

  return {
    prepare(scenario) {
      return () => {
        const slotId = scenario === 'hot slot' ? HOT_SLOT_ID : 1 + Math.floor(Math.random() * MINIMAL_MANY_KEYS);
        const userId = 1 + (sequence++ % 60_000);
        return async () => {
          // As many clients as attempts in flight: one is always free.
          const client = free.pop();
          if (!client) throw new Error('no free client: more attempts in flight than clients');
          try {
            return await hold(client, slotId, userId);
          } finally {
            free.push(client);
          }
        };
      };
    },
    committed: () => committed,
    refills: () => refills,
    async check() {
      const client = new Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        const { rows } = await client.query(
          `SELECT i.slot_id, i.capacity, i.available, count(b.id)::int AS held
             FROM bench_inventory i LEFT JOIN bench_bookings b ON b.slot_id = i.slot_id AND b.book_date = i.book_date
            GROUP BY i.slot_id, i.capacity, i.available`);
        const problems: string[] = [];
        let total = 0;
        for (const row of rows) {
          total += row.held;
          const given = row.capacity - row.available + (row.slot_id === HOT_SLOT_ID ? refills * row.capacity : 0);
          if (row.held !== given) problems.push(`slot ${row.slot_id}: ${row.held} bookings for ${given} units given`);
        }
        if (total !== committed) problems.push(`${total} bookings for ${committed} holds committed`);
        return problems.length ? problems.slice(0, 5).join('; ') : null;
      } finally {
        await client.end();
      }
    },
    async close() {
      await Promise.all(free.splice(0).map((client) => client.end().catch(() => undefined)));
    },
  };
}
