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
  await require('../../src/jobs/job-waiter').jobWaiter.close();
  await require('../../src/jobs/queues').closeQueues();
  await require('../../src/realtime/publish').closePublisher();
  await require('../../src/jobs/connection').closeClientRedis();
  await require('../../src/db/knex').db.destroy();
}
