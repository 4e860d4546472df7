import { db, prepared, Statement, Transaction } from './knex';
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
 * system work, idempotent by their conditional updates, and keep no row. `alongside`, asked once
 * the requests are decided, is a data-changing statement (the outbox insert) that travels with
 * the answers' update, to save a round trip.
 *
 * The claim is an insert: a claim by a transaction still running (the first run of a job whose
 * worker paused past its lock, now re-run elsewhere) makes this wait for that transaction, and
 * the answers are read only after that wait, so a re-run never decides against the first run's
 * effect (lock, then read). Copies of one request id (a keyed request resubmitted, or repeated
 * in one batch) share one answer when they carry the body it was recorded for, and are 409
 * `duplicate` otherwise; the ledger notes every job that carried the request, so GET /jobs/:id
 * answers for each of them.
 */
export async function runLedgered<R extends Ledgered>(
  trx: Transaction,
  requests: R[],
  context: LedgerContext,
  decide: (open: R[]) => Promise<Outcome[]>,
  alongside?: () => Statement | null,
): Promise<Outcome[]> {
  const outcomes: Array<Outcome | undefined> = new Array(requests.length);
  const hashOf = (index: number) => requests[index].idempotency?.requestHash ?? null;
  const copies = new Map<string, number[]>();
  requests.forEach((request, index) => {
    if (request.actor !== null) copies.set(request.requestId, [...(copies.get(request.requestId) ?? []), index]);
  });
  const recorded = await claim(trx, [...copies].map(([id, indexes]) => {
    const first = requests[indexes[0]];
    return {
      id, user_id: first.actor!.userId, endpoint: first.idempotency?.endpoint ?? context.endpoint,
      idempotency_key: first.idempotency?.key ?? null, body_hash: hashOf(indexes[0]),
      copies: indexes.map((index) => ({ jobId: context.jobIdOf(index), bodyHash: hashOf(index) })),
    };
  }));

  // In arrival order: the system's requests, and the first copy of each request not recorded before.
  const deciding = requests.map((_, index) => index).filter((index) => {
    const request = requests[index];
    return request.actor === null || (!recorded.has(request.requestId) && copies.get(request.requestId)![0] === index);
  });
  const decided = deciding.length ? await decide(deciding.map((index) => requests[index])) : [];
  deciding.forEach((index, position) => { outcomes[index] = decided[position]; });

  const answers = deciding.filter((index) => requests[index].actor !== null)
    .map((index) => ({ id: requests[index].requestId, status: outcomes[index]!.status, answer: outcomes[index]!.body }));
  const along = alongside?.() ?? null;
  if (answers.length > 0 || along) {
    await prepared(trx,
      `WITH answered AS (
         UPDATE request_ledger AS l SET state = 'completed', status = a.status, answer = a.answer, updated_at = now()
           FROM json_to_recordset(?::json) AS a(id text, status int, answer json)
          WHERE l.id = a.id
       ), alongside AS (${along?.sql ?? 'SELECT WHERE false'})
       SELECT`,
      [JSON.stringify(answers), ...(along?.bindings ?? [])],
    );
  }
  for (const [id, indexes] of copies) {
    const earlier = recorded.get(id);
    const bodyHash = earlier ? earlier.bodyHash : hashOf(indexes[0]);
    const answer = earlier ? earlier.outcome : outcomes[indexes[0]]!;
    for (const index of indexes) outcomes[index] = hashOf(index) === bodyHash ? answer : duplicateKey();
  }
  return outcomes as Outcome[];
}

interface LedgerClaim {
  id: string;
  user_id: number;
  endpoint: string;
  idempotency_key: string | null;
  body_hash: string | null;
  /** Every copy of the request in this job: its public job id, and the body it carries. */
  copies: Array<{ jobId: string; bodyHash: string | null }>;
}

/** The job ids of the copies that carry `bodyHash`: only those may be answered with the row's answer. */
const jobIdsFor = (claim: LedgerClaim, bodyHash: string | null) => claim.copies.filter((c) => c.bodyHash === bodyHash).map((c) => c.jobId);

