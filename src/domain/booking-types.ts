import { Conflict } from '../errors';
import type { Role } from '../http/auth';

// The data that crosses from the API to the booking workers and back. Plain JSON: it lives in
// Redis as BullMQ job data and return values.

/** Who asked: the token's subject, carried into the job so the worker can authorize. */
export interface Actor {
  userId: number;
  role: Role;
  vendorId: number | null;
}

/** A per-endpoint Idempotency-Key, stored by the worker with the answer it produced. */
export interface IdempotencyRef {
  endpoint: string;
  key: string;
  requestHash: string;
}

/** What a job-backed request answers, as its synchronous HTTP answer would have been. */
export interface Outcome {
  status: number;
  body: unknown;
}

/** Every request names the HTTP request it came from, so one booking can be followed through the logs. */
interface Traced {
  httpRequestId?: string;
}

export interface HoldRequest extends Traced {
  /** Stable across re-runs of one request: its row in the request ledger. */
  requestId: string;
  actor: Actor;
  userId: number;
  gameId: number;
  bookDate: string;
  slotIds: number[];
  idempotency?: IdempotencyRef;
}

export interface CancelRequest extends Traced {
  requestId: string;
  actor: Actor;
  bookingId: number;
}

export interface MoveRequest extends Traced {
  requestId: string;
  actor: Actor;
  bookingId: number;
  slotId: number;
  bookDate: string;
}

export interface ReleaseRequest extends Traced {
  requestId: string;
  /** null for the sweeper: it releases holds whose time ran out. */
  actor: Actor | null;
  bookingIds: number[];
}

/** How a confirmation is paid: the user's wallet, or a Razorpay payment already verified and captured. */
export type ConfirmPayment =
  | { mode: 'wallet' }
  | { mode: 'payment_gateway'; paymentId: string; orderId: string };

export interface ConfirmRequest extends Traced {
  requestId: string;
  /** null for the system (a webhook, the reconciler, a capture's follow-up): no ledger row. */
  actor: Actor | null;
  /** Whose bookings, and whose wallet or order pays. */
  userId: number;
  bookingIds: number[];
  promoCode?: string;
  payment: ConfirmPayment;
  /** The public id of the job the client was answered with, when that is not this booking job. */
  publicJobId?: string;
  idempotency?: IdempotencyRef;
}

/** SPEC §5.3: nothing was held, and these are the slots that could not be. */
export function slotUnavailable(slotIds: number[]): Outcome {
  return {
    status: 409,
    body: new Conflict('slot_unavailable', 'Some requested slots cannot be held', { unavailable_slot_ids: slotIds }).toBody(),
  };
}
