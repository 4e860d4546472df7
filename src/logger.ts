import pino from 'pino';
import { config } from './config';

// One structured logger; request handlers and job processors take children of it that carry
// the request id or job id, so a booking can be followed from HTTP request to socket event.
export const logger = pino({
  level: config.logLevel,
  base: { process: config.processName },
  redact: ['req.headers.authorization', 'headers.authorization'],
});

export type Logger = pino.Logger;
