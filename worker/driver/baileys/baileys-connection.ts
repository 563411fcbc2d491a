/**
 * One session's WhatsApp connection over Baileys. Keeps one `events` emitter for the session's whole
 * life while the socket under it is rebuilt after every close (a closed Baileys socket destroys its
 * own emitter), and decides between reconnecting, stopping and forgetting the credentials.
 */
import { EventEmitter } from 'node:events';
import {
  jidNormalizedUser,
  makeCacheableSignalKeyStore,
  type BaileysEventMap,
  type SignalKeyStore,
  type UserFacingSocketConfig,
  type WASocket,
} from '@whiskeysockets/baileys';
import type { Logger } from 'pino';
import { WHATSAPP_DATA_EVENTS, type ConnectionUpdate, type WhatsAppConnection } from '../driver.js';
import { AppError } from '../../../shared/errors.js';
import type { MysqlAuthStore, SessionAuthState } from '../../auth-state/mysql-auth-state.js';
import { mapBaileysError } from './errors.js';
import { adaptSocket, type LiveCalls, type LiveSocket } from './live-calls.js';
import { backoffDelay, closeAction, type BackoffOptions } from './reconnect-policy.js';

/** The Baileys data events a connection re-emits unchanged (see driver.ts). */
export const FORWARDED_EVENTS = WHATSAPP_DATA_EVENTS;

/** The part of a Baileys socket a connection drives. */
export type DriverSocket = LiveSocket & Pick<WASocket, 'end' | 'logout'> & { ev: Pick<WASocket['ev'], 'process'> };

export type SocketFactory = (config: UserFacingSocketConfig) => DriverSocket;

export interface BaileysConnectionOptions {
  sessionId: string;
  authStore: MysqlAuthStore;
  logger: Logger;
  /** Handed to Baileys; quieter than `logger`, Baileys is chatty. */
  socketLogger: Logger;
  makeSocket: SocketFactory;
  /** Everything for makeWASocket except auth and logger, which the connection supplies. */
  socketConfig: Omit<UserFacingSocketConfig, 'auth' | 'logger'>;
  backoff: BackoffOptions;
  random?: () => number;
  /** Called once when the connection stops for good (closed, logged out, replaced). */
  onStopped?: () => void;
}

type Status = ConnectionUpdate['status'];
type EventBatch = Partial<BaileysEventMap>;
type GroupUpdates = BaileysEventMap['groups.update'];

/** How long after a group fetch an identical `groups.update` counts as that fetch's echo (Baileys may buffer it). */
const GROUP_ECHO_MS = 30_000;

export class BaileysConnection implements WhatsAppConnection {
  readonly sessionId: string;
  readonly events = new EventEmitter();
  private status: Status | undefined;
  private auth: SessionAuthState | undefined;
  private keys: SignalKeyStore | undefined;
  private sock: DriverSocket | undefined;
  private unsubscribe: (() => void) | undefined;
  private live: LiveCalls | undefined;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Set once the account is unlinked: late writes from the dying socket must not resurrect its auth state. */
  private forgotten = false;
  private loggedOut: Promise<void> | undefined;
  /**
   * Baileys' groupFetchAllParticipating also emits every group it returns as `groups.update`; the
   * caller ingests the returned record, so that echo would write every group and membership twice.
   * `groups.update` batches are held while a fetch runs, and afterwards items equal to what it
   * returned are dropped.
   */
  private groupFetches = 0;
  private heldGroupUpdates: GroupUpdates[] = [];
  private groupEcho: { byJid: Map<string, string>; until: number } | undefined;

  constructor(private readonly options: BaileysConnectionOptions) {
    this.sessionId = options.sessionId;
  }

  /** Current status, as last emitted. */
  get state(): Status {
    return this.status ?? 'connecting';
  }

  async start(): Promise<void> {
    this.auth = await this.options.authStore.load(this.sessionId);
    const stored = this.auth.state.keys;
    const gated: SignalKeyStore = {
      get: (type, ids) => stored.get(type, ids),
      set: (data) => (this.forgotten ? undefined : stored.set(data)),
    };
    this.keys = makeCacheableSignalKeyStore(gated, this.options.socketLogger);
    // Opened once the caller holds the connection and listens: Baileys reports 'connecting' on the next tick.
    setImmediate(() => this.openSocket());
  }

