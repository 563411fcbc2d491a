import { getMany, type RedisClient } from '../../shared/redis.js';
import type { DataSource } from 'typeorm';
import { durationText } from '../../shared/duration-text.js';
import type { Logger } from '../../shared/logger.js';
import type { RedisKeys } from '../../shared/redis-keys.js';
import { shardOf } from '../../shared/shards.js';
import type { ConnectionUpdate, WhatsAppConnection, WhatsAppDriver } from '../driver/driver.js';
import type { SessionDataSink } from './session-data-sink.js';
import { NO_SESSION_EVENTS, type SessionEvents } from './session-events.js';
import { within } from '../../shared/within.js';
import type { SessionStatus } from '../../shared/db/entities/wa-session.js';

/** Width of wa_sessions.status_reason. */
const STATUS_REASON_CHARS = 255;

interface RunningSession {
  sessionId: string;
  shard: number;
  connection: WhatsAppConnection | undefined;
  status: ConnectionUpdate['status'];
  detachSink: (() => void) | undefined;
  drainSink: (() => Promise<void>) | undefined;
  closing: boolean;
  /** When the session began showing QR codes without ever having been online in this connection. */
  pairingSince: number | undefined;
  /** Status updates are mirrored to Redis and MySQL one after another, so a late write never overtakes a newer one. */
  mirrored: Promise<void>;
}

export interface SessionManagerOptions {
  shardCount: number;
  presenceTtlMs: number;
  workerId: string;
  /** An unpaired session that has shown QR codes this long with nobody asking for them is let go. */
  pairingWindowMs: number;
  /** How often every session of the owned shards is read back (announced changes are acted on at once). */
  reconcileIntervalMs: number;
  /** The lease this worker holds the shard under (worker/shards), or nothing once it may have lost it. */
  leaseOf: (shard: number) => string | undefined;
}

/** How long a hand-over may wait for Redis before the session's connection is closed regardless. */
const HAND_OVER_WAIT_MS = 250;

/** Presence is written only under the shard's current lease: an owner that lost it cannot mark sessions online. */
const SET_PRESENCE = `if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
for i = 2, #KEYS do redis.call('set', KEYS[i], ARGV[2], 'PX', ARGV[3]) end
return 1`;
/** Only our own presence is removed: the shard's next owner may have written its own already. */
const DROP_PRESENCE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
/** The session is on its way to the shard's next owner: our presence, if still there, becomes the hand-over mark. */
const HAND_OVER = `if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]) end
redis.call('set', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 1`;
/**
 * Taking up a session, any presence left for it (by a worker that died or was fenced before it
 * could drop it, this worker id's earlier run included) becomes the hand-over mark: the session is
 * not online until this worker connects it, but it is coming back.
 */
const TAKE_OVER = `local holder = redis.call('get', KEYS[1])
if not holder then return 0 end
redis.call('del', KEYS[1])
redis.call('set', KEYS[2], holder, 'PX', ARGV[1])
return 1`;

/**
 * Keeps the WhatsApp connections of the shards this worker owns: connects their sessions, mirrors
 * each connection's status into MySQL and the Redis presence key, feeds their data to ingestion.
 */
