import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID: 48-bit millisecond time then 80 random bits, Crockford base32; sorts by creation time. */
export function ulid(now = Date.now()): string {
  let time = '';
  for (let t = now, i = 0; i < 10; i++, t = Math.floor(t / 32)) time = CROCKFORD[t % 32] + time;
  const random = randomBytes(16);
  let rand = '';
  for (let i = 0; i < 16; i++) rand += CROCKFORD[random[i]! % 32];
  return time + rand;
}

export const newSessionId = () => `sess_${ulid()}`;
export const newOrganizationId = () => `org_${ulid()}`;

/** What an organization id may be (`org create --id`, and the organization claim of a login JWT): 1–64 of A-Z a-z 0-9 . _ : - */
export const isOrganizationId = (id: string): boolean => /^[A-Za-z0-9._:-]{1,64}$/.test(id);
