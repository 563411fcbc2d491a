import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * An API key token is `wag_<24 hex key id>_<43 char base64url secret>`. The id locates the row;
 * only SHA-256 of the secret is stored. The secret carries 256 random bits, so a fast hash is
 * enough: there is nothing to brute-force the way there is with a human password.
 */
const TOKEN_PATTERN = /^wag_([0-9a-f]{24})_([A-Za-z0-9_-]{43})$/;
export const API_KEY_TOKEN_PREFIX = 'wag_';

export interface ParsedApiKeyToken {
  keyId: string;
  secret: string;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function mintApiKeyToken(): { keyId: string; token: string; secretHash: string } {
  const hexId = randomBytes(12).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { keyId: `key_${hexId}`, token: `${API_KEY_TOKEN_PREFIX}${hexId}_${secret}`, secretHash: hashSecret(secret) };
}

export function parseApiKeyToken(token: string): ParsedApiKeyToken | undefined {
  const match = TOKEN_PATTERN.exec(token);
  if (!match) return undefined;
  return { keyId: `key_${match[1]}`, secret: match[2]! };
}

export function secretMatches(secret: string, storedHash: string): boolean {
  const actual = Buffer.from(hashSecret(secret), 'hex');
  const expected = Buffer.from(storedHash, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
