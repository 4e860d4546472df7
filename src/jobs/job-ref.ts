import { config } from '../config';
import { bookingQueueName, QUEUE_NAMES } from './queues';

// Public job ids (SPEC §2): one request inside one BullMQ job, named with its queue, so that
// GET /jobs/:id serves booking and payment-verification jobs alike:
// `{queue}.{bullmq job id}.{index of the request in the job}`, e.g. `booking-3.6f1c…-e2.0`.

export interface JobRef {
  queueName: string;
  jobId: string;
  index: number;
}

export function formatJobRef(ref: JobRef): string {
  return `${ref.queueName}.${ref.jobId}.${ref.index}`;
}

export const JOB_REF_PATTERN = '^(?:booking-[0-9]{1,4}|payment-verification)\\.[A-Za-z0-9-]{1,64}\\.[0-9]{1,3}$';
const jobRefPattern = new RegExp(JOB_REF_PATTERN);

/** The job a public id names, or null when it names no queue of this deployment. */
export function parseJobRef(text: string): JobRef | null {
  if (!jobRefPattern.test(text)) return null;
  const [queueName, jobId, index] = text.split('.');
  const known = queueName === QUEUE_NAMES.paymentVerification
    || Array.from({ length: config.bookingPartitions }, (_, i) => bookingQueueName(i)).includes(queueName);
  return known ? { queueName, jobId, index: Number(index) } : null;
}
