import type { DataSource } from 'typeorm';
import type { RedisClient } from '../../shared/redis.js';
import type { AdminService } from '../admin/admin-service.js';
import { sessionChangedMessage } from '../../shared/control-messages.js';
import { AppError } from '../../shared/errors.js';
import { normalizeE164 } from '../../shared/jid.js';
import type { LiveOutput } from '../../shared/live/operations.js';
import type { LiveClient } from '../live/live-client.js';
import type { RedisKeys } from '../../shared/redis-keys.js';
import { shardOf } from '../../shared/shards.js';
import type { StoredPage } from '../http/paging.js';
import type { SessionAccess } from './session-access.js';
import type { SessionView } from './session-schemas.js';
import { recordLogout } from './session-logout.js';
import type { SessionFilter, SessionViews } from './session-views.js';
import type { OrganizationScope } from '../auth/organization-scope.js';
import { publish } from '../../shared/redis-pubsub.js';

export interface SessionServiceDeps {
  admin: AdminService;
  access: SessionAccess;
  views: SessionViews;
  live: Pick<LiveClient, 'run'>;
  redis: RedisClient;
  keys: RedisKeys;
  db: DataSource;
  /** How long a pairing request keeps an unpaired session's connection (and its QR codes) alive. */
  pairingWindowMs: number;
  shardCount: number;
}

const QR_WAIT_MS = 5_000;

/**
 * What can be done to a session, for every caller: the API's routes, the CLI and the console.
 * Each method checks that the organization owns the session (another organization's session is
 * not found, exactly like a missing one) before it reads or changes anything.
 */
export class SessionService {
  constructor(private readonly deps: SessionServiceDeps) {}

  /** A new session in `pairing`; its worker is told at once and keeps it connected for a pairing window. */
  async create(organizationId: string, name: string | null, id?: string): Promise<SessionView> {
    const session = await this.deps.admin.createSession(organizationId, name, id);
    await this.wantPairing(session.id);
    await this.announce(session.id);
    return this.viewOf(session.id);
  }

  /** The sessions in scope (of one status, if given) after `afterId`, oldest first. */
  async page(
    filter: SessionFilter,
    afterId: string | undefined,
    limit: number,
  ): Promise<StoredPage<SessionView, string>> {
    const page = await this.deps.views.page(filter, afterId ?? '', limit);
    return { rows: page.rows, hasMore: page.hasMore, last: page.rows[page.rows.length - 1]?.id };
  }

  async get(scope: OrganizationScope, sessionId: string): Promise<SessionView> {
    await this.deps.access.require(scope, sessionId);
    return this.viewOf(sessionId);
  }

  /** Logs the account out when it is connected (best effort), then deletes the session with everything stored for it. */
  async delete(scope: OrganizationScope, sessionId: string, requestId?: string): Promise<void> {
    const session = await this.deps.access.requireCurrent(scope, sessionId);
    if (session.status !== 'logged_out') {
      // Best effort: an offline account cannot be told, its stored data goes regardless.
      await this.deps.live.run('session.logout', session.id, {}, requestId).catch(() => undefined);
    }
    await this.deps.db.query('DELETE FROM wa_sessions WHERE id = ?', [session.id]);
    this.deps.access.forget(session.id);
    await Promise.all([
      this.deps.redis.del(this.deps.keys.qr(session.id)),
      // One slot: both carry the session's shard tag.
      this.deps.redis.del(this.deps.keys.presence(session.id), this.deps.keys.handover(session.id)),
    ]).catch(() => undefined);
    await this.announce(session.id);
  }

  /** WhatsApp unlinks the device and the session becomes `logged_out`; a logged-out session is left as it is. */
  async logout(scope: OrganizationScope, sessionId: string, requestId?: string): Promise<void> {
    const session = await this.deps.access.requireCurrent(scope, sessionId);
    if (session.status === 'logged_out') return;
    await this.deps.live.run('session.logout', session.id, {}, requestId);
    await recordLogout(this.deps.db, session.id);
    await this.announce(session.id);
  }

  /**
   * The current pairing QR payload, waiting a few seconds for the session's worker to show one.
   * Asking keeps the session connected for another pairing window.
   */
  async currentQr(scope: OrganizationScope, sessionId: string): Promise<string> {
    const session = await this.deps.access.require(scope, sessionId);
    await this.requireUnpaired(session.id);
    await this.wantPairing(session.id);
    const qr = await this.waitForQr(session.id);
    if (!qr) {
      if (!(await this.workerHolds(session.id)))
        throw new AppError('unavailable', 'no worker is running this session right now; retry when one is up', {
          retryAfterSeconds: 5,
        });
      throw new AppError('unavailable', 'the QR code is not ready yet; retry in a few seconds', {
        retryAfterSeconds: 2,
      });
    }
    return qr;
  }

