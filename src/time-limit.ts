// One bound for a wait on something that may never answer (a frozen Redis, a PostgreSQL that
// refuses connections): the caller gets an error after `ms` and decides, while the work itself
// goes on unobserved.

export class TimedOut extends Error {}

/** `work`, or a TimedOut error naming `what` once `ms` have passed without an answer. */
export function withinTime<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimedOut(`${what} did not answer within ${ms} ms`)), ms);
  });
  work.catch(() => undefined); // a late failure after the timeout is nobody's to handle
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
