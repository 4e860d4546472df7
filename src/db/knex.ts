import knexFactory, { Knex } from 'knex';
import { Model } from 'objection';
import { types } from 'pg';
import path from 'path';
import { createHash } from 'crypto';
import { config } from '../config';

// DATE columns stay 'YYYY-MM-DD' strings: a booking date is a calendar day in the vendor's zone,
// and turning it into a JS Date would shift it by the server's offset.
types.setTypeParser(1082, (value: string) => value);
// BIGINT ids and counts fit comfortably in a JS number for this product.
types.setTypeParser(20, (value: string) => Number(value));

export interface PoolOptions {
  poolMax?: number;
  /** Bounded waits (SPEC §2); only migrations, which may rewrite big tables, go without. */
  boundedWaits?: boolean;
}

/**
 * Every wait is bounded, so one stuck transaction (a worker host that died or was cut off with a
 * transaction open) cannot freeze a partition: a lock wait gives up after DB_LOCK_TIMEOUT_MS (a
 * transient error, retried with backoff), the server ends a transaction left idle after
 * DB_IDLE_IN_TRANSACTION_TIMEOUT_MS, a statement after DB_STATEMENT_TIMEOUT_MS, and TCP
 * keep-alive notices a peer that vanished. Set in the startup packet: no extra round trip.
 */
function sessionOptions(): string {
  return [
    `-c lock_timeout=${config.dbLockTimeoutMs}`,
    `-c idle_in_transaction_session_timeout=${config.dbIdleInTransactionTimeoutMs}`,
    `-c statement_timeout=${config.dbStatementTimeoutMs}`,
  ].join(' ');
}

export function createKnex(databaseUrl = config.databaseUrl, options: PoolOptions = {}): Knex {
  const { poolMax = 10, boundedWaits = true } = options;
  return knexFactory({
    client: 'pg',
    connection: {
      connectionString: databaseUrl,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      ...(boundedWaits ? { options: sessionOptions() } : {}),
    },
    // A connection that cannot be had is a 503, not a request that hangs. A server that refuses
    // connections (restarting, failing over) is tried again within that bound rather than failing
    // the first waiter at once: a job would otherwise spend its retries in the first second and a
    // hold accepted with 202 would fail for a restart of a few seconds. The bound stays under
    // SYNC_WAIT_MS's default, so a request that needs PostgreSQL answers 503 before a client that
    // waits for a job would have given up; a booking job's five attempts ride out ~20 s.
    pool: { min: 0, max: poolMax, propagateCreateError: false },
    acquireConnectionTimeout: 4000,
    migrations: {
      directory: path.join(__dirname, '..', '..', 'migrations'),
      loadExtensions: ['.ts', '.js'],
      tableName: 'knex_migrations',
    },
  });
}

export const db: Knex = createKnex();
Model.knex(db);

export type Transaction = Knex.Transaction;

/** A statement with its bindings, to travel inside another one (a CTE) and save a round trip. */
export interface Statement {
  sql: string;
  bindings: readonly Knex.RawBinding[];
}

/**
 * A raw statement run as a named prepared statement: each connection has PostgreSQL parse and plan
 * it once, and later runs send only its values. For the statements every booking job runs; the
 * name comes from the text, so one name never stands for two statements.
 */
export function prepared(runner: Knex | Transaction, sql: string, bindings: readonly Knex.RawBinding[]): Knex.Raw {
  const name = `hfg_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
  return runner.raw(sql, bindings).options({ name });
}