  /** WhatsApp's code to link the account by phone number instead of a QR scan. */
  async pairingCode(
    scope: OrganizationScope,
    sessionId: string,
    phone: string,
    requestId?: string,
  ): Promise<LiveOutput<'session.pairingCode'>> {
    const session = await this.deps.access.require(scope, sessionId);
    await this.requireUnpaired(session.id);
    await this.wantPairing(session.id);
    // A session let go after its pairing window is connected again first. Its QR code in Redis
    // says its current connection has finished the handshake and waits for a registration (the
    // worker deletes the code as soon as that connection goes): only then can WhatsApp give a
    // code that works. The worker checks the same again, for the moment in between.
    const qr = await this.waitForQr(session.id).catch(() => undefined);
    if (!qr) {
      if (!(await this.workerHolds(session.id)))
        throw new AppError('not_implemented', 'no worker is running this session right now; retry when one is up', {
          sessionId: session.id,
        });
      throw new AppError(
        'unavailable',
        'WhatsApp is not ready for a pairing code yet (the session is still connecting); retry in a few seconds',
        { retryAfterSeconds: 2 },
      );
    }
    const e164 = normalizeE164(phone);
    if (!e164)
      throw new AppError('validation_error', 'invalid body parameter: phone', {
        phone: 'must be an E.164 number: digits with an optional leading +',
      });
    return this.deps.live.run('session.pairingCode', session.id, { phone: e164 }, requestId);
  }

  /**
   * Where pairing stands, for a page that follows it: the session as shown and, while it is
   * unpaired, its current QR payload (none yet while its worker connects). Unlike currentQr it
   * never waits; being asked still keeps the session connected for another pairing window.
   */
  async pairingState(
    scope: OrganizationScope,
    sessionId: string,
  ): Promise<{ session: SessionView; qr: string | undefined }> {
    await this.deps.access.require(scope, sessionId);
    const session = await this.viewOf(sessionId);
    if (!isUnpaired(session)) return { session, qr: undefined };
    await this.wantPairing(sessionId);
    const qr = (await this.deps.redis.get(this.deps.keys.qr(sessionId)).catch(() => null)) ?? undefined;
    // A session let go after its pairing window comes back when its worker hears of it.
    if (!qr) await this.announce(sessionId);
    return { session, qr };
  }

  private async viewOf(sessionId: string): Promise<SessionView> {
    const view = await this.deps.views.one(sessionId);
    if (!view) throw new AppError('not_found', 'session not found');
    return view;
  }

  /** Tells the workers a session appeared or went away, so its owner acts now rather than at the next reconcile. */
  private announce(sessionId: string): Promise<unknown> {
    return publish(this.deps.redis, this.deps.keys.control(), sessionChangedMessage(sessionId)).catch(() => undefined);
  }

  /** Someone is pairing this session now: its worker keeps (or takes back) its connection for another window. */
  private wantPairing(sessionId: string): Promise<unknown> {
    return this.deps.redis
      .set(this.deps.keys.pairingWanted(sessionId), '1', 'PX', this.deps.pairingWindowMs)
      .catch(() => undefined);
  }

  /** Whether some worker holds the session's shard (so a QR code or pairing code can come); true when Redis cannot tell. */
  private async workerHolds(sessionId: string): Promise<boolean> {
    return (
      (await this.deps.redis.exists(this.deps.keys.lease(shardOf(sessionId, this.deps.shardCount))).catch(() => 1)) ===
      1
    );
  }

  private async requireUnpaired(sessionId: string): Promise<void> {
    const view = await this.viewOf(sessionId);
    if (view.status === 'logged_out')
      throw new AppError('conflict', 'session is logged out; create a new session to pair again', {
        status: view.status,
      });
    if (!isUnpaired(view)) throw new AppError('conflict', 'session is already paired', { status: view.status });
  }

  /** The session's current QR code, waiting a few seconds for its worker to show one; undefined if none came. */
  private async waitForQr(sessionId: string): Promise<string | undefined> {
    const key = this.deps.keys.qr(sessionId);
    let qr = await this.deps.redis.get(key);
    if (qr) return qr;
    await this.announce(sessionId);
    const deadline = Date.now() + QR_WAIT_MS;
    while (!qr && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      qr = await this.deps.redis.get(key);
    }
    return qr ?? undefined;
  }
}

/** Waiting for a QR scan or pairing code: never paired, and not logged out. */
export function isUnpaired(view: SessionView): boolean {
  return view.status !== 'logged_out' && view.status !== 'online' && view.phoneJid === null;
}
