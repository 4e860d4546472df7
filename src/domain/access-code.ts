import { randomInt } from 'crypto';

// SPEC §7: an access code is 6 characters from A–Z0–9 (36^6, about 2.2 billion codes), drawn from
// a cryptographic source so that one code does not tell the next; uniqueness is the database's.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
export const ACCESS_CODE_PATTERN = /^[A-Z0-9]{6}$/;

export function newAccessCode(): string {
  return Array.from({ length: 6 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
}
