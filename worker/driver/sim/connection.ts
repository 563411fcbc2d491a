/**
 * One session's connection to the simulated network. Behaves like a Baileys socket as the worker
 * sees it through the driver interface: connecting → online (or pairing with a rotating QR),
 * Baileys-shaped data events, live calls with latency and injected failures, drops, logout.
 */
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { AppError } from '../../../shared/errors.js';
import { isGroupJid, jidKind, normalizeE164, phoneToJid } from '../../../shared/jid.js';
import type { Logger } from '../../../shared/logger.js';
import type {
  ConnectionUpdate,
  NumberCheck,
  PairingCode,
  WhatsAppConnection,
  WhatsAppEventMap,
  WhatsAppEventName,
} from '../driver.js';
import type { SimCallLog } from './call-log.js';
import type { SimControlMessage } from './control.js';
import { sampleLatency, syntheticIdentity, type SimNetwork } from './network.js';
import { groupMetadata, historySync, memberTagUpdates } from './payloads.js';
import type { SimStateStore } from './state-store.js';
import type { SimOperation, SimSessionProfile } from './world.js';

/** How long a pairing code works, as with WhatsApp: while the connection that asked for it shows QR codes (60 s + 5 × 20 s). */
const PAIRING_CODE_LIFETIME_MS = 160_000;

type Status = ConnectionUpdate['status'];

export interface SimConnectionContext {
  network: SimNetwork;
  store: SimStateStore;
  /** Counts onWhatsApp queries for tests and benchmarks (call-log.ts). */
  callLog?: SimCallLog;
  logger?: Logger;
  /** Called once when the connection is closed, so the driver forgets it. */
  onClosed(connection: SimConnection): void;
}

const PAIRING_CODE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

const notConnected = () => new AppError('not_implemented', 'session is not connected');

export class SimConnection implements WhatsAppConnection {
  readonly events = new EventEmitter<WhatsAppEventMap>();
  private current: Status = 'connecting';
  private closed = false;
  /** Bumped on every state change; async work started under an older generation gives up. */
  private generation = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Resolvers of in-flight latency waits, released early when the connection changes state. */
  private readonly waits = new Set<() => void>();
  private identity: { phone: string; lid: string } | undefined;
  private profile: SimSessionProfile | undefined;
  /** The phone given to requestPairingCode or a 'pair' message, used when pairing completes. */
  private pairPhone: string | undefined;
  /** A 'pair' that arrived while still connecting. */
  private pairPending = false;

  constructor(
    readonly sessionId: string,
    private readonly ctx: SimConnectionContext,
  ) {
    this.events.setMaxListeners(0);
    this.profile = ctx.network.profile(sessionId);
  }

