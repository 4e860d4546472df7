import { createRouter } from '../context';
import { requireUser } from '../auth';
import { noQuery, paramsParser } from '../validate';
import { NotFound } from '../../errors';
import { bookingQueue, JOB_REF_PATTERN, parseJobRef } from '../../jobs/booking';
import { bookingQueueName } from '../../jobs/queues';
import { currentEnd } from '../../jobs/job-waiter';
import { outcomeOf } from '../job-response';

// GET /jobs/:job_id (SPEC §2): the state of a job-backed request, readable by its owner or an admin.

export const jobsRouter = createRouter();

const jobParams = paramsParser<{ job_id: string }>({
  type: 'object',
  properties: { job_id: { type: 'string', pattern: JOB_REF_PATTERN } },
  required: ['job_id'],
  additionalProperties: false,
});

const PUBLIC_STATES: Record<string, string> = {
  waiting: 'waiting', 'waiting-children': 'waiting', prioritized: 'waiting', active: 'active', delayed: 'delayed',
  // a job that ended between the two reads above
  completed: 'active', failed: 'active',
};

jobsRouter.get('/jobs/:job_id', async (ctx) => {
  const user = requireUser(ctx.state.user);
  const { job_id } = jobParams(ctx.params);
  noQuery(ctx.query);
  const ref = parseJobRef(job_id);
  const queueName = ref && bookingQueueName(ref.partition);
  // The end first, then the job: a job read before its state could be missing its result.
  const end = queueName ? await currentEnd(queueName, ref.jobId) : null;
  const job = ref && (await bookingQueue(ref.partition).getJob(ref.jobId));
  const request = job?.data?.requests?.[ref!.index];
  // Someone else's job is as unknown as a missing one.
  if (!job || !request || (user.role !== 'admin' && request.actor?.userId !== user.id)) throw new NotFound('Job');
  if (end) {
    const outcome = outcomeOf(end, ref!.index);
    const ok = outcome.status < 300;
    ctx.body = { job_id, state: end.state, status: outcome.status, ...(ok ? { result: outcome.body } : { error: outcome.body }) };
    return;
  }
  ctx.body = { job_id, state: PUBLIC_STATES[await job.getState()] ?? 'waiting' };
});
