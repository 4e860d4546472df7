import { createRouter } from '../context';
import { pingDatabase } from '../../db/health';
import { pingRedis } from '../../jobs/connection';

export const healthRouter = createRouter();

async function check(probe: () => Promise<unknown>): Promise<'ok' | 'down'> {
  try {
    await probe();
    return 'ok';
  } catch {
    return 'down';
  }
}

healthRouter.get('/health', async (ctx) => {
  const [db, redis] = await Promise.all([check(pingDatabase), check(pingRedis)]);
  const healthy = db === 'ok' && redis === 'ok';
  ctx.status = healthy ? 200 : 503;
  ctx.body = healthy
    ? { status: 'ok', db, redis }
    : { status: 'unavailable', code: 'unavailable', message: `Down: ${[db === 'down' && 'db', redis === 'down' && 'redis'].filter(Boolean).join(', ')}`, db, redis };
});