export class SessionManager {
  private readonly sessions = new Map<string, RunningSession>();
  /** Unpaired sessions let go after their pairing window: connected again when pairing is asked for. */
  private readonly parked = new Map<string, number>();
  private readonly ownedShards = new Set<number>();
  private presenceTimer: NodeJS.Timeout | undefined;
  /** The presence refresh under way: a hand-over waits for it, or it could rewrite a presence the mark replaced. */
  private presenceRefresh: Promise<void> = Promise.resolve();
  private reconcileTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly driver: WhatsAppDriver,
    private readonly db: DataSource,
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly sink: SessionDataSink,
    private readonly options: SessionManagerOptions,
    private readonly logger: Logger,
    private readonly events: SessionEvents = NO_SESSION_EVENTS,
  ) {}

  start(): void {
    this.presenceTimer = setInterval(
      () => {
        this.presenceRefresh = this.refreshPresence();
      },
      Math.max(200, Math.floor(this.options.presenceTtlMs / 3)),
    );
    this.reconcileTimer = setInterval(() => void this.reconcile(), this.options.reconcileIntervalMs);
  }

  async stop(): Promise<void> {
    if (this.presenceTimer) clearInterval(this.presenceTimer);
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    await Promise.all([...this.ownedShards].map((shard) => this.stopShard(shard)));
  }

  get onlineCount(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.status === 'online') n++;
    return n;
  }

  get count(): number {
    return this.sessions.size;
  }

  /** The connection of a session this worker holds: only when online, or (`held`) in any state but closing. */
  connectionOf(sessionId: string, requires: 'online' | 'held'): WhatsAppConnection | undefined {
    const running = this.sessions.get(sessionId);
    if (!running || running.closing) return undefined;
    return requires === 'held' || running.status === 'online' ? running.connection : undefined;
  }

  async startShard(shard: number): Promise<void> {
    this.ownedShards.add(shard);
    await this.reconcileShards([shard]);
  }

  async stopShard(shard: number): Promise<void> {
    this.ownedShards.delete(shard);
    for (const [id, parkedShard] of this.parked) if (parkedShard === shard) this.parked.delete(id);
    const closing = [...this.sessions.values()]
      .filter((s) => s.shard === shard)
      .map((s) => this.disconnect(s, 'handing over'));
    await Promise.all(closing);
  }

  /**
   * Connects sessions created since, and drops sessions deleted since, on the owned shards. Given a
   * session (one the api announced as changed), looks at that one alone: an announcement then costs
   * one primary-key read rather than a read of every session.
   */
  async reconcile(sessionId?: string): Promise<void> {
    const shards = sessionId === undefined ? [...this.ownedShards] : [shardOf(sessionId, this.options.shardCount)];
    await this.reconcileShards(shards, sessionId).catch((err: Error) =>
      this.logger.warn({ err: err.message }, 'reconcile failed'),
    );
  }

  private async reconcileShards(shards: number[], only?: string): Promise<void> {
    const scope = new Set(shards.filter((s) => this.ownedShards.has(s)));
    if (scope.size === 0) return;
    const inReach = (id: string, shard: number) => scope.has(shard) && (only === undefined || id === only);
    const rows =
      only === undefined
        ? await this.db.query<{ id: string }[]>(`SELECT id FROM wa_sessions WHERE status <> 'logged_out'`)
        : await this.db.query<{ id: string }[]>(`SELECT id FROM wa_sessions WHERE id = ? AND status <> 'logged_out'`, [
            only,
          ]);
    const wanted = new Map<string, number>();
    for (const { id } of rows) {
      const shard = shardOf(id, this.options.shardCount);
      if (inReach(id, shard)) wanted.set(id, shard);
    }
    for (const [id, shard] of this.parked) if (inReach(id, shard) && !wanted.has(id)) this.parked.delete(id);
    await this.reviewPairing(inReach);
    for (const [id, shard] of wanted) if (!this.sessions.has(id) && !this.parked.has(id)) void this.connect(id, shard);
    for (const running of this.sessions.values()) {
      if (inReach(running.sessionId, running.shard) && !wanted.has(running.sessionId) && !running.closing)
        void this.disconnect(running);
    }
  }

  /**
   * Lets go of unpaired sessions that have shown QR codes for a whole pairing window while nobody
   * asked for one (WhatsApp would otherwise be asked for new codes forever), and takes parked ones
   * back once someone does. Without an answer from Redis nothing changes.
   */
  private async reviewPairing(inReach: (sessionId: string, shard: number) => boolean): Promise<void> {
    const now = Date.now();
    const expired = [...this.sessions.values()].filter(
      (s) =>
        inReach(s.sessionId, s.shard) &&
        !s.closing &&
        s.pairingSince !== undefined &&
        now - s.pairingSince >= this.options.pairingWindowMs,
    );
    const parked = [...this.parked].filter(([id, shard]) => inReach(id, shard)).map(([id]) => id);
    const ids = [...expired.map((s) => s.sessionId), ...parked];
    if (ids.length === 0) return;
    let wanted: (string | null)[];
    try {
      wanted = await getMany(
        this.redis,
        ids.map((id) => this.keys.pairingWanted(id)),
      );
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'could not read pairing requests');
      return;
    }
    expired.forEach((running, i) => {
      if (wanted[i] !== null) running.pairingSince = now;
      else void this.park(running);
    });
    parked.forEach((id, i) => {
      if (wanted[expired.length + i] !== null) this.parked.delete(id);
    });
  }

  private async park(running: RunningSession): Promise<void> {
    this.logger.info(
      { sessionId: running.sessionId, windowMs: this.options.pairingWindowMs },
      'nobody is pairing this session: closing its connection until a QR or pairing code is asked for',
    );
    this.parked.set(running.sessionId, running.shard);
    await this.disconnect(running);
    await this.redis.del(this.keys.qr(running.sessionId)).catch(() => undefined);
    const reason = `nobody asked for a QR or pairing code for ${durationText(this.options.pairingWindowMs)}: disconnected until the next request`;
    await this.recordStatus(running.sessionId, { status: 'pairing', reason }).catch((err: Error) =>
      this.logger.warn({ sessionId: running.sessionId, err: err.message }, 'could not record session status'),
    );
  }

  private async connect(sessionId: string, shard: number): Promise<void> {
    const running: RunningSession = {
      sessionId,
      shard,
      connection: undefined,
      status: 'connecting',
      detachSink: undefined,
      drainSink: undefined,
      closing: false,
      pairingSince: undefined,
      mirrored: Promise.resolve(),
    };
    this.sessions.set(sessionId, running);
    try {
      await this.takeOver(sessionId).catch((err: Error) =>
        this.logger.warn({ sessionId, err: err.message }, "could not take over the previous worker's presence"),
      );
      const connection = await this.driver.connect(sessionId);
      running.connection = connection;
      const attached = this.sink.attach(sessionId, connection.events);
      running.detachSink = attached.detach;
      running.drainSink = attached.drain;
      connection.events.on('connection', (update: ConnectionUpdate) => this.onConnectionUpdate(running, update));
      if (running.closing || !this.ownedShards.has(shard)) await connection.close();
    } catch (err) {
      this.logger.error({ sessionId, err }, 'could not start session connection');
      this.sessions.delete(sessionId);
    }
  }

  private onConnectionUpdate(running: RunningSession, update: ConnectionUpdate): void {
    const previous = running.status;
    running.status = update.status;
    if (update.status === 'online' || update.status === 'logged_out') running.pairingSince = undefined;
    else if (update.status === 'pairing') running.pairingSince ??= Date.now();
    // Synchronously, before the history sync that follows 'online' reaches ingestion.
    if (update.phoneJid || update.lid) {
      this.sink.setOwnAccount(running.sessionId, {
        ...(update.lid ? { lid: update.lid } : {}),
        ...(update.phoneJid ? { pn: update.phoneJid } : {}),
      });
    }
    running.mirrored = running.mirrored.then(() => this.mirrorStatus(running, update, previous));
  }

  private async mirrorStatus(
    running: RunningSession,
    update: ConnectionUpdate,
    previous: ConnectionUpdate['status'],
  ): Promise<void> {
    const { sessionId } = running;
    const log = this.logger.child({ sessionId });
    log.info(
      {
        status: update.status,
        reason: update.reason,
        ...(update.retryAt ? { retryInMs: update.retryAt - Date.now() } : {}),
      },
      'session status',
    );
    const record = async () => {
      if (running.closing) return;
      await this.recordStatus(sessionId, update).catch((err: Error) =>
        log.warn({ err: err.message }, 'could not record session status'),
      );
    };
    // The api shows what the presence key says about `online` and MySQL for the rest. Coming online
    // (or showing a QR code) Redis goes first, so the session is usable the moment it is shown;
    // leaving, MySQL goes first, so the status is never shown without the reason that came with it.
    const redisFirst = update.status === 'online' || update.status === 'pairing';
    if (!redisFirst) await record();
    // The view shows `online` from the presence key alone: the account it is online as must be there by then.
    else if (!running.closing && (update.phoneJid || update.lid)) {
      await this.recordIdentity(sessionId, update).catch((err: Error) =>
        log.warn({ err: err.message }, 'could not record the session identity'),
      );
    }
    try {
      if (update.status === 'online' && !running.closing) {
        await this.markPresent(running.shard, [sessionId]);
      } else {
        await this.dropPresence(sessionId);
        // Logged out, or waiting to be paired: not coming back by itself in a moment.
        if (update.status === 'logged_out' || update.status === 'pairing')
          await this.redis.del(this.keys.handover(sessionId));
      }
      // Only the socket showing it can take a registration: a QR left from a closed socket would let
      // the api hand out a dead code, or wait for a pairing code on a socket that cannot give one.
      if (update.qr) await this.redis.set(this.keys.qr(sessionId), update.qr, 'PX', 60_000);
      else if (update.status !== 'pairing') await this.redis.del(this.keys.qr(sessionId));
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not update presence');
    }
    if (running.closing) return;
    if (update.qr)
      await this.events
        .qrShown(sessionId, update.qr)
        .catch((err: Error) => log.warn({ err: err.message }, 'could not record the QR event'));
    if (redisFirst) await record();
    if (update.status === 'online' && previous !== 'online' && running.connection) {
      const connection = running.connection;
      void connection
        .fetchAllGroups()
        .then((groups) => this.sink.ingestGroups(sessionId, groups))
        .catch((err: Error) => log.warn({ err: err.message }, 'group sync failed'));
    }
    if (update.status === 'logged_out') {
      this.sessions.delete(sessionId);
      running.detachSink?.();
    }
  }

  private async recordIdentity(sessionId: string, update: ConnectionUpdate): Promise<void> {
    await this.db.query(
      `UPDATE wa_sessions SET phone_jid = COALESCE(?, phone_jid), lid = COALESCE(?, lid) WHERE id = ? AND status <> 'logged_out'`,
      [update.phoneJid ?? null, update.lid ?? null, sessionId],
    );
  }

  /**
   * Writes the status with its reason and next retry (both cleared when the update has none);
   * `status_since` moves only when the status changes, so an offline session retrying keeps the
   * time it went offline. (MySQL assigns left to right: status_since reads the old status.)
   */
  private async recordStatus(sessionId: string, update: ConnectionUpdate): Promise<void> {
    const now = Date.now();
    await this.db.transaction(async (tx) => {
      const [stored] = await tx.query<{ status: SessionStatus }[]>(
        `SELECT status FROM wa_sessions WHERE id = ? FOR UPDATE`,
        [sessionId],
      );
      await tx.query(
        `UPDATE wa_sessions SET status_since = IF(status = ? AND status_since IS NOT NULL, status_since, ?),
                status = ?, status_reason = ?, next_retry_at = ?, updated_at = ?,
                phone_jid = COALESCE(?, phone_jid), lid = COALESCE(?, lid),
                last_connected_at = IF(? = 'online', ?, last_connected_at)
          WHERE id = ? AND status <> 'logged_out'`,
        [
          update.status,
          now,
          update.status,
          update.reason?.slice(0, STATUS_REASON_CHARS) ?? null,
          update.retryAt ?? null,
          now,
          update.phoneJid ?? null,
          update.lid ?? null,
          update.status,
          now,
          sessionId,
        ],
      );
      if (stored && stored.status !== 'logged_out' && stored.status !== update.status) {
        await this.events.statusChanged((sql, params) => tx.query(sql, params), sessionId, {
          status: update.status,
          previousStatus: stored.status,
          reason: update.reason ?? null,
        });
      }
    });
  }

  /** Closes the session's connection; `handing over`: the shard goes to another worker, which reconnects it. */
  private async disconnect(running: RunningSession, why?: 'handing over'): Promise<void> {
    if (running.closing) return;
    running.closing = true;
    // Read before closing: the close itself reports the connection gone.
    const wasOnline = running.status === 'online';
    const handingOver = why === 'handing over' && wasOnline;
    if (handingOver) {
      // Before the close: from here on a call hears 503 (moving), never 501, until the next owner
      // has it. Presence writes already under way (a refresh, or this session coming online) land
      // first: started before `closing`, they would put back the presence the mark replaces. Bounded:
      // a shard fenced because Redis is away must still close its sessions at once.
      const mark = Promise.all([this.presenceRefresh, running.mirrored]).then(() => this.handOver(running.sessionId));
      await within(mark, HAND_OVER_WAIT_MS).catch(() => undefined);
    }
    try {
      await running.connection?.close();
    } catch (err) {
      this.logger.warn({ sessionId: running.sessionId, err: (err as Error).message }, 'error closing connection');
    }
    running.detachSink?.();
    await running.drainSink?.().catch(() => undefined);
    await running.mirrored;
    if (!handingOver) await this.dropPresence(running.sessionId).catch(() => undefined);
    if (wasOnline) {
      await this.recordStatus(running.sessionId, {
        status: 'offline',
        reason: 'its worker released it (shutting down or handing the shard over); the next owner reconnects it',
      }).catch(() => undefined);
    }
    this.sessions.delete(running.sessionId);
  }

  private async refreshPresence(): Promise<void> {
    const online = [...this.sessions.values()].filter((s) => s.status === 'online' && !s.closing);
    if (online.length === 0) return;
    const byShard = new Map<number, string[]>();
    for (const s of online) byShard.set(s.shard, [...(byShard.get(s.shard) ?? []), s.sessionId]);
    await Promise.all([...byShard].map(([shard, ids]) => this.markPresent(shard, ids))).catch((err: Error) =>
      this.logger.warn({ err: err.message }, 'presence refresh failed'),
    );
  }

  /** One script per shard: the lease and its sessions' presence keys share the shard's slot. */
  private async markPresent(shard: number, sessionIds: string[]): Promise<void> {
    const lease = this.options.leaseOf(shard);
    const written =
      lease === undefined
        ? 0
        : await this.redis.eval(
            SET_PRESENCE,
            1 + sessionIds.length,
            this.keys.lease(shard),
            ...sessionIds.map((id) => this.keys.presence(id)),
            lease,
            this.options.workerId,
            this.options.presenceTtlMs,
          );
    if (written !== 1)
      this.logger.warn({ shard }, 'not marking sessions online: this worker no longer holds the shard lease');
  }

  private async dropPresence(sessionId: string): Promise<void> {
    await this.redis.eval(DROP_PRESENCE, 1, this.keys.presence(sessionId), this.options.workerId);
  }

  private async handOver(sessionId: string): Promise<void> {
    await this.redis.eval(
      HAND_OVER,
      2,
      this.keys.presence(sessionId),
      this.keys.handover(sessionId),
      this.options.workerId,
      this.options.presenceTtlMs,
    );
  }

  private async takeOver(sessionId: string): Promise<void> {
    await this.redis.eval(
      TAKE_OVER,
      2,
      this.keys.presence(sessionId),
      this.keys.handover(sessionId),
      this.options.presenceTtlMs,
    );
  }
}
