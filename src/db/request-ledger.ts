import { db, Transaction } from './knex';
import { IdempotencyRef, Outcome } from '../domain/booking-types';
import { Conflict } from '../errors';

// The request ledger (SPEC §2): one row per job-backed request, the one record of what a request
// did. A job claims its requests' rows first, in the transaction that makes their effect, and
// writes their answers in it: so a row exists exactly when the effect does, a re-run of the job
// (BullMQ is at-least-once) answers from it without applying anything twice, and Idempotency-Key
// replays and GET /jobs/:id read the answer long after the BullMQ job is gone.

/** How long answers are kept, so Idempotency-Key replays and GET /jobs/:id work (README). */
export const LEDGER_RETENTION_DAYS = 7;
const PRUNE_BATCH = 5000;

/** What a job-backed request carries for its ledger row. */
export interface Ledgered {
  /** Stable across re-runs; derived from (caller, endpoint, key) when the request is keyed. */
  requestId: string;
  actor: { userId: number } | null;
  idempotency?: IdempotencyRef;
}

export interface LedgerContext {
  endpoint: string;
  /** The public job id of the request at `index` of the job being run. */
  jobIdOf(index: number): string;
}

const duplicateKey = (): Outcome => ({
  status: 409,
  body: new Conflict('duplicate', 'This Idempotency-Key was already used with a different request').toBody(),
});

/**
 * Runs `decide` for the requests of a job that have no answer yet, and records every answer.
 * Returns one outcome per request, in order. Requests without an actor (the sweeper's) are
 * system work, idempotent by their conditional updates, and keep no row.
 *
 * The claim is an insert: a claim by a transaction still running (the first run of a job whose
 * worker paused past its lock, now re-run elsewhere) makes this wait for that transaction, and
 * the answers are read only after that wait, so a re-run never decides against the first run's
 * effect (lock, then read).
 */
export async function runLedgered<R extends Ledgered>(
  trx: Transaction,
  requests: R[],
  context: LedgerContext,
  decide: (open: R[]) => Promise<Outcome[]>,
): Promise<Outcome[]> {
  const outcomes: Array<Outcome | undefined> = new Array(requests.length);
  const firstIndex = new Map<string, number>();
  const repeats: Array<[number, number]> = [];
  const rows: Array<Record<string, unknown>> = [];
  requests.forEach((request, index) => {
    if (request.actor === null) return;
    const first = firstIndex.get(request.requestId);
    if (first !== undefined) {
      repeats.push([index, first]);
      return;
    }
    firstIndex.set(request.requestId, index);
    rows.push({
      id: request.requestId, user_id: request.actor.userId, endpoint: request.idempotency?.endpoint ?? context.endpoint,
      idempotency_key: request.idempotency?.key ?? null, body_hash: request.idempotency?.requestHash ?? null,
      job_id: context.jobIdOf(index),
    });
  });

  if (rows.length > 0) {
    // In request id order, so two jobs that share requests claim them in one order.
    const claimed = new Set<string>((await trx.raw(
      `INSERT INTO request_ledger (id, user_id, endpoint, idempotency_key, body_hash, job_id, state)
       SELECT r.id, r.user_id, r.endpoint, r.idempotency_key, r.body_hash, r.job_id, 'running'
         FROM json_populate_recordset(NULL::request_ledger, ?::json) AS r ORDER BY r.id
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [JSON.stringify(rows)],
    )).rows.map((row: { id: string }) => row.id));
    const earlierIds = rows.map((row) => row.id as string).filter((id) => !claimed.has(id));
    if (earlierIds.length > 0) {
      const earlier: Array<{ id: string; body_hash: string | null; state: string; status: number | null; answer: unknown }> =
        await trx('request_ledger').whereIn('id', earlierIds).select('id', 'body_hash', 'state', 'status', 'answer');
      for (const row of earlier) {
        const index = firstIndex.get(row.id)!;
        if (row.body_hash !== (requests[index].idempotency?.requestHash ?? null)) outcomes[index] = duplicateKey();
        else if (row.state !== 'completed') throw new Error(`request ${row.id} is still running elsewhere`);
        else outcomes[index] = { status: row.status!, body: row.answer };
      }
    }
  }

  const repeated = new Set(repeats.map(([index]) => index));
  const open = requests.map((request, index) => ({ request, index }))
    .filter(({ index }) => outcomes[index] === undefined && !repeated.has(index));
  const decided = open.length ? await decide(open.map((o) => o.request)) : [];
  open.forEach(({ index }, position) => { outcomes[index] = decided[position]; });

  const answers = open.filter(({ request }) => request.actor !== null)
    .map(({ request, index }) => ({ id: request.requestId, status: outcomes[index]!.status, answer: outcomes[index]!.body }));
  if (answers.length > 0) {
    await trx.raw(
      `UPDATE request_ledger AS l SET state = 'completed', status = a.status, answer = a.answer, updated_at = now()
         FROM json_to_recordset(?::json) AS a(id text, status int, answer jsonb)
        WHERE l.id = a.id`,
      [JSON.stringify(answers)],
    );
  }
  for (const [index, first] of repeats) {
    const sameBody = requests[index].idempotency?.requestHash === requests[first].idempotency?.requestHash;
    outcomes[index] = sameBody ? outcomes[first] : duplicateKey();
  }
  return outcomes as Outcome[];
}

export interface LedgerAnswer {
  userId: number;
  outcome: Outcome;
}

function answerOf(row: { user_id: number; status: number; answer: unknown } | undefined): LedgerAnswer | null {
  return row ? { userId: row.user_id, outcome: { status: row.status, body: row.answer } } : null;
}

/** The recorded answer of a request, by its request id (Idempotency-Key replays). */
export async function answerOfRequest(requestId: string): Promise<LedgerAnswer | null> {
  return answerOf(await db('request_ledger').where({ id: requestId, state: 'completed' }).first('user_id', 'status', 'answer'));
}

/** The recorded answer of the request a public job id names (GET /jobs/:id). */
export async function answerOfJob(jobId: string): Promise<LedgerAnswer | null> {
  return answerOf(await db('request_ledger').where({ job_id: jobId, state: 'completed' }).first('user_id', 'status', 'answer'));
}

/** Deletes answers older than the retention, a batch at a time; returns how many went. */
export async function pruneLedger(now: Date = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - LEDGER_RETENTION_DAYS * 86_400_000);
  let total = 0;
  for (;;) {
    const deleted = await db.raw(
      `DELETE FROM request_ledger WHERE id IN (SELECT id FROM request_ledger WHERE created_at < ? LIMIT ${PRUNE_BATCH})`,
      [cutoff],
    );
    total += deleted.rowCount ?? 0;
    if ((deleted.rowCount ?? 0) < PRUNE_BATCH) return total;
  }
}
