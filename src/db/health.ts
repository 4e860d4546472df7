import { db } from './knex';

export async function pingDatabase(timeoutMs = 1500): Promise<void> {
  await db.raw('SELECT 1').timeout(timeoutMs, { cancel: false });
}