  // ---- live calls: only on an open socket (async, so "offline" is a rejection, never a throw) ----

  async onWhatsApp(phones: string[]) {
    return this.requireOnline().onWhatsApp(phones);
  }

  async fetchAbout(jid: string) {
    return this.requireOnline().fetchAbout(jid);
  }

  async profilePicture(jid: string, type: 'image' | 'preview') {
    return this.requireOnline().profilePicture(jid, type);
  }

  async updateBlock(jid: string, action: 'block' | 'unblock') {
    return this.requireOnline().updateBlock(jid, action);
  }

  async fetchAllGroups() {
    const live = this.requireOnline();
    this.groupFetches++;
    let fetched: Record<string, unknown> | undefined;
    try {
      fetched = await live.fetchAllGroups();
      return fetched;
    } finally {
      this.groupFetches--;
      if (fetched) this.groupEcho = { byJid: new Map(Object.entries(fetched).map(([jid, meta]) => [jid, JSON.stringify(meta)])), until: Date.now() + GROUP_ECHO_MS };
      if (this.groupFetches === 0) {
        const held = this.heldGroupUpdates;
        this.heldGroupUpdates = [];
        for (const updates of held) this.forwardGroupUpdates(updates);
      }
    }
  }

  async requestPairingCode(phone: string): Promise<string> {
    if (this.auth?.state.creds.account) throw new AppError('conflict', 'session is already paired');
    if (this.stopped || !this.sock || (this.status !== 'pairing' && this.status !== 'connecting')) {
      throw new AppError('not_implemented', 'session is not connected to WhatsApp');
    }
    return adaptSocket(this.sock, this.options.logger).requestPairingCode(phone);
  }

  async logout(): Promise<void> {
    this.requireOnline();
    const sock = this.sock!;
    try {
      await sock.logout();
    } catch (err) {
      throw mapBaileysError(err);
    }
    // Baileys closes the socket with loggedOut next; handling it here as well makes logout() return
    // only once the credentials are gone, whichever runs first.
    await this.forget('logout');
  }

  async close(): Promise<void> {
    const wasRunning = !this.stopped;
    this.stop();
    const sock = this.sock;
    this.detach();
    if (sock) {
      try {
        await sock.end(undefined);
      } catch (err) {
        this.options.logger.debug({ err }, 'socket end failed');
      }
    }
    // The next owner of this session loads the credentials from MySQL: they must all be there.
    await this.options.authStore.flush(this.sessionId);
    if (wasRunning) this.emitStatus({ status: 'offline', reason: 'closed' });
  }

  private forwardGroupUpdates(updates: GroupUpdates): void {
    if (this.groupFetches > 0) {
      this.heldGroupUpdates.push(updates);
      return;
    }
    if (this.groupEcho && this.groupEcho.until <= Date.now()) this.groupEcho = undefined;
    const echo = this.groupEcho?.byJid;
    const isEcho = (update: GroupUpdates[number]): boolean => {
      if (!echo || update.id === undefined || echo.get(update.id) !== JSON.stringify(update)) return false;
      echo.delete(update.id);
      return true;
    };
    const news = updates.filter((update) => !isEcho(update));
    if (news.length > 0) this.safeEmit('groups.update', news);
  }

  private requireOnline(): LiveCalls {
    if (this.stopped || !this.live) throw new AppError('not_implemented', 'session is offline');
    return this.live;
  }

  private openSocket(): void {
    if (this.stopped || !this.auth || !this.keys) return;
    const creds = this.auth.state.creds;
    // A pairing code request stores the phone in creds.me before anything is paired; with `me` set
    // Baileys would try to log in instead of showing a new QR. Not paired ⇒ start pairing afresh.
    if (!creds.account && creds.me) {
      creds.me = undefined;
      creds.pairingCode = undefined;
    }
    let sock: DriverSocket;
    try {
      sock = this.options.makeSocket({ ...this.options.socketConfig, auth: { creds, keys: this.keys }, logger: this.options.socketLogger });
    } catch (err) {
      this.options.logger.error({ err }, 'could not create a WhatsApp socket');
      this.scheduleReconnect('socket creation failed');
      return;
    }
    this.sock = sock;
    this.unsubscribe = sock.ev.process((batch) => this.onBatch(sock, batch));
  }

