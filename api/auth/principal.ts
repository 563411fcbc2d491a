import type { Capability } from '../../shared/capabilities.js';

/** Who is calling, after either kind of bearer token was verified. */
export interface Principal {
  kind: 'jwt' | 'api_key';
  subject: string;
  organizationId: string;
  capabilities: ReadonlySet<Capability>;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      principal?: Principal;
    }
  }
}
