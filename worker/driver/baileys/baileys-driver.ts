/** The real WhatsApp driver: Baileys sockets whose credentials and keys live in MySQL. */
import { makeWASocket, type WABrowserDescription, type WAVersion } from '@whiskeysockets/baileys';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { WhatsAppConnection, WhatsAppDriver } from '../driver.js';
import { AppError } from '../../../shared/errors.js';
import { MysqlAuthStore } from '../../auth-state/mysql-auth-state.js';
import { BaileysConnection, type ConnectionObserver, type SocketFactory } from './baileys-connection.js';
import { LoginGate } from './login-gate.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from './reconnect-policy.js';
import { installSignatureCheck } from './signature-check.js';
import { WaVersionSource } from './wa-version.js';

/**
 * Sockets of one worker in their handshake and login at once. A login costs the worker a few
 * milliseconds of CPU spread over several round trips, so ten at a time still bring hundreds of
 * sessions online within seconds, while the event loop stays free for lease renewals.
 */
const CONCURRENT_LOGINS = 10;

export interface BaileysDriverOptions {
  db: DataSource;
  logger: Logger;
  /** Sockets in their handshake and login at once (see CONCURRENT_LOGINS). */
  concurrentLogins?: number;
  /** Shown on the phone under "Linked devices", whichever way the phone is linked. */
  browserName?: string;
  /** Level of Baileys' own log lines (it logs every stanza at debug). */
  socketLogLevel?: string;
  backoff?: Partial<BackoffOptions>;
  /** Another WhatsApp endpoint (a local test server); Baileys' default otherwise. */
  waWebSocketUrl?: string;
  /** The WhatsApp Web version to announce; Baileys' bundled one otherwise. */
  version?: WAVersion | WaVersionSource;
  /** Ask the phone for the full history instead of the recent part. */
  syncFullHistory?: boolean;
  /** A socket that shows no QR code and does not come online this long after it was built is ended and retried. */
  connectTimeoutMs?: number;
  /** How long one live call waits for WhatsApp before answering `timeout`. */
  queryTimeoutMs?: number;
  /** Pause between attempts while WhatsApp refuses the client version (405). */
  versionRejectedRetryMs?: number;
  /** Told how many numbers each live query asks WhatsApp about, per session (the session's rate budget). */
  countQueries?: (sessionId: string, numbers: number) => void;
  observer?: ConnectionObserver;
  /** Replaces makeWASocket (tests). */
  makeSocket?: SocketFactory;
  random?: () => number;
}

export const DEFAULT_BROWSER_NAME = 'WhatsApp Gateway';
const DEFAULT_CONNECT_TIMEOUT_MS = 60_000;
const DEFAULT_QUERY_TIMEOUT_MS = 20_000;
const DEFAULT_VERSION_REJECTED_RETRY_MS = 30 * 60_000;
/** rc14's own query timeout, after which a silent query resolves to undefined. */
const BAILEYS_QUERY_TIMEOUT_MS = 60_000;

/**
 * How the phone names this device. A QR registration sends `browser[0]` as the device's name, the
 * pairing-code flow shows `${browser[1]} (${browser[0]})`; `Chrome` in `browser[1]` makes WhatsApp
 * treat it as a web browser (the default platform), so the name is the configured one either way.
 */
export function browserFor(name: string): WABrowserDescription {
  return [name, 'Chrome', '131.0'];
}

export class BaileysDriver implements WhatsAppDriver {
  readonly kind = 'baileys' as const;
  readonly authStore: MysqlAuthStore;
  private readonly connections = new Map<string, BaileysConnection>();
  private readonly loginGate: LoginGate;
  private readonly version: WaVersionSource | WAVersion | undefined;

  constructor(private readonly options: BaileysDriverOptions) {
    // Before any socket exists: the server's certificate chain is checked during the first handshake.
    installSignatureCheck();
    this.loginGate = new LoginGate(options.concurrentLogins ?? CONCURRENT_LOGINS);
    this.authStore = new MysqlAuthStore(options.db);
    this.version = options.version;
  }

  async connect(sessionId: string): Promise<WhatsAppConnection> {
    // Two sockets for one account evict each other (connectionReplaced) and corrupt the key store.
    if (this.connections.has(sessionId))
      throw new AppError('conflict', `session ${sessionId} is already connected by this worker`);
    const { options } = this;
    const logger = options.logger.child({ sessionId });
    const queryTimeoutMs = options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
    const browser = browserFor(options.browserName ?? DEFAULT_BROWSER_NAME);
    const connection = new BaileysConnection({
      sessionId,
      authStore: this.authStore,
      logger,
      socketLogger: logger.child({ component: 'baileys' }, { level: options.socketLogLevel ?? 'warn' }),
      makeSocket: options.makeSocket ?? makeWASocket,
      socketConfig: () => {
        const version = this.currentVersion();
        return {
          browser,
          // An online companion silences notifications on the user's phone.
          markOnlineOnConnect: false,
          syncFullHistory: options.syncFullHistory ?? false,
          // Never shorter than the connection's own limit, so a silent query is answered `timeout`
          // by the connection before Baileys resolves it to undefined (a block reported done).
          defaultQueryTimeoutMs: Math.max(BAILEYS_QUERY_TIMEOUT_MS, queryTimeoutMs + 5_000),
          ...(options.waWebSocketUrl ? { waWebSocketUrl: options.waWebSocketUrl } : {}),
          ...(version ? { version } : {}),
        };
      },
      backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      queryTimeoutMs,
      versionRejectedRetryMs: options.versionRejectedRetryMs ?? DEFAULT_VERSION_REJECTED_RETRY_MS,
      onVersionRejected: () =>
        this.version instanceof WaVersionSource ? this.version.refreshAfterRejection() : Promise.resolve(false),
      countQueries: (n) => options.countQueries?.(sessionId, n),
      ...(options.observer ? { observer: options.observer } : {}),
      loginGate: this.loginGate,
      ...(options.random ? { random: options.random } : {}),
      onStopped: () => {
        if (this.connections.get(sessionId) === connection) this.connections.delete(sessionId);
      },
    });
    this.connections.set(sessionId, connection);
    try {
      await connection.start();
    } catch (err) {
      this.connections.delete(sessionId);
      throw err;
    }
    return connection;
  }

  /** Deletes a session's stored credentials and keys (the session is deleted or must pair again). */
  clearAuthState(sessionId: string): Promise<void> {
    return this.authStore.clear(sessionId);
  }

  private currentVersion(): WAVersion | undefined {
    return this.version instanceof WaVersionSource ? this.version.current : this.version;
  }
}
