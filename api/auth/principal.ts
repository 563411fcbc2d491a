import { createHash } from 'node:crypto';
import type { Capability } from '../../shared/capabilities.js';

/** The subject of a login JWT without a `sub` claim: nobody in particular. */
export const NO_SUBJECT = 'unknown';

/** Who is calling, after either kind of bearer token was verified. */
export interface Principal {
  kind: 'jwt' | 'api_key';
  subject: string;
  organizationId: string;
  capabilities: ReadonlySet<Capability>;
}

/**
 * How a caller is recorded beside what it creates (`api_key:<key id>` or `jwt:<sub>`), so the
 * same caller can be recognised later; null for a login JWT without a subject.
 */
export function creatorRef(principal: Principal): string | null {
  if (principal.kind === 'jwt' && principal.subject === NO_SUBJECT) return null;
  const ref = `${principal.kind}:${principal.subject}`;
  // The column holds 255 characters; a longer subject is kept as its digest rather than cut (two cut ones could match).
  return ref.length <= 255
    ? ref
    : `${principal.kind}:sha256:${createHash('sha256').update(principal.subject).digest('hex')}`;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      principal?: Principal;
    }
  }
}
