import { db } from './knex';
import { withinTime } from '../time-limit';

/** Bounded as a whole: with PostgreSQL refusing connections the pool would wait for one up to acquireConnectionTimeout. */
export async function pingDatabase(timeoutMs = 1500): Promise<void> {
  await withinTime(Promise.resolve(db.raw('SELECT 1').timeout(timeoutMs, { cancel: false })), timeoutMs, 'postgres ping');
}
