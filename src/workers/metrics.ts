import { createServer, Server } from 'http';
import { AddressInfo } from 'net';
import { Job, Worker } from 'bullmq';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { config } from '../config';
import { logger } from '../logger';
import { basicCredentialsMatch } from '../http/auth';

// A worker process's own figures (SPEC §5.5), served on METRICS_PORT when set: the default
// process collectors and the jobs this process ran. Queue depth and latency across all workers
// come from web's /metrics, which reads them from Redis.

export const workerRegistry = new Registry();
collectDefaultMetrics({ register: workerRegistry });

const jobsRun = new Counter({
  name: 'hfg_worker_jobs_total',
  help: 'Job attempts this process finished, by queue, job name and outcome',
  labelNames: ['queue', 'name', 'outcome'] as const,
  registers: [workerRegistry],
});

const jobDuration = new Histogram({
  name: 'hfg_worker_job_duration_seconds',
  help: 'Time this process spent on a job attempt, by queue and outcome',
  labelNames: ['queue', 'outcome'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [workerRegistry],
});

function record(queueName: string, job: Job | undefined, outcome: 'completed' | 'failed'): void {
  // Job names are the code's own (hold, release, confirm, sweep, ...): a bounded set.
  jobsRun.inc({ queue: queueName, name: job?.name ?? 'unknown', outcome });
  if (job?.processedOn) jobDuration.observe({ queue: queueName, outcome }, Math.max(0, Date.now() - job.processedOn) / 1000);
}

export function observeWorker(worker: Worker, queueName: string): void {
  worker.on('completed', (job) => record(queueName, job, 'completed'));
  worker.on('failed', (job) => record(queueName, job, 'failed'));
}

/** Serves GET /metrics on METRICS_PORT, or does nothing when it is unset. */
export function startWorkerMetricsServer(): Server | null {
  if (config.metricsPort === null) return null;
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || (request.url ?? '').split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Only GET /metrics here', code: 'not_found' }));
      return;
    }
    // METRICS_AUTH covers this port too; it is meant for the private network, so no guess counting.
    if (config.metricsAuth === 'basic' && !basicCredentialsMatch(request.headers.authorization)) {
      response.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="HFG metrics", charset="UTF-8"' })
        .end(JSON.stringify({ message: 'Admin credentials required', code: 'unauthenticated' }));
      return;
    }
    workerRegistry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': workerRegistry.contentType, 'cache-control': 'no-store' }).end(text),
      (error) => {
        logger.warn({ err: error }, 'worker metrics failed');
        response.writeHead(500).end();
      },
    );
  });
  server.on('error', (error) => logger.error({ err: error, port: config.metricsPort }, 'worker metrics server failed'));
  server.listen(config.metricsPort, () => logger.info({ port: (server.address() as AddressInfo).port }, 'worker metrics listening'));
  return server;
}
