/** What a connection does after its socket closed, and how long it waits before trying again. */
import { DisconnectReason } from '@whiskeysockets/baileys';

export type CloseAction =
  /** WhatsApp asked for a new socket (normal right after pairing). */
  | { kind: 'restart'; reason: string }
  /** Transient: reconnect after a backoff delay. */
  | { kind: 'retry'; reason: string }
  /** The device was unlinked: forget the credentials. */
  | { kind: 'logged_out'; reason: string }
  /** Reconnecting would not help or would fight someone else: stay offline. */
  | { kind: 'stop'; reason: string }
  /** WhatsApp refuses the WhatsApp Web version the client announced: only another version helps. */
  | { kind: 'version_rejected'; reason: string };

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1_000, maxMs: 60_000, factor: 2 };

/** `<failure reason="405"/>` at login: the announced WhatsApp Web version is no longer served. */
export const VERSION_REJECTED = 405;

/** Close codes Baileys has no DisconnectReason name for, named for the logs and the session's status reason. */
const OTHER_NAMES: Record<number, string> = { [VERSION_REJECTED]: 'clientOutdated' };

export function closeStatusCode(error: unknown): number | undefined {
  const code = (error as { output?: { statusCode?: unknown } } | undefined)?.output?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** Baileys' message for a failure of the WebSocket itself: `WebSocket Error (<what Node said>)`. */
const WEBSOCKET_ERROR = /^WebSocket Error \((.+)\)$/;

/**
 * `timedOut (408)`, plus what the network said when the WebSocket itself failed (Baileys files a
 * refused connection, an unknown host and a TLS failure all under 408): `timedOut (408): getaddrinfo
 * ENOTFOUND web.whatsapp.com`.
 */
function describe(code: number | undefined, error: unknown): string {
  if (code === undefined) return error instanceof Error ? error.message : 'closed';
  const name = (DisconnectReason as unknown as Record<number, string | undefined>)[code] ?? OTHER_NAMES[code];
  const base = name ? `${name} (${code})` : `status ${code}`;
  const network = error instanceof Error ? WEBSOCKET_ERROR.exec(error.message)?.[1] : undefined;
  return network ? `${base}: ${network}` : base;
}

export function closeAction(error: unknown): CloseAction {
  const code = closeStatusCode(error);
  const reason = describe(code, error);
  switch (code) {
    case DisconnectReason.restartRequired:
      return { kind: 'restart', reason };
    case DisconnectReason.loggedOut:
      return { kind: 'logged_out', reason };
    case VERSION_REJECTED:
      return { kind: 'version_rejected', reason };
    // Another client (a second worker, WhatsApp Web elsewhere) took the session: taking it back would
    // make the two evict each other forever.
    case DisconnectReason.connectionReplaced:
    // Banned or blocked account: WhatsApp answers the same until a human acts.
    case DisconnectReason.forbidden:
    // WhatsApp no longer serves this kind of client to the account.
    case DisconnectReason.multideviceMismatch:
      return { kind: 'stop', reason };
    default:
      return { kind: 'retry', reason };
  }
}

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so a worker that
 * lost many sessions at once does not reconnect them all in the same instant, yet never retries at 0.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * options.factor ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