/** Claims rows for requests (in id order, so two jobs that share requests claim them in one order); returns the answers recorded before. */
async function claim(trx: Transaction, claims: LedgerClaim[]): Promise<Map<string, { bodyHash: string | null; outcome: Outcome }>> {
  const recorded = new Map<string, { bodyHash: string | null; outcome: Outcome }>();
  if (claims.length === 0) return recorded;
  const rows = claims.map(({ copies, ...row }) => ({ ...row, job_ids: jobIdsFor({ ...row, copies }, row.body_hash) }));
  const claimed = new Set<string>((await prepared(trx,
    `INSERT INTO request_ledger (id, user_id, endpoint, idempotency_key, body_hash, job_ids, state)
     SELECT r.id, r.user_id, r.endpoint, r.idempotency_key, r.body_hash, r.job_ids, 'running'
       FROM json_populate_recordset(NULL::request_ledger, ?::json) AS r ORDER BY r.id
     ON CONFLICT (id) DO NOTHING RETURNING id`,
    [JSON.stringify(rows)],
  )).rows.map((row: { id: string }) => row.id));
  const earlier = claims.filter((row) => !claimed.has(row.id));
  if (earlier.length === 0) return recorded;
  // Read after the claim's wait: the first run has committed (or rolled back) by now.
  const found: Array<{ id: string; body_hash: string | null; state: string; status: number | null; answer: unknown }> =
    await trx('request_ledger').whereIn('id', earlier.map((row) => row.id)).select('id', 'body_hash', 'state', 'status', 'answer');
  for (const row of found) {
    if (row.state !== 'completed') throw new Error(`request ${row.id} is still running elsewhere`);
    recorded.set(row.id, { bodyHash: row.body_hash, outcome: { status: row.status!, body: row.answer } });
  }
  // Another job that carried the request with its body is noted (a job run again carries the same
  // ids and writes nothing); a copy with another body is answered 409 and never gets this answer.
  const noted = earlier.filter((row) => recorded.has(row.id))
    .map((row) => ({ id: row.id, job_ids: jobIdsFor(row, recorded.get(row.id)!.bodyHash) }))
    .filter((row) => row.job_ids.length > 0);
  if (noted.length > 0) {
    await trx.raw(
      `UPDATE request_ledger AS l SET job_ids = ARRAY(SELECT DISTINCT unnest(l.job_ids || a.job_ids))
         FROM json_to_recordset(?::json) AS a(id text, job_ids text[])
        WHERE l.id = a.id AND NOT l.job_ids @> a.job_ids
          AND l.id IN (SELECT id FROM request_ledger WHERE id = ANY(?::text[]) ORDER BY id FOR UPDATE)`,
      [JSON.stringify(noted), noted.map((row) => row.id)],
    );
  }
  return recorded;
}

export interface LedgerAnswer {
  userId: number;
  bodyHash: string | null;
  outcome: Outcome;
}

const ANSWER_COLUMNS = ['user_id', 'body_hash', 'status', 'answer'];

function answerOf(row: { user_id: number; body_hash: string | null; status: number; answer: unknown } | undefined): LedgerAnswer | null {
  return row ? { userId: row.user_id, bodyHash: row.body_hash, outcome: { status: row.status, body: row.answer } } : null;
}

/**
 * The answer an Idempotency-Key replay gets from the ledger, or null when the request has none:
 * the recorded answer for the body it was recorded with, 409 `duplicate` for any other body.
 */
export async function replayOfRequest(requestId: string, bodyHash: string): Promise<Outcome | null> {
  const recorded = answerOf(await db('request_ledger').where({ id: requestId, state: 'completed' }).first(ANSWER_COLUMNS));
  if (!recorded) return null;
  return recorded.bodyHash === bodyHash ? recorded.outcome : duplicateKey();
}

/** The answer a request recorded, whatever body it came with: what a job run again for it answers. */
export async function recordedOutcome(requestId: string): Promise<Outcome | null> {
  return answerOf(await db('request_ledger').where({ id: requestId, state: 'completed' }).first(ANSWER_COLUMNS))?.outcome ?? null;
}

/** The recorded answer of the request a public job id names (GET /jobs/:id). */
export async function answerOfJob(jobId: string): Promise<LedgerAnswer | null> {
  return answerOf(await db('request_ledger').whereRaw('job_ids @> ARRAY[?]::text[]', [jobId]).where('state', 'completed').first(ANSWER_COLUMNS));
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