  get status(): Status {
    return this.current;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Own phone JID and LID once online. */
  get me(): { phoneJid: string; lid: string } | undefined {
    return this.identity && { phoneJid: phoneToJid(this.identity.phone), lid: this.identity.lid };
  }

  /** Starts connecting on a later tick, so whoever called connect() has attached its listeners. */
  start(): void {
    const generation = ++this.generation;
    setImmediate(() => void this.bringUp(generation));
  }

  async onWhatsApp(phones: string[]): Promise<NumberCheck[]> {
    const digits = phones.map((phone) => {
      const normalized = normalizeE164(phone);
      if (normalized === undefined)
        throw new AppError('validation_error', `not an E.164 phone number: ${phone}`, { phone });
      return normalized;
    });
    if (!this.closed && this.current === 'online') await this.ctx.callLog?.onWhatsApp(this.sessionId, digits);
    return this.live('onWhatsApp', () =>
      digits.map((phone): NumberCheck => {
        const account = this.ctx.network.accountByPhone(phone);
        return account ? { phone, exists: true, jid: phoneToJid(phone), lid: account.lid } : { phone, exists: false };
      }),
    );
  }

  async fetchAbout(jid: string): Promise<{ about: string; setAt?: number }> {
    const account = this.userAccount(jid, 'has no about text');
    return this.live('fetchAbout', () => {
      const target = account();
      if (target.aboutHidden || target.about === null) return { about: '' };
      return target.aboutSetAt === undefined
        ? { about: target.about }
        : { about: target.about, setAt: target.aboutSetAt };
    });
  }

  async profilePicture(
    jid: string,
    type: 'image' | 'preview',
  ): Promise<{ url: string; id: string | null } | undefined> {
    const picture = isGroupJid(jid) ? this.groupPicture(jid) : this.userPicture(jid);
    return this.live('profilePicture', () => {
      const found = picture();
      if (!found) return undefined;
      return { url: type === 'preview' ? (found.previewUrl ?? found.url) : found.url, id: found.id };
    });
  }

  async updateBlock(jid: string, action: 'block' | 'unblock'): Promise<void> {
    if (jidKind(jid) === 'group' || jidKind(jid) === 'channel')
      throw new AppError('validation_error', 'only users can be blocked', { jid });
    const account = this.userAccount(jid, 'cannot be blocked');
    await this.live('updateBlock', async () => {
      const lid = account().lid;
      const changed =
        action === 'block'
          ? await this.ctx.store.block(this.sessionId, lid)
          : await this.ctx.store.unblock(this.sessionId, lid);
      if (changed) this.emit('blocklist.update', { blocklist: [lid], type: action === 'block' ? 'add' : 'remove' });
    });
  }

  /** The LIDs this session has blocked, as Baileys' fetchBlocklist. */
  async fetchBlocklist(): Promise<string[]> {
    this.assertOnline();
    return this.ctx.store.blocklist(this.sessionId);
  }

  async requestPairingCode(phone: string): Promise<PairingCode> {
    if (this.closed || this.current === 'offline' || this.current === 'logged_out') throw notConnected();
    if (this.current === 'online') throw new AppError('conflict', 'session is already paired');
    const digits = normalizeE164(phone);
    if (digits === undefined) throw new AppError('validation_error', `not an E.164 phone number: ${phone}`, { phone });
    const generation = this.generation;
    await this.wait(this.ctx.network.policy('requestPairingCode', this.profile).latencyMs);
    if (generation !== this.generation || this.closed) throw notConnected();
    this.pairPhone = digits;
    return { code: pairingCode(this.sessionId, digits), expiresAt: Date.now() + PAIRING_CODE_LIFETIME_MS };
  }

  async fetchAllGroups(): Promise<Record<string, unknown>> {
    const groups = await this.live('fetchAllGroups', () => this.ctx.network.groupsOf(this.identity!.phone));
    const generation = this.generation;
    // Baileys reports member tags as they arrive; here they follow the groups so they have a home.
    setImmediate(() => {
      if (generation !== this.generation) return;
      for (const update of memberTagUpdates(groups, Date.now())) this.emit('group.member-tag.update', update);
    });
    return Object.fromEntries(groups.map((view) => [view.group.jid, groupMetadata(view)]));
  }

  async logout(): Promise<void> {
    if (this.closed || this.current === 'offline' || this.current === 'logged_out') throw notConnected();
    await this.ctx.store.markUnpaired(this.sessionId);
    this.transition();
    this.loggedOut();
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async as the interface says: what would throw here rejects instead, as in the real driver
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.transition();
    this.current = 'offline';
    this.ctx.onClosed(this);
    this.emitConnection({ status: 'offline', reason: 'closed' });
  }

  /** Another connect() for the same session replaced this one: stop silently, like a dead socket. */
  supersede(): void {
    if (this.closed) return;
    this.closed = true;
    this.transition();
    this.current = 'offline';
  }

  async handleControl(message: SimControlMessage): Promise<void> {
    if (this.closed) return;
    const { store } = this.ctx;
    switch (message.action) {
      case 'pair':
        if (message.phone !== undefined) this.pairPhone = message.phone;
        if (this.current === 'connecting') this.pairPending = true;
        if (this.current === 'pairing') await this.completePairing();
        return;
      case 'disconnect':
        await store.setDown(this.sessionId, true);
        this.drop(message.reason ?? 'connection_lost');
        return;
      case 'reconnect':
        await store.setDown(this.sessionId, false);
        if (this.current === 'offline') await this.bringUp(this.transition());
        return;
      case 'logout':
        await store.markUnpaired(this.sessionId);
        if (!this.closed && this.current !== 'logged_out') {
          this.transition();
          this.loggedOut();
        }
        return;
    }
  }

  private async bringUp(generation: number): Promise<void> {
    if (generation !== this.generation || this.closed) return;
    this.current = 'connecting';
    this.emitConnection({ status: 'connecting' });
    let state;
    try {
      state = await this.ctx.store.read(this.sessionId);
    } catch (err) {
      if (generation !== this.generation) return;
      this.ctx.logger?.warn({ err, sessionId: this.sessionId }, 'sim: cannot read session state');
      this.current = 'offline';
      this.emitConnection({ status: 'offline', reason: 'unavailable' });
      this.reconnectLater();
      return;
    }
    await this.wait(this.ctx.network.policy('connect', this.profile).latencyMs);
    if (generation !== this.generation || this.closed) return;
    if (state.down) {
      this.current = 'offline';
      this.emitConnection({ status: 'offline', reason: 'connection_lost' });
      return;
    }
    const listed = this.ctx.network.world.sessions[this.sessionId];
    const paired = this.pairPending || (state.paired ?? listed?.paired ?? false);
    if (this.pairPending) {
      this.pairPending = false;
      await this.persistPairing(generation);
      if (generation !== this.generation || this.closed) return;
      this.goOnline(this.runtimePhone());
    } else if (paired) {
      this.goOnline(state.phone);
    } else {
      this.startPairing();
    }
  }

  private goOnline(runtimePhone: string | undefined): void {
    const generation = this.generation;
    this.identity = this.resolveIdentity(runtimePhone);
    this.profile = this.ctx.network.profile(this.sessionId, this.identity.phone);
    this.current = 'online';
    this.emitConnection({ status: 'online', phoneJid: phoneToJid(this.identity.phone), lid: this.identity.lid });
    const history = historySync(this.ctx.network, this.profile);
    setImmediate(() => {
      if (generation === this.generation) this.emit('messaging-history.set', history);
    });
    const dropAfter = this.profile?.disconnectAfterMs;
    if (dropAfter !== undefined) {
      this.after(dropAfter, () => {
        this.drop('connection_lost');
        this.reconnectLater();
      });
    }
  }

  private startPairing(): void {
    this.current = 'pairing';
    const { qrIntervalMs, autoPairAfterMs } = this.ctx.network.world.pairing;
    const showQr = () => this.emitConnection({ status: 'pairing', qr: newQr() });
    showQr();
    this.every(qrIntervalMs, showQr);
    if (autoPairAfterMs !== null) this.after(autoPairAfterMs, () => void this.completePairing());
  }

  /** The phone scanned the QR (or entered the code): WhatsApp restarts the connection, then it is online. */
  private async completePairing(): Promise<void> {
    if (this.closed || this.current !== 'pairing') return;
    const generation = this.transition();
    try {
      await this.persistPairing(generation);
    } catch (err) {
      this.ctx.logger?.warn({ err, sessionId: this.sessionId }, 'sim: cannot persist pairing');
    }
    if (generation !== this.generation || this.closed) return;
    this.current = 'connecting';
    this.emitConnection({ status: 'connecting', reason: 'restart_required' });
    await this.wait(this.ctx.network.policy('connect', this.profile).latencyMs);
    if (generation !== this.generation || this.closed) return;
    this.goOnline(this.runtimePhone());
  }

  private async persistPairing(generation: number): Promise<void> {
    if (generation !== this.generation) return;
    await this.ctx.store.markPaired(this.sessionId, this.runtimePhone());
  }

  /** Sessions the world lists have a fixed phone; others pair as the phone they were given, or a synthetic one. */
  private runtimePhone(): string | undefined {
    if (this.ctx.network.world.sessions[this.sessionId]) return undefined;
    return this.pairPhone ?? syntheticIdentity(this.sessionId).phone;
  }

  private resolveIdentity(runtimePhone: string | undefined): { phone: string; lid: string } {
    const listed = this.ctx.network.world.sessions[this.sessionId];
    const synthetic = syntheticIdentity(this.sessionId);
    const phone = listed?.phone ?? runtimePhone ?? synthetic.phone;
    return { phone, lid: this.ctx.network.accountByPhone(phone)?.lid ?? synthetic.lid };
  }

  private drop(reason: string): void {
    if (this.closed || this.current === 'offline' || this.current === 'logged_out') return;
    this.transition();
    this.current = 'offline';
    this.emitConnection({ status: 'offline', reason });
  }

  /** A transient drop: come back by itself, like the Baileys driver's reconnect. */
  private reconnectLater(): void {
    this.after(this.ctx.network.world.reconnectDelayMs, () => void this.bringUp(this.transition()));
  }

  private loggedOut(): void {
    this.current = 'logged_out';
    this.identity = undefined;
    this.pairPhone = undefined;
    this.emitConnection({ status: 'logged_out', reason: 'logged_out' });
  }

  /** A live call: the connection must be online before and after the simulated round trip. */
  private async live<T>(operation: SimOperation, run: () => T | Promise<T>): Promise<T> {
    this.assertOnline();
    const generation = this.generation;
    const policy = this.ctx.network.policy(operation, this.profile);
    await this.wait(policy.latencyMs);
    if (generation !== this.generation) throw notConnected();
    if (policy.failureRate > 0 && Math.random() < policy.failureRate) {
      throw policy.failureCode === 'rate_limited'
        ? new AppError('rate_limited', 'WhatsApp rate limit reached (simulated)', { operation, simulated: true })
        : new AppError('internal', 'WhatsApp server error (simulated)', { operation, simulated: true });
    }
    return run();
  }

  private assertOnline(): void {
    if (this.closed || this.current !== 'online') throw notConnected();
  }

  /** Resolves the account behind a user JID when the call runs (unknown ⇒ not_found then, after the round trip). */
  private userAccount(jid: string, what: string) {
    const kind = jidKind(jid);
    if (kind === 'group' || kind === 'channel') {
      return () => {
        throw new AppError('not_found', `a ${kind} ${what}`, { jid });
      };
    }
    const account = this.ctx.network.accountByJid(jid);
    return () => {
      if (!account) throw new AppError('not_found', 'no WhatsApp account has that JID', { jid });
      return account;
    };
  }

  private userPicture(jid: string) {
    const account = this.userAccount(jid, 'has no profile picture');
    return () => {
      const target = account();
      return target.pictureHidden ? null : target.picture;
    };
  }

  private groupPicture(jid: string) {
    return () => {
      const view = this.ctx.network.group(jid);
      if (!view) throw new AppError('not_found', 'no such group', { jid });
      return view.group.picture;
    };
  }

  /** Cancels timers and releases in-flight waits (their calls then fail as not connected). */
  private transition(): number {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const release of this.waits) release();
    this.waits.clear();
    return ++this.generation;
  }

