// Things a test file opens for the whole run (API server, worker processes, connections) register
// their closer here; scripts/run-suites.ts calls them once every suite has run.
const closers: Array<() => Promise<unknown> | unknown> = [];

export function onTestsDone(close: () => Promise<unknown> | unknown): void {
  closers.unshift(close);
}

export async function closeTestResources(): Promise<void> {
  for (const close of closers.splice(0)) {
    try {
      await close();
    } catch (error) {
      console.error('closing test resource failed:', error);
    }
  }
  const { db } = require('../../src/db/knex');
  await db.destroy();
  const { closeClientRedis } = require('../../src/jobs/connection');
  await closeClientRedis();
}
