import jwt from 'jsonwebtoken';
import { createSecretKey, KeyObject, timingSafeEqual } from 'crypto';
import { config } from '../config';
import { Forbidden, Unauthenticated } from '../errors';

// SPEC §4: HS256 bearer tokens minted by the HFG user service (or `npm run token` locally).

export type Role = 'user' | 'vendor' | 'admin';

export interface AuthUser {
  id: number;
  role: Role;
  vendorId: number | null;
  /** When the token stops being valid (ms since the epoch): a socket is disconnected then. */
  expiresAt: number;
}

const ROLES: Role[] = ['user', 'vendor', 'admin'];

/** Ids are positive integers up to 2147483647 everywhere (SPEC §3), the tokens' too. */
const MAX_ID = 2147483647;

function positiveId(value: unknown): number | null {
  const number = typeof value === 'string' && /^\d{1,10}$/.test(value) ? Number(value) : value;
  return typeof number === 'number' && Number.isInteger(number) && number > 0 && number <= MAX_ID ? number : null;
}

// Given a string, jsonwebtoken builds a key on every call, first by trying (and failing) to parse
// it as a PEM key: that was 40% of the API's CPU per request (npm run bench). Built once instead.
const secretKeys = new Map<string, KeyObject>();
function secretKey(secret: string): KeyObject {
  let key = secretKeys.get(secret);
  if (!key) {
    key = createSecretKey(Buffer.from(secret));
    secretKeys.set(secret, key);
  }
  return key;
}

/** Verifies a token and reads its claims; throws Unauthenticated with the reason. */
export function verifyToken(token: string, secret = config.jwtSecret): AuthUser {
  let claims: jwt.JwtPayload | string;
  try {
    // Pinning the algorithm rejects `alg: none` and any asymmetric-key confusion.
    claims = jwt.verify(token, secretKey(secret), { algorithms: ['HS256'] });
  } catch (error) {
    const reason = error instanceof jwt.TokenExpiredError ? 'Token expired' : 'Invalid token';
    throw new Unauthenticated(reason);
  }
  if (typeof claims === 'string') throw new Unauthenticated('Invalid token');
  // A token that never expires is a token that can never be taken back (SPEC §4).
  if (typeof claims.exp !== 'number') throw new Unauthenticated('Token without exp');
  const id = positiveId(claims.sub);
  const role = claims.role as Role;
  if (id === null || !ROLES.includes(role)) throw new Unauthenticated('Invalid token claims');
  const vendorId = positiveId(claims.vendor_id);
  if (role === 'vendor' && vendorId === null) throw new Unauthenticated('Vendor token without vendor_id');
  return { id, role, vendorId: role === 'vendor' ? vendorId : null, expiresAt: claims.exp * 1000 };
}

export function signToken(user: { sub: number; role: Role; vendor_id?: number }, expiresIn: jwt.SignOptions['expiresIn'] = '12h', secret = config.jwtSecret): string {
  return jwt.sign(user, secretKey(secret), { algorithm: 'HS256', expiresIn });
}

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new Unauthenticated('Authorization header must be "Bearer <token>"');
  return match[1];
}

export function requireUser(user: AuthUser | undefined): AuthUser {
  if (!user) throw new Unauthenticated();
  return user;
}

export function requireRole(user: AuthUser | undefined, ...roles: Role[]): AuthUser {
  const authenticated = requireUser(user);
  if (!roles.includes(authenticated.role)) throw new Forbidden(`Requires role ${roles.join(' or ')}`);
  return authenticated;
}

/** Admin, or the vendor whose cafe this is. */
export function requireVendorAccess(user: AuthUser | undefined, vendorId: number): AuthUser {
  const authenticated = requireUser(user);
  if (authenticated.role === 'admin') return authenticated;
  if (authenticated.role === 'vendor' && authenticated.vendorId === vendorId) return authenticated;
  throw new Forbidden('Only this cafe or an admin may do this');
}

/** A user acts only for themselves; vendors (walk-ins, checked against the cafe later) and admins for anyone. */
export function requireActingFor(user: AuthUser | undefined, userId: number): AuthUser {
  const authenticated = requireUser(user);
  if (authenticated.role === 'user' && authenticated.id !== userId) throw new Forbidden('You may act only for yourself');
  return authenticated;
}

export function basicCredentialsMatch(header: string | undefined): boolean {
  const match = header ? /^Basic\s+(\S+)$/i.exec(header) : null;
  if (!match) return false;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const expected = `${config.adminUser}:${config.adminPassword}`;
  const a = Buffer.from(decoded);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
