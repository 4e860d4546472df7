import { createRouter } from '../context';
import { requireUser } from '../auth';
import { paramsParser } from '../validate';
import { NotFound } from '../../errors';
import { JOB_REF_PATTERN, parseJobRef } from '../../jobs/job-ref';
import { queue } from '../../jobs/queues';
import { answerOfJob } from '../../db/request-ledger';
import { currentEnd, outcomeOf } from '../../jobs/job-waiter';
import { Outcome } from '../../domain/booking-types';
import { AppContext } from '../context';

// GET /jobs/:job_id (SPEC §2): the state of a job-backed request, readable by its owner or an
// admin. A finished request's answer comes from the request ledger, so it outlives the BullMQ
// job; the job itself tells what is still waiting or running, or failed for good.

export const jobsRouter = createRouter();

const jobParams = paramsParser<{ job_id: string }>({
  type: 'object',
  properties: { job_id: { type: 'string', pattern: JOB_REF_PATTERN } },
  required: ['job_id'],
  additionalProperties: false,
});

const PUBLIC_STATES: Record<string, string> = {
  waiting: 'waiting', 'waiting-children': 'waiting', prioritized: 'waiting', active: 'active', delayed: 'delayed',
  // a job that ended between the two reads below
  completed: 'active', failed: 'active',
};

function finished(ctx: AppContext, jobId: string, state: 'completed' | 'failed', outcome: Outcome): void {
  const ok = outcome.status < 300;
  ctx.body = { job_id: jobId, state, status: outcome.status, ...(ok ? { result: outcome.body } : { error: outcome.body }) };
}

jobsRouter.get('/jobs/:job_id', async (ctx) => {
  const user = requireUser(ctx.state.user);
  const { job_id } = jobParams(ctx.params);
  const ref = parseJobRef(job_id);
  if (!ref) throw new NotFound('Job');
  // Someone else's job is as unknown as a missing one.
  const mine = (ownerId: number | undefined) => user.role === 'admin' || ownerId === user.id;
  const recorded = await answerOfJob(job_id);
  if (recorded) {
    if (!mine(recorded.userId)) throw new NotFound('Job');
    return finished(ctx, job_id, 'completed', recorded.outcome);
  }
  // The end first, then the job: a job read before its state could be missing its result.
  const end = await currentEnd(ref.queueName, ref.jobId);
  const job = await queue(ref.queueName).getJob(ref.jobId);
  const request = job?.data?.requests?.[ref.index];
  if (!job || !request || !mine(request.actor?.userId)) throw new NotFound('Job');
  if (end) return finished(ctx, job_id, end.state, outcomeOf(end, ref.index));
  ctx.body = { job_id, state: PUBLIC_STATES[await job.getState()] ?? 'waiting' };
});
