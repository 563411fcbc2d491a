/** The real WhatsApp driver: Baileys sockets whose credentials and keys live in MySQL. */
import { Browsers, makeWASocket, type WAVersion } from '@whiskeysockets/baileys';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { WhatsAppConnection, WhatsAppDriver } from '../driver.js';
import { AppError } from '../../../shared/errors.js';
import { MysqlAuthStore } from '../../auth-state/mysql-auth-state.js';
import { BaileysConnection, type SocketFactory } from './baileys-connection.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from './reconnect-policy.js';
import { installSignatureCheck } from './signature-check.js';

export interface BaileysDriverOptions {
  db: DataSource;
  logger: Logger;
  /** Shown on the phone under "Linked devices". */
  browserName?: string;
  /** Level of Baileys' own log lines (it logs every stanza at debug). */
  socketLogLevel?: string;
  backoff?: Partial<BackoffOptions>;
  /** Another WhatsApp endpoint (a local test server); Baileys' default otherwise. */
  waWebSocketUrl?: string;
  /** WhatsApp Web version to announce; Baileys' bundled one otherwise. */
  version?: WAVersion;
  /** Ask the phone for the full history instead of the recent part. */
  syncFullHistory?: boolean;
  /** Replaces makeWASocket (tests). */
  makeSocket?: SocketFactory;
  random?: () => number;
}

export class BaileysDriver implements WhatsAppDriver {
  readonly kind = 'baileys' as const;
  readonly authStore: MysqlAuthStore;
  private readonly connections = new Map<string, BaileysConnection>();

  constructor(private readonly options: BaileysDriverOptions) {
    // Before any socket exists: the server's certificate chain is checked during the first handshake.
    installSignatureCheck();
    this.authStore = new MysqlAuthStore(options.db);
  }

  async connect(sessionId: string): Promise<WhatsAppConnection> {
    // Two sockets for one account evict each other (connectionReplaced) and corrupt the key store.
    if (this.connections.has(sessionId)) throw new AppError('conflict', `session ${sessionId} is already connected by this worker`);
    const { options } = this;
    const logger = options.logger.child({ sessionId });
    const connection = new BaileysConnection({
      sessionId,
      authStore: this.authStore,
      logger,
      socketLogger: logger.child({ component: 'baileys' }, { level: options.socketLogLevel ?? 'warn' }),
      makeSocket: options.makeSocket ?? makeWASocket,
      socketConfig: {
        browser: Browsers.ubuntu(options.browserName ?? 'WhatsApp Gateway'),
        // An online companion silences notifications on the user's phone.
        markOnlineOnConnect: false,
        syncFullHistory: options.syncFullHistory ?? false,
        ...(options.waWebSocketUrl ? { waWebSocketUrl: options.waWebSocketUrl } : {}),
        ...(options.version ? { version: options.version } : {}),
      },
      backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
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
}
