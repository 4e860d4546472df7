import { config } from '../../config';
import { createRouter } from '../context';
import { metricsContentType, renderMetrics } from '../metrics';
import { requireAdmin } from './admin';

// GET /metrics (SPEC §5.5): Prometheus text, open or behind the admin credentials (METRICS_AUTH).

export const metricsRouter = createRouter();

const guards = config.metricsAuth === 'basic' ? [requireAdmin('HFG metrics')] : [];

metricsRouter.get('/metrics', ...guards, async (ctx) => {
  ctx.set('Cache-Control', 'no-store');
  ctx.type = metricsContentType;
  ctx.body = await renderMetrics();
});
