/**
 * One session's WhatsApp connection over Baileys. Keeps one `events` emitter for the session's whole
 * life while the socket under it is rebuilt after every close (a closed Baileys socket destroys its
 * own emitter), and decides between reconnecting, stopping and forgetting the credentials.
 */
import { EventEmitter } from 'node:events';
import {
  getBinaryNodeChild,
  getBinaryNodeChildren,
  jidDecode,
  jidNormalizedUser,
  makeCacheableSignalKeyStore,
  type BaileysEventMap,
  type BinaryNode,
  type SignalDataSet,
  type SignalKeyStore,
  type UserFacingSocketConfig,
  type WASocket,
} from '@whiskeysockets/baileys';
import type { Logger } from 'pino';
import {
  WHATSAPP_DATA_EVENTS,
  type ConnectionUpdate,
  type LookupMapping,
  type NumberCheckOptions,
  type PairingCode,
  type WhatsAppConnection,
  type WhatsAppEventMap,
  type WhatsAppEventName,
} from '../driver.js';
import { durationText } from '../../../shared/duration-text.js';
import { AppError } from '../../../shared/errors.js';
import type { MysqlAuthStore, SessionAuthState } from '../../auth-state/mysql-auth-state.js';
import { mapBaileysError } from './errors.js';
import { adaptSocket, type LiveCalls, type LiveSocket } from './live-calls.js';
import type { LoginGate } from './login-gate.js';
import {
  backoffDelay,
  closeAction,
  closeStatusCode,
  type BackoffOptions,
  type CloseAction,
} from './reconnect-policy.js';

/** The Baileys data events a connection re-emits unchanged (see driver.ts). */
export const FORWARDED_EVENTS = WHATSAPP_DATA_EVENTS;

/** What the socket's WebSocket client offers for listening to raw stanzas (a real socket has it; fakes may not). */
interface StanzaSource {
  on(event: string, listener: (node: BinaryNode) => void): unknown;
}

/** The part of a Baileys socket a connection drives. */
export type DriverSocket = LiveSocket &
  Pick<WASocket, 'end' | 'logout'> & { ev: Pick<WASocket['ev'], 'process'>; ws?: StanzaSource };

export type SocketFactory = (config: UserFacingSocketConfig) => DriverSocket;

/** What a connection tells the worker's metrics. */
export interface ConnectionObserver {
  /** A socket closed; `reason` is the close's name (`timedOut`, `clientOutdated`, `connectTimeout`, …). */
  socketClosed?(reason: string): void;
}

export interface BaileysConnectionOptions {
  sessionId: string;
  authStore: MysqlAuthStore;
  logger: Logger;
  /** Handed to Baileys; quieter than `logger`, Baileys is chatty. */
  socketLogger: Logger;
  makeSocket: SocketFactory;
  /** Everything for makeWASocket except auth and logger, read afresh for every socket (the version may change). */
  socketConfig: () => Omit<UserFacingSocketConfig, 'auth' | 'logger'>;
  backoff: BackoffOptions;
  /** A socket that has shown no QR code and not come online this long after it was built is ended and retried. */
  connectTimeoutMs: number;
  /** How long one live call may wait for WhatsApp before it answers `timeout`. */
  queryTimeoutMs: number;
  /** Pause before trying again while WhatsApp refuses the client version (405) and no newer version is known. */
  versionRejectedRetryMs: number;
  /**
   * Called when WhatsApp refused the announced version (405): looks for a newer one and resolves to
   * true when the next socket will announce another version.
   */
  onVersionRejected?: () => Promise<boolean>;
  /** Told how many numbers each live query asks WhatsApp about (for the session's rate budget). */
  countQueries?: (numbers: number) => void;
  observer?: ConnectionObserver;
  /** Shared by the worker's connections: each socket holds a slot from its creation until it shows a QR code, opens or closes. */
  loginGate?: LoginGate;
  random?: () => number;
  /** Called once when the connection stops for good (closed, logged out, replaced). */
  onStopped?: () => void;
}

type Status = ConnectionUpdate['status'];
type EventBatch = Partial<BaileysEventMap>;
type GroupUpdates = BaileysEventMap['groups.update'];

