import Ajv, { ErrorObject, JSONSchemaType, ValidateFunction } from 'ajv';
import { Invalid, NotFound } from '../errors';
import { parseCalendarDate, parseClockTime, parseEndTime } from '../domain/dates';

// Every body, path and query parameter goes through one of these. Policy (SPEC §3): unknown body
// and path fields are rejected, never silently dropped (the client fields of SPEC §12 are named
// in their schemas); unknown query parameters are dropped (clients add cache-busters such as
// `?t=1733112000000`) and known ones validated. Bodies are strict JSON types; path and query
// values arrive as strings and are coerced ("7" → 7) before the same checks.

function createAjv(coerceTypes: boolean, removeAdditional = false): Ajv {
  const ajv = new Ajv({ allErrors: true, coerceTypes, strict: true, useDefaults: false, removeAdditional });
  ajv.addFormat('calendar-date', { type: 'string', validate: (value: string) => parseCalendarDate(value) !== null });
  ajv.addFormat('clock-time', { type: 'string', validate: (value: string) => parseClockTime(value) !== null });
  ajv.addFormat('end-clock-time', { type: 'string', validate: (value: string) => parseEndTime(value) !== null });
  return ajv;
}

const bodyAjv = createAjv(false);
const paramAjv = createAjv(true);
const queryAjv = createAjv(true, true);

export type Parser<T> = (value: unknown) => T;

function parser<T>(ajv: Ajv, schema: JSONSchemaType<T> | object, where: string): Parser<T> {
  const validate = ajv.compile(schema) as ValidateFunction<T>;
  return (value: unknown): T => {
    if (validate(value)) return value;
    throw new Invalid(`Invalid ${where}: ${describe(validate.errors ?? [])}`, validate.errors);
  };
}

function describe(errors: ErrorObject[]): string {
  // For "a number or a list" (anyOf), the list's own complaint (too many, repeated) says more
  // than "must be integer" from the branch the value was never meant for.
  const vague = (e: ErrorObject) => (e.keyword === 'anyOf' || e.keyword === 'type' ? 1 : 0);
  const first = [...errors].sort((a, b) => vague(a) - vague(b))[0];
  if (!first) return 'does not match the schema';
  const field = first.instancePath ? first.instancePath.slice(1).replace(/\//g, '.') : '';
  if (first.keyword === 'additionalProperties') {
    return `unknown field "${(first.params as { additionalProperty: string }).additionalProperty}"`;
  }
  if (first.keyword === 'required') return `missing field "${(first.params as { missingProperty: string }).missingProperty}"`;
  return field ? `${field} ${first.message}` : `${first.message}`;
}

/**
 * Path and query values are strings. ajv's coercion reads them as JavaScript numbers would, so
 * "1e400" became Infinity (past `maximum`, into SQL) and "0x10" became 16: integers are plain
 * digits here, checked before coercion.
 */
function stringParser<T>(ajv: Ajv, schema: JSONSchemaType<T> | object, where: string): Parser<T> {
  const parse = parser<T>(ajv, schema, where);
  const properties = (schema as { properties?: Record<string, { type?: string }> }).properties ?? {};
  const integers = Object.keys(properties).filter((name) => properties[name].type === 'integer');
  return (value: unknown): T => {
    for (const name of integers) {
      const raw = (value as Record<string, unknown> | null)?.[name];
      if (typeof raw === 'string' && !/^-?\d{1,15}$/.test(raw)) {
        throw new Invalid(`Invalid ${where}: ${name} must be an integer`, [
          { instancePath: `/${name}`, keyword: 'type', message: 'must be an integer' },
        ]);
      }
    }
    return parse(value);
  };
}

export const bodyParser = <T>(schema: JSONSchemaType<T> | object): Parser<T> => parser<T>(bodyAjv, schema, 'request body');
export const paramsParser = <T>(schema: JSONSchemaType<T> | object): Parser<T> => stringParser<T>(paramAjv, schema, 'path parameter');
/** Parses a copy of the query: unknown parameters are dropped from it, known ones checked. */
export const queryParser = <T>(schema: JSONSchemaType<T> | object): Parser<T> => {
  const parse = stringParser<T>(queryAjv, { additionalProperties: false, ...schema }, 'query parameter');
  // An empty value (`?q=&limit=`, an empty search box) is the parameter left out.
  return (value: unknown) => parse(Object.fromEntries(Object.entries(value as object).filter(([, v]) => v !== '')));
};
/** For DELETE routes: a body, if any, must be empty. */
export const noBody = bodyParser<Record<string, never>>({ type: 'object', additionalProperties: false });

// Schema fragments shared by the route files.
export const idSchema = { type: 'integer', minimum: 1, maximum: 2147483647 } as const;
export const dateSchema = { type: 'string', format: 'calendar-date' } as const;
export const clockTimeSchema = { type: 'string', format: 'clock-time' } as const;
/** A slot's end may be midnight, `24:00`: cafes stay open late. */
export const endTimeSchema = { type: 'string', format: 'end-clock-time' } as const;

/** An id in a body, as a number or a numeric string (the HFG clients send both); toId reads it. */
export const bodyIdSchema = { anyOf: [idSchema, { type: 'string', pattern: '^[1-9][0-9]{0,9}$' }] } as const;
export function toId(value: number | string, what: string): number {
  const id = Number(value);
  if (id > 2147483647) throw new Invalid(`${what} must be at most 2147483647`);
  return id;
}
/** Body ids read with toId, none named twice (5 and "5" are one id). */
export function uniqueIds(values: Array<number | string>, what: string): number[] {
  const ids = values.map((value) => toId(value, what));
  if (new Set(ids).size !== ids.length) throw new Invalid(`${what} must not name one id twice`);
  return ids;
}
export const nullableBodyIdSchema = { anyOf: [...bodyIdSchema.anyOf, { type: 'null' }] } as const;

/** A booking, `123` or `BK-123`, in a path or a body; bookingIdOf reads it. */
export const bookingIdText = { type: 'string', pattern: '^(?:[Bb][Kk]-)?[1-9][0-9]{0,9}$' } as const;
export const bookingIdSchema = { anyOf: [idSchema, bookingIdText] } as const;
export function bookingIdOf(value: number | string): number {
  const id = typeof value === 'number' ? value : Number(value.replace(/^bk-/i, ''));
  if (id > 2147483647) throw new NotFound('Booking');
  return id;
}

/** What a client sends as a date it means nothing by (SPEC §12: a confirmation's `book_date`): any short value, ignored. */
export const ignoredValueSchema = { anyOf: [{ type: 'string', maxLength: 100 }, { type: 'number' }, { type: 'null' }] } as const;

/** A path parameter object whose every field is a positive integer id. */
export function idParams<K extends string>(...names: K[]): Parser<Record<K, number>> {
  return paramsParser<Record<K, number>>({
    type: 'object',
    properties: Object.fromEntries(names.map((name) => [name, idSchema])),
    required: names,
    additionalProperties: false,
  });
}