  private wait(latency: Parameters<typeof sampleLatency>[0]): Promise<void> {
    const ms = sampleLatency(latency);
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const release = () => {
        clearTimeout(timer);
        this.timers.delete(timer);
        this.waits.delete(release);
        resolve();
      };
      const timer = setTimeout(release, ms);
      this.timers.add(timer);
      this.waits.add(release);
    });
  }

  private after(ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, ms);
    this.timers.add(timer);
  }

  private every(ms: number, action: () => void): void {
    this.timers.add(setInterval(action, ms));
  }

  private emitConnection(update: ConnectionUpdate): void {
    this.emit('connection', update);
  }

  /** A throwing listener must not break the simulated network's timers. */
  private emit<K extends WhatsAppEventName>(event: K, payload: WhatsAppEventMap[K][0]): void {
    try {
      // The signature above ties the payload to the event; node's typing cannot follow a generic name.
      (this.events as EventEmitter).emit(event, payload);
    } catch (err) {
      this.ctx.logger?.error({ err, sessionId: this.sessionId, event }, 'sim: event listener threw');
    }
  }
}

/** Looks like a Baileys QR payload: ref, noise key, identity key, adv secret. */
function newQr(): string {
  const b64 = (n: number) => randomBytes(n).toString('base64');
  return [`2@${b64(36)}`, b64(32), b64(32), b64(32)].join(',');
}

/** Stable for a session and phone, so asking twice gives the same code. */
export function pairingCode(sessionId: string, phone: string): string {
  const digest = createHash('sha256').update(`sim-pairing:${sessionId}:${phone}`).digest();
  return Array.from(digest.subarray(0, 8), (byte) => PAIRING_CODE_ALPHABET[byte % PAIRING_CODE_ALPHABET.length]).join(
    '',
  );
}