  private async onBatch(sock: DriverSocket, batch: EventBatch): Promise<void> {
    // Baileys does not await this handler: nothing may escape it.
    try {
      if (sock !== this.sock || this.forgotten) return;
      if (batch['creds.update'] && this.auth) {
        this.auth.saveCreds().catch((err: unknown) => this.options.logger.error({ err }, 'saving WhatsApp credentials failed'));
      }
      if (batch['connection.update']) await this.onConnectionUpdate(sock, batch['connection.update']);
      if (this.stopped) return;
      for (const name of FORWARDED_EVENTS) {
        const payload = batch[name];
        if (payload === undefined) continue;
        if (name === 'groups.update') this.forwardGroupUpdates(payload as GroupUpdates);
        else this.safeEmit(name, payload);
      }
    } catch (err) {
      this.options.logger.error({ err }, 'handling WhatsApp events failed');
    }
  }

  private async onConnectionUpdate(sock: DriverSocket, update: EventBatch['connection.update'] & object): Promise<void> {
    if (this.stopped) return;
    if (typeof update.qr === 'string' && update.qr) {
      this.attempt = 0;
      this.emitStatus({ status: 'pairing', qr: update.qr });
    }
    if (update.connection === 'connecting' && this.status !== 'connecting') {
      this.emitStatus({ status: 'connecting' });
    } else if (update.connection === 'open') {
      this.attempt = 0;
      this.live = adaptSocket(sock, this.options.logger);
      const me = this.auth?.state.creds.me;
      const identity: ConnectionUpdate = { status: 'online' };
      if (me?.id) identity.phoneJid = jidNormalizedUser(me.id);
      if (me?.lid) identity.lid = jidNormalizedUser(me.lid);
      this.emitStatus(identity);
    } else if (update.connection === 'close') {
      await this.onClose(update.lastDisconnect?.error);
    }
  }

  private async onClose(error: unknown): Promise<void> {
    this.detach();
    const action = closeAction(error);
    this.options.logger.info({ reason: action.reason, action: action.kind }, 'WhatsApp connection closed');
    switch (action.kind) {
      case 'restart':
        // The first restart in a row is immediate (WhatsApp asks for it right after pairing); a
        // server that keeps asking gets the backoff like any other close.
        if (this.attempt === 0) {
          this.attempt++;
          this.openSocket();
        } else {
          this.emitStatus({ status: 'offline', reason: action.reason });
          this.scheduleReconnect(action.reason);
        }
        return;
      case 'retry':
        this.emitStatus({ status: 'offline', reason: action.reason });
        this.scheduleReconnect(action.reason);
        return;
      case 'logged_out':
        await this.forget(action.reason);
        return;
      case 'stop':
        this.stop();
        this.emitStatus({ status: 'offline', reason: action.reason });
        return;
    }
  }

  private scheduleReconnect(reason: string): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt, this.options.backoff, this.options.random);
    this.attempt++;
    this.options.logger.info({ reason, delayMs: delay, attempt: this.attempt }, 'reconnecting to WhatsApp');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.openSocket();
    }, delay);
  }

  /** The account is unlinked: drop its credentials and keys, then say so. Runs once. */
  private forget(reason: string): Promise<void> {
    this.loggedOut ??= (async () => {
      this.forgotten = true;
      this.stop();
      this.detach();
      try {
        await this.options.authStore.clear(this.sessionId);
      } catch (err) {
        this.options.logger.error({ err }, 'clearing the auth state of a logged-out session failed');
      }
      this.emitStatus({ status: 'logged_out', reason });
    })();
    return this.loggedOut;
  }

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.options.onStopped?.();
  }

  /** Forget the current socket: its live calls end and its late events are ignored. */
  private detach(): void {
    this.live = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.sock = undefined;
  }

  private emitStatus(update: ConnectionUpdate): void {
    this.status = update.status;
    this.safeEmit('connection', update);
  }

  private safeEmit(name: string, payload: unknown): void {
    try {
      this.events.emit(name, payload);
    } catch (err) {
      this.options.logger.error({ err, event: name }, 'a WhatsApp event listener threw');
    }
  }
}
