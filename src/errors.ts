// The small set of errors thrown anywhere in the service. The HTTP layer maps them to statuses
// in one middleware (src/http/errors.ts); booking jobs store them as their result.

export interface ErrorBody {
  message: string;
  code: string;
  details?: unknown;
}

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { message: this.message, code: this.code }
      : { message: this.message, code: this.code, details: this.details };
  }
}

export class Invalid extends AppError {
  constructor(message: string, details?: unknown) {
    super(400, 'validation_failed', message, details);
  }
}

export class Unauthenticated extends AppError {
  constructor(message = 'Authentication required') {
    super(401, 'unauthenticated', message);
  }
}

export class Forbidden extends AppError {
  constructor(message = 'You may not do this') {
    super(403, 'forbidden', message);
  }
}

export class NotFound extends AppError {
  constructor(what: string) {
    super(404, 'not_found', `${what} not found`);
  }
}

export class Conflict extends AppError {
  constructor(code: string, message: string, details?: unknown) {
    super(409, code, message, details);
  }
}

export class InsufficientFunds extends AppError {
  constructor(message = 'Wallet balance is too low', details?: unknown) {
    super(402, 'insufficient_funds', message, details);
  }
}

export class Unavailable extends AppError {
  constructor(message: string, details?: unknown) {
    super(503, 'unavailable', message, details);
  }
}
