import type { ErrorCode, ErrorDetails } from '../errors.js';

/**
 * The live operations: one typed contract each, used by the api (to enqueue and to read the
 * result) and by the worker (to execute). Adding an operation here makes both sides agree on it.
 */
export interface LiveOperations {
  'contacts.check': {
    input: { phone: string };
    /** `matchedAs`: the form WhatsApp knows the number by (its JID's digits), when on WhatsApp. */
    output: { isOnWhatsApp: boolean; jid: string | null; query: string; lid?: string; matchedAs?: string };
  };
  'contacts.about': {
    input: { jid: string };
    output: { about: string; setAt?: number };
  };
  'contacts.picture': {
    input: { jid: string; type: 'image' | 'preview' };
    output: { url: string; type: 'image' | 'preview'; id: string | null; fetchedAt: number };
  };
  'contacts.block': {
    input: { jid: string };
    output: Record<string, never>;
  };
  'contacts.unblock': {
    input: { jid: string };
    output: Record<string, never>;
  };
  'session.pairingCode': {
    input: { phone: string };
    /** `expiresAt`: epoch ms after which the code no longer links the phone. */
    output: { code: string; expiresAt: number };
  };
  'session.logout': {
    input: Record<string, never>;
    output: Record<string, never>;
  };
}

export type LiveOpName = keyof LiveOperations;
export type LiveInput<N extends LiveOpName> = LiveOperations[N]['input'];
export type LiveOutput<N extends LiveOpName> = LiveOperations[N]['output'];

/**
 * What state of the session's connection an operation needs: `online` ones are refused at once
 * (501) from the presence key; `held` ones (pairing) only need the owning worker to hold a
 * connection in any state, which that worker checks.
 */
export const LIVE_OP_REQUIRES: { readonly [N in LiveOpName]: 'online' | 'held' } = {
  'contacts.check': 'online',
  'contacts.about': 'online',
  'contacts.picture': 'online',
  'contacts.block': 'online',
  'contacts.unblock': 'online',
  'session.pairingCode': 'held',
  'session.logout': 'online',
};

/** Operations with an effect on WhatsApp: never started so close to their deadline that they could finish after it. */
export const LIVE_OP_MUTATES: { readonly [N in LiveOpName]: boolean } = {
  'contacts.check': false,
  'contacts.about': false,
  'contacts.picture': false,
  'contacts.block': true,
  'contacts.unblock': true,
  'session.pairingCode': true,
  'session.logout': true,
};

export interface LiveJobData<N extends LiveOpName = LiveOpName> {
  op: N;
  sessionId: string;
  input: LiveInput<N>;
  /** Epoch ms after which the caller has been told "timeout": the worker must not run the job then. */
  deadline: number;
  requestId?: string;
}

export interface LiveError {
  code: ErrorCode;
  message: string;
  details?: ErrorDetails;
}

/** Workers return failures as values, so the api can tell a typed error from a crash. */
export type LiveJobResult<N extends LiveOpName = LiveOpName> = { ok: true; value: LiveOutput<N> } | { ok: false; error: LiveError };
