/**
 * Baileys errors → gateway errors. Baileys throws Boom errors in two shapes: WhatsApp's reply codes
 * (`<error code=…>`) land in `err.data` with `output.statusCode` left at 500, while errors Baileys
 * raises itself (connection closed, timed out, unresolvable JID) carry their code in
 * `output.statusCode`. Both are read here, the server's code first.
 *
 * Not everything a query rejects with is an Error: a pending query whose WebSocket drops is
 * rejected with the bare close code the `ws` library reports (`1006`), and a socket-level failure
 * with a Node system error (`ECONNRESET`). Both mean the connection went away under the call.
 */
import { DisconnectReason } from '@whiskeysockets/baileys';
import { AppError, type ErrorCode } from '../../../shared/errors.js';

interface BoomLike {
  isBoom: true;
  message: string;
  data?: unknown;
  output?: { statusCode?: number };
}

function isBoomLike(err: unknown): err is BoomLike {
  return typeof err === 'object' && err !== null && (err as { isBoom?: unknown }).isBoom === true;
}

/** WhatsApp's own reply codes (err.data). */
const SERVER_CODES: Record<number, ErrorCode> = {
  400: 'validation_error', // bad-request: WhatsApp rejected the query itself
  401: 'not_found', // not-authorized: hidden by the contact's privacy settings
  404: 'not_found', // item-not-found
  408: 'timeout',
  429: 'rate_limited', // rate-overlimit
};

const MESSAGES: Record<ErrorCode, string> = {
  validation_error: 'WhatsApp rejected the request',
  not_found: 'not found on WhatsApp, or hidden by privacy settings',
  timeout: 'WhatsApp did not answer in time',
  rate_limited: 'WhatsApp rate limit reached; retry later',
  not_implemented: 'session is offline',
  internal: 'WhatsApp request failed',
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  conflict: 'conflict',
  payload_too_large: 'payload too large',
  unavailable: 'unavailable',
};

const CONNECTION_GONE = new Set<number>([
  DisconnectReason.connectionClosed,
  DisconnectReason.connectionReplaced,
  DisconnectReason.loggedOut,
]);

/** Node's codes for a TCP connection that failed or went away. */
const NETWORK_ERRNOS = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTCONN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
]);

/** A WebSocket close code (RFC 6455 §7.4: 1000–4999), as `ws` passes it to 'close' listeners. */
function isCloseCode(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1000 && value <= 4999;
}

function isNetworkError(err: unknown): err is Error {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && NETWORK_ERRNOS.has(code);
}

function appError(code: ErrorCode, cause: BoomLike | Error, details: Record<string, unknown> = {}): AppError {
  const error = new AppError(code, MESSAGES[code], { ...details, reason: cause.message });
  (error as Error & { cause?: unknown }).cause = cause;
  return error;
}

export function mapBaileysError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (isCloseCode(err))
    return new AppError('not_implemented', 'the WhatsApp connection closed during the call', {
      reason: `WebSocket closed (${err})`,
    });
  if (isNetworkError(err)) return appError('not_implemented', err);
  if (isBoomLike(err)) {
    if (typeof err.data === 'number') {
      const code = SERVER_CODES[err.data];
      if (code) return appError(code, err, { whatsappCode: err.data });
      if (/rate-overlimit/i.test(err.message)) return appError('rate_limited', err, { whatsappCode: err.data });
      return appError('internal', err, { whatsappCode: err.data });
    }
    const status = err.output?.statusCode;
    if (status !== undefined && CONNECTION_GONE.has(status)) return appError('not_implemented', err);
    if (status === DisconnectReason.timedOut) return appError('timeout', err);
    if (status === 429 || /rate-overlimit/i.test(err.message)) return appError('rate_limited', err);
    // Raised by Baileys before asking WhatsApp (updateBlockStatus cannot map the JID to a LID or a
    // phone number). The api has already checked the JID's syntax, so what is left is a user this
    // account cannot resolve: the caller can act on "not found", not on "bad request".
    if (status === 400 && /^Unable to resolve/.test(err.message)) return appError('not_found', err);
    if (status === 400) return appError('validation_error', err);
    if (/^Connection Closed$/i.test(err.message)) return appError('not_implemented', err);
    return appError('internal', err);
  }
  if (err instanceof Error && /^Connection Closed$/i.test(err.message)) return appError('not_implemented', err);
  // Not from Baileys' protocol layer (a bug, a driver failure): its text stays in the logs, not in the answer.
  const error = new AppError(
    'internal',
    MESSAGES.internal,
    err instanceof Error ? {} : { reason: `rejected with a ${err === null ? 'null' : typeof err}, not an Error` },
  );
  (error as Error & { cause?: unknown }).cause = err;
  return error;
}