/** How long after a group fetch an identical `groups.update` counts as that fetch's echo (Baileys may buffer it). */
const GROUP_ECHO_MS = 30_000;
/** Baileys shows the first QR code of a socket this long, each later one for QR_NEXT_MS; after the last it ends the socket. */
const QR_FIRST_MS = 60_000;
const QR_NEXT_MS = 20_000;
/** How long close() waits for Baileys to end the socket. */
const END_WAIT_MS = 3_000;
const PAIRING_REASON = 'waiting for the phone: scan the QR code or enter a pairing code';
const PN_USER = /^\d{5,20}$/;
const LID_USER = /^\d{1,30}$/;

/** Settles once, when its socket is let go; live calls race against it so none outlives its socket. */
class SocketGone {
  readonly promise: Promise<never>;
  private rejectWith!: (err: AppError) => void;

  constructor() {
    this.promise = new Promise<never>((_, reject) => {
      this.rejectWith = reject;
    });
    // Nobody may be racing when it settles.
    this.promise.catch(() => undefined);
  }

  settle(): void {
    this.rejectWith(new AppError('not_implemented', 'the WhatsApp connection closed during the call'));
  }
}

export class BaileysConnection implements WhatsAppConnection {
  readonly sessionId: string;
  readonly events = new EventEmitter<WhatsAppEventMap>();
  private status: Status | undefined;
  private auth: SessionAuthState | undefined;
  private keys: SignalKeyStore | undefined;
  private sock: DriverSocket | undefined;
  private unsubscribe: (() => void) | undefined;
  private live: LiveCalls | undefined;
  private gone: SocketGone | undefined;
  /** The socket that has shown a QR code: only it has finished the handshake and waits for a registration. */
  private qrSocket: DriverSocket | undefined;
  /** When the current socket's QR codes run out (Baileys ends the socket then, and a pairing code with it). */
  private qrSequenceEndsAt: number | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** Why the next socket is being built, told with its `connecting`. */
  private reconnectReason: string | undefined;
  /** Phone users a look-up of ours is resolving right now: the mappings it stores are marked as such. */
  private readonly lookingUp = new Map<string, number>();
  private stopped = false;
  /** Waiting for a login slot, and the function that gives back the slot held. */
  private waitingForGate = false;
  private leaveGate: (() => void) | undefined;
  /** Set once the account is unlinked: late writes from the dying socket must not resurrect its auth state. */
  private forgotten = false;
  /** Bumped whenever the credentials are (re)loaded; key writes of older ones are dropped. */
  private authGeneration = 0;
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
    await this.loadAuth();
    // Opened once the caller holds the connection and listens: Baileys reports 'connecting' on the next tick.
    setImmediate(() => this.openSocket());
  }

  // ---- live calls: only on an open socket (async, so "offline" is a rejection, never a throw) ----

  async onWhatsApp(phones: string[], options?: NumberCheckOptions) {
    return this.onSocket((live) => live.onWhatsApp(phones, options));
  }

  async fetchAbout(jid: string) {
    return this.onSocket((live) => live.fetchAbout(jid));
  }

  async profilePicture(jid: string, type: 'image' | 'preview') {
    return this.onSocket((live) => live.profilePicture(jid, type));
  }

  async updateBlock(jid: string, action: 'block' | 'unblock') {
    return this.onSocket((live) => live.updateBlock(jid, action));
  }

  async fetchAllGroups() {
    this.requireOnline();
    this.groupFetches++;
    let fetched: Record<string, unknown> | undefined;
    try {
      fetched = await this.onSocket((live) => live.fetchAllGroups());
      return fetched;
    } finally {
      this.groupFetches--;
      if (fetched)
        this.groupEcho = {
          byJid: new Map(Object.entries(fetched).map(([jid, meta]) => [jid, JSON.stringify(meta)])),
          until: Date.now() + GROUP_ECHO_MS,
        };
      if (this.groupFetches === 0) {
        const held = this.heldGroupUpdates;
        this.heldGroupUpdates = [];
        for (const updates of held) this.forwardGroupUpdates(updates);
      }
    }
  }

  /**
   * Baileys' requestPairingCode stores the phone in `creds.me` and sends in the clear whatever the
   * handshake state: before the handshake it fails (428) leaving `creds.me` behind, so the next
   * handshake logs in instead of registering; mid-handshake the code it returns can never work. So
   * a code is asked for only on a socket that has shown a QR code (handshake done, WhatsApp waiting
   * for a registration), and a failed request takes back what Baileys stored.
   */
  async requestPairingCode(phone: string): Promise<PairingCode> {
    const creds = this.auth?.state.creds;
    if (creds?.account) throw new AppError('conflict', 'session is already paired');
    const sock = this.sock;
    if (this.stopped || !sock || !creds || !this.gone)
      throw new AppError('not_implemented', 'session is not connected to WhatsApp');
    if (this.qrSocket !== sock) {
      throw new AppError(
        'unavailable',
        'WhatsApp is not ready for a pairing code yet (the connection has not shown a QR code); retry in a few seconds',
        { retryAfterSeconds: 2 },
      );
    }
    try {
      const code = await this.raced(
        adaptSocket(sock, { logger: this.options.logger }).requestPairingCode(phone),
        this.gone,
      );
      return { code, expiresAt: this.qrSequenceEndsAt ?? Date.now() + QR_FIRST_MS };
    } catch (err) {
      if (!creds.account && (creds.me || creds.pairingCode)) {
        creds.me = undefined;
        creds.pairingCode = undefined;
        await this.auth!.saveCreds().catch((saveErr: unknown) =>
          this.options.logger.error({ err: saveErr }, 'saving WhatsApp credentials failed'),
        );
      }
      throw mapBaileysError(err);
    }
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
      // Baileys' end() waits for WhatsApp's closing handshake, which a silent server never sends
      // (the `ws` library gives up after 30 s): shutdown does not wait for it that long.
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, END_WAIT_MS);
      });
      try {
        await Promise.race([sock.end(undefined), gaveUp]);
      } catch (err) {
        this.options.logger.debug({ err }, 'socket end failed');
      } finally {
        clearTimeout(timer);
      }
    }
    // The next owner of this session loads the credentials from MySQL: they must all be there.
    await this.options.authStore.flush(this.sessionId);
    if (wasRunning) this.emitStatus({ status: 'offline', reason: 'closed' });
  }

  /**
   * Runs a live call on the current socket, answering `not_implemented` as soon as that socket
   * goes (Baileys' end() drops the listeners its pending queries wait on, so they would hang) and
   * `timeout` when WhatsApp stays silent (rc14 resolves such a query to undefined, after 60 s).
   */
  private async onSocket<T>(call: (live: LiveCalls) => Promise<T>): Promise<T> {
    const live = this.requireOnline();
    return this.raced(call(live), this.gone!);
  }

  private async raced<T>(call: Promise<T>, gone: SocketGone): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const silent = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new AppError('timeout', 'WhatsApp did not answer in time')),
        this.options.queryTimeoutMs,
      );
    });
    try {
      return await Promise.race([call, gone.promise, silent]);
    } finally {
      clearTimeout(timer);
      // A call that lost the race may still reject later; that is no longer anyone's concern.
      call.catch(() => undefined);
    }
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
    if (this.stopped || !this.live || !this.gone) throw new AppError('not_implemented', 'session is offline');
    return this.live;
  }

  /** Loads (or, after a reset, reloads) the credentials and wraps the key store. */
  private async loadAuth(): Promise<void> {
    const generation = ++this.authGeneration;
    this.auth = await this.options.authStore.load(this.sessionId);
    const stored = this.auth.state.keys;
    const tapped: SignalKeyStore = {
      get: (type, ids) => stored.get(type, ids),
      set: (data) => {
        // A socket of replaced credentials may still write: that must not land in the new ones.
        if (this.forgotten || generation !== this.authGeneration) return undefined;
        const written = stored.set(data);
        this.forwardStoredMappings(data);
        return written;
      },
    };
    this.keys = makeCacheableSignalKeyStore(tapped, this.options.socketLogger);
  }

  /**
   * Every LID ↔ phone mapping Baileys learns (history sync, LID migration, decrypted messages, usync)
   * is written to the key store as `lid-mapping` rows (`<pnUser>` → lidUser, plus a `_reverse` row);
   * rc14 emits no event for most of them, and its event buffer drops `lidPnMappings` from the
   * history set. So they are taken from here and passed to ingestion as `lid-mapping.update`.
   */
  private forwardStoredMappings(data: SignalDataSet): void {
    const rows = data['lid-mapping'];
    if (!rows) return;
    for (const [pnUser, lidUser] of Object.entries(rows)) {
      if (
        pnUser.endsWith('_reverse') ||
        typeof lidUser !== 'string' ||
        !PN_USER.test(pnUser) ||
        !LID_USER.test(lidUser)
      )
        continue;
      const mapping: LookupMapping = { lid: `${lidUser}@lid`, pn: `${pnUser}@s.whatsapp.net` };
      if (this.lookingUp.has(pnUser)) mapping.lookup = true;
      this.safeEmit('lid-mapping.update', mapping);
    }
  }

  /** Marks the phone users a look-up resolves while it runs, so the mappings it stores are known as look-up results. */
  private async lookUp<T>(pnJids: string[], work: () => Promise<T>): Promise<T> {
    const users = pnJids.map((jid) => jidDecode(jid)?.user).filter((user): user is string => !!user);
    for (const user of users) this.lookingUp.set(user, (this.lookingUp.get(user) ?? 0) + 1);
    try {
      return await work();
    } finally {
      for (const user of users) {
        const left = (this.lookingUp.get(user) ?? 1) - 1;
        if (left > 0) this.lookingUp.set(user, left);
        else this.lookingUp.delete(user);
      }
    }
  }

  /** LIDs the key store already holds for these phone JIDs; never asks WhatsApp. */
  private async storedLids(pnJids: string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    const byUser = new Map<string, string>();
    for (const jid of pnJids) {
      const user = jidDecode(jid)?.user;
      if (user) byUser.set(user, jid);
    }
    if (!this.keys || byUser.size === 0) return found;
    const rows = await this.keys.get('lid-mapping', [...byUser.keys()]);
    for (const [user, jid] of byUser) {
      const lidUser = rows[user];
      if (typeof lidUser === 'string' && LID_USER.test(lidUser)) found.set(jid, `${lidUser}@lid`);
    }
    return found;
  }

  private openSocket(): void {
    const gate = this.options.loginGate;
    if (!gate) return this.openSocketNow();
    if (this.stopped || this.waitingForGate) return;
    this.waitingForGate = true;
    void gate.enter().then((leave) => {
      this.waitingForGate = false;
      this.leaveGate?.();
      this.leaveGate = leave;
      if (this.stopped) return this.leaveLoginGate();
      this.openSocketNow();
      if (!this.sock) this.leaveLoginGate();
    });
  }

  private leaveLoginGate(): void {
    const leave = this.leaveGate;
    this.leaveGate = undefined;
    leave?.();
  }

  private openSocketNow(): void {
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
      sock = this.options.makeSocket({
        ...this.options.socketConfig(),
        auth: { creds, keys: this.keys },
        logger: this.options.socketLogger,
      });
    } catch (err) {
      this.options.logger.error({ err }, 'could not create a WhatsApp socket');
      this.scheduleReconnect('socket creation failed');
      return;
    }
    this.sock = sock;
    this.gone = new SocketGone();
    this.qrSocket = undefined;
    this.qrSequenceEndsAt = undefined;
    this.unsubscribe = sock.ev.process((batch) => this.onBatch(sock, batch));
    sock.ws?.on('CB:iq,type:set,pair-device', (stanza) => this.onPairDevice(sock, stanza));
    this.armWatchdog(sock);
  }

  /** WhatsApp's list of QR references: Baileys shows one after another, then ends the socket. */
  private onPairDevice(sock: DriverSocket, stanza: BinaryNode): void {
    if (sock !== this.sock) return;
    const refs = getBinaryNodeChildren(getBinaryNodeChild(stanza, 'pair-device'), 'ref').length;
    if (refs > 0) this.qrSequenceEndsAt = Date.now() + QR_FIRST_MS + QR_NEXT_MS * (refs - 1);
  }

  /**
   * An HTTP error on the WebSocket upgrade (a proxy, an edge outage) makes Baileys report nothing at
   * all: the socket would stay `connecting` for ever. One that has shown no QR code and not come
   * online in time is ended as timed out, which retries and keeps the credentials.
   */
  private armWatchdog(sock: DriverSocket): void {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      this.watchdog = undefined;
      if (sock !== this.sock || this.stopped) return;
      this.options.logger.warn(
        { connectTimeoutMs: this.options.connectTimeoutMs },
        'WhatsApp connection neither showed a QR code nor came online in time; ending it and retrying',
      );
      this.detach();
      // Detached first: the close this causes (if Baileys reports one at all) is not handled twice.
      sock
        .end(new Error('connect timeout'))
        .catch((err: unknown) => this.options.logger.debug({ err }, 'socket end failed'));
      void this.handleClose(
        {
          kind: 'retry',
          reason: `connectTimeout: no QR code and no login within ${durationText(this.options.connectTimeoutMs)}`,
        },
        'connectTimeout',
      );
    }, this.options.connectTimeoutMs);
  }

  private disarmWatchdog(): void {
    clearTimeout(this.watchdog);
    this.watchdog = undefined;
  }

  private async onBatch(sock: DriverSocket, batch: EventBatch): Promise<void> {
    // Baileys does not await this handler: nothing may escape it.
    try {
      if (sock !== this.sock || this.forgotten) return;
      if (batch['creds.update'] && this.auth) {
        this.auth
          .saveCreds()
          .catch((err: unknown) => this.options.logger.error({ err }, 'saving WhatsApp credentials failed'));
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

  private async onConnectionUpdate(
    sock: DriverSocket,
    update: EventBatch['connection.update'] & object,
  ): Promise<void> {
    if (this.stopped) return;
    if (typeof update.qr === 'string' && update.qr) {
      this.attempt = 0;
      this.reconnectReason = undefined;
      this.qrSocket = sock;
      this.disarmWatchdog();
      this.leaveLoginGate();
      this.emitStatus({ status: 'pairing', qr: update.qr, reason: PAIRING_REASON });
    }
    if (update.connection === 'connecting' && this.status !== 'connecting') {
      this.emitStatus(
        this.reconnectReason ? { status: 'connecting', reason: this.reconnectReason } : { status: 'connecting' },
      );
    } else if (update.connection === 'open') {
      this.attempt = 0;
      this.reconnectReason = undefined;
      this.disarmWatchdog();
      this.leaveLoginGate();
      this.live = adaptSocket(sock, {
        logger: this.options.logger,
        storedLids: (pns) => this.storedLids(pns),
        lookUp: (pns, work) => this.lookUp(pns, work),
        countQueries: (n) => this.options.countQueries?.(n),
        queryTimeoutMs: this.options.queryTimeoutMs,
      });
      const me = this.auth?.state.creds.me;
      const identity: ConnectionUpdate = { status: 'online' };
      if (me?.id) identity.phoneJid = jidNormalizedUser(me.id);
      if (me?.lid) identity.lid = jidNormalizedUser(me.lid);
      this.emitStatus(identity);
    } else if (update.connection === 'close') {
      this.detach();
      const error = update.lastDisconnect?.error;
      await this.handleClose(closeAction(error), closeLabel(error));
    }
  }

  private async handleClose(action: CloseAction, label: string): Promise<void> {
    this.options.observer?.socketClosed?.(label);
    this.options.logger.info({ reason: action.reason, action: action.kind }, 'WhatsApp connection closed');
    switch (action.kind) {
      case 'restart':
        // The first restart in a row is immediate (WhatsApp asks for it right after pairing); a
        // server that keeps asking gets the backoff like any other close.
        if (this.attempt === 0) {
          this.attempt++;
          this.openSocket();
        } else {
          this.scheduleReconnect(action.reason);
        }
        return;
      case 'retry':
        this.scheduleReconnect(action.reason);
        return;
      case 'version_rejected':
        await this.onVersionRejected(action.reason);
        return;
      case 'logged_out':
        // A socket that never finished pairing (a refused registration, a pairing code gone wrong)
        // has no device to unlink: its half-made credentials go, and pairing starts again.
        if (!this.auth?.state.creds.account) await this.resetUnpaired(action.reason);
        else await this.forget(action.reason);
        return;
      case 'stop':
        this.stop();
        this.emitStatus({ status: 'offline', reason: action.reason });
        return;
    }
  }

  /**
   * WhatsApp no longer serves the announced WhatsApp Web version: every session of this worker gets
   * the same answer until it announces a newer one, so retrying at the usual pace only hammers it.
   */
  private async onVersionRejected(reason: string): Promise<void> {
    const version = this.options.socketConfig().version?.join('.') ?? 'bundled';
    const newer = await (this.options.onVersionRejected?.() ?? Promise.resolve(false)).catch(() => false);
    if (newer) {
      this.options.logger.warn(
        { refusedVersion: version },
        'WhatsApp refused the client version (405); retrying with the newer version just fetched',
      );
      this.scheduleReconnect(`${reason}: WhatsApp refused version ${version}; retrying with a newer one`);
      return;
    }
    const delay = Math.round(
      this.options.versionRejectedRetryMs * (0.9 + 0.2 * (this.options.random ?? Math.random)()),
    );
    this.options.logger.error(
      { refusedVersion: version, retryInMs: delay },
      'WhatsApp refused the client version (405): set WA_VERSION to the current WhatsApp Web version (or enable WA_VERSION_FETCH) and restart the worker',
    );
    this.scheduleReconnect(`${reason}: WhatsApp refused WhatsApp Web version ${version}; set WA_VERSION`, delay);
  }

  /** Credentials that never completed pairing are replaced by fresh ones, and pairing starts over. */
  private async resetUnpaired(reason: string): Promise<void> {
    this.options.logger.warn(
      { reason },
      'WhatsApp refused a session that had not finished pairing; starting pairing again with fresh credentials',
    );
    try {
      await this.options.authStore.clear(this.sessionId);
      await this.loadAuth();
    } catch (err) {
      this.options.logger.error({ err }, 'resetting the credentials of an unpaired session failed');
    }
    this.scheduleReconnect(`${reason} before pairing finished: credentials reset, pairing again`);
  }

  /** Reports the session offline with the reason and when it tries next, and schedules that try. */
  private scheduleReconnect(reason: string, delayMs?: number): void {
    if (this.stopped) return;
    const delay = delayMs ?? backoffDelay(this.attempt, this.options.backoff, this.options.random);
    this.attempt++;
    const retryAt = Date.now() + delay;
    this.options.logger.info({ reason, delayMs: delay, attempt: this.attempt }, 'reconnecting to WhatsApp');
    this.reconnectReason = `reconnecting (attempt ${this.attempt}) after ${reason}`;
    this.emitStatus({ status: 'offline', reason, retryAt });
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
    this.disarmWatchdog();
    this.leaveLoginGate();
    this.options.onStopped?.();
  }

  /** Forget the current socket: its live calls end and its late events are ignored. */
  private detach(): void {
    this.disarmWatchdog();
    this.leaveLoginGate();
    this.gone?.settle();
    this.gone = undefined;
    this.live = undefined;
    this.qrSocket = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.sock = undefined;
  }

  private emitStatus(update: ConnectionUpdate): void {
    this.status = update.status;
    this.safeEmit('connection', update);
  }

  private safeEmit<K extends WhatsAppEventName>(name: K, payload: WhatsAppEventMap[K][0]): void {
    try {
      // The signature above ties the payload to the event; node's typing cannot follow a generic name.
      (this.events as EventEmitter).emit(name, payload);
    } catch (err) {
      this.options.logger.error({ err, event: name }, 'a WhatsApp event listener threw');
    }
  }
}

/** The close's name for metrics: a DisconnectReason name, `clientOutdated`, `status_<code>` or `other`. */
function closeLabel(error: unknown): string {
  const code = closeStatusCode(error);
  if (code === undefined) return 'other';
  const { reason } = closeAction(error);
  const name = /^(\w+) \(\d+\)/.exec(reason)?.[1];
  return name ?? `status_${code}`;
}
