/**
 * Item 9 of the driver issue: a session says why it is in its status, since when, and when its
 * worker tries next. The session manager runs in this process over a driver the test drives; the
 * api is the run's real api process, reading what the manager recorded.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { RedisKeys } from '../shared/redis-keys.js';
import { shardOf } from '../shared/shards.js';
import { AppError } from '../shared/errors.js';
import type {
  ConnectionUpdate,
  WhatsAppConnection,
  WhatsAppDriver,
  WhatsAppEventMap,
} from '../worker/driver/driver.js';
import type { SessionDataSink } from '../worker/sessions/session-data-sink.js';
import { SessionManager } from '../worker/sessions/session-manager.js';
import { newTenant, type Tenant } from './support/fixtures.js';
import { testEnv } from './support/hooks.js';
import { call, get } from './support/http.js';
import { waitFor } from './support/processes.js';

const silent = pino({ level: 'silent' });
const SHARDS = 16;
/** The lease the test's session manager acts under: it holds the shard as a worker would. */
const LEASE = '1:status-test';

/** A connection whose status updates the test emits, as a driver would. */
class DrivenConnection implements WhatsAppConnection {
  readonly events = new EventEmitter<WhatsAppEventMap>();
  constructor(readonly sessionId: string) {}
  report(update: ConnectionUpdate): void {
    this.events.emit('connection', update);
  }
  private offline(): never {
    throw new AppError('not_implemented', 'driven by the test');
  }
  async onWhatsApp(): Promise<never> {
    return this.offline();
  }
  async fetchAbout(): Promise<never> {
    return this.offline();
  }
  async profilePicture(): Promise<never> {
    return this.offline();
  }
  async updateBlock(): Promise<never> {
    return this.offline();
  }
  async requestPairingCode(): Promise<never> {
    return this.offline();
  }
  async fetchAllGroups(): Promise<Record<string, unknown>> {
    return {};
  }
  async logout(): Promise<void> {}
  async close(): Promise<void> {}
}

class DrivenDriver implements WhatsAppDriver {
  readonly kind = 'sim' as const;
  readonly connections = new Map<string, DrivenConnection>();
  async connect(sessionId: string): Promise<WhatsAppConnection> {
    const connection = new DrivenConnection(sessionId);
    this.connections.set(sessionId, connection);
    return connection;
  }
}

const sink: SessionDataSink = {
  attach: () => ({ detach: () => undefined, drain: async () => undefined }),
  ingestGroups: async () => undefined,
  setOwnAccount: () => undefined,
};

interface Row {
  status: string;
  status_reason: string | null;
  status_since: string | number | null;
  next_retry_at: string | number | null;
}

async function row(sessionId: string): Promise<Row> {
  return (
    (await testEnv.db.query('SELECT status, status_reason, status_since, next_retry_at FROM wa_sessions WHERE id = ?', [
      sessionId,
    ])) as Row[]
  )[0]!;
}

describe('session status with its reason, start and next retry (item 9)', function () {
  this.timeout(60_000);
  const keys = () => new RedisKeys(testEnv.redisPrefix, SHARDS);
  let t: Tenant;
  let driver: DrivenDriver;
  let manager: SessionManager;

  /** Runs a session manager owning the tenant session's shard, and returns the session's driven connection. */
  async function owned(options: { pairingWindowMs?: number } = {}): Promise<DrivenConnection> {
    t = await newTenant();
    driver = new DrivenDriver();
    manager = new SessionManager(
      driver,
      testEnv.db,
      testEnv.redis,
      keys(),
      sink,
      {
        shardCount: SHARDS,
        presenceTtlMs: 15_000,
        workerId: 'status-test',
        pairingWindowMs: options.pairingWindowMs ?? 600_000,
        reconcileIntervalMs: 3_600_000,
        leaseOf: () => LEASE,
      },
      silent,
    );
    await testEnv.redis.set(keys().lease(shardOf(t.sessionId, SHARDS)), LEASE, 'PX', 60_000);
    await manager.startShard(shardOf(t.sessionId, SHARDS));
    return waitFor(async () => driver.connections.get(t.sessionId), 'the manager to connect the session');
  }

  /** Reports an update and waits until MySQL holds its status and reason. */
  async function reported(connection: DrivenConnection, update: ConnectionUpdate): Promise<Row> {
    connection.report(update);
    return waitFor(async () => {
      const r = await row(t.sessionId);
      return (
        r.status === update.status &&
        r.status_reason === (update.reason ?? null) &&
        Number(r.next_retry_at ?? 0) === (update.retryAt ?? 0) &&
        r
      );
    }, `status ${update.status} to be recorded`);
  }

  afterEach(async () => {
    await manager?.stop();
    if (t) await testEnv.redis.del(keys().lease(shardOf(t.sessionId, SHARDS)));
  });

  it('shows a new session pairing since its creation, with nothing to retry', async () => {
    t = await newTenant();
    const res = await get(`/api/v1/sessions/${t.sessionId}`, t.tokens.read);
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'pairing');
    assert.equal(res.body.statusReason, null);
    assert.equal(res.body.statusSince, res.body.createdAt);
    assert.equal(res.body.nextRetryAt, null);
  });

  it('marks a session online only under the lease its worker holds: after another grant of the shard, never', async () => {
    const connection = await owned();
    const lease = keys().lease(shardOf(t.sessionId, SHARDS));
    await testEnv.redis.set(lease, '2:another-worker', 'PX', 30_000);
    await reported(connection, { status: 'online', phoneJid: '4915111111111@s.whatsapp.net' });
    assert.equal(
      await testEnv.redis.exists(keys().presence(t.sessionId)),
      0,
      'a worker whose lease was granted again must not mark the session online',
    );
    await testEnv.redis.set(lease, LEASE, 'PX', 30_000);
    connection.report({ status: 'connecting' });
    await reported(connection, { status: 'online', phoneJid: '4915111111111@s.whatsapp.net' });
    await waitFor(
      async () => (await testEnv.redis.get(keys().presence(t.sessionId))) === 'status-test',
      'the presence key under the held lease',
    );
  });

  it('records every status with its reason and next retry; statusSince moves only when the status changes', async () => {
    const connection = await owned();
    await reported(connection, {
      status: 'pairing',
      qr: '2@abc',
      reason: 'waiting for the phone: scan the QR code or enter a pairing code',
    });
    const before = Date.now();
    const firstTry = before + 11_000;
    await reported(connection, { status: 'offline', reason: 'timedOut (408)', retryAt: firstTry });
    const view = (await get(`/api/v1/sessions/${t.sessionId}`, t.tokens.read)).body;
    assert.equal(view.status, 'offline');
    assert.equal(view.statusReason, 'timedOut (408)');
    assert.equal(view.nextRetryAt, firstTry);
    assert.ok(view.statusSince >= before, 'since it went offline');

    // A later attempt fails the same way: still offline since then, with a new next try.
    const secondTry = Date.now() + 23_000;
    await reported(connection, {
      status: 'offline',
      reason: 'connectTimeout: no QR code and no login within 60 s',
      retryAt: secondTry,
    });
    const again = (await get(`/api/v1/sessions/${t.sessionId}`, t.tokens.read)).body;
    assert.equal(again.statusSince, view.statusSince);
    assert.equal(again.statusReason, 'connectTimeout: no QR code and no login within 60 s');
    assert.equal(again.nextRetryAt, secondTry);

    await reported(connection, { status: 'connecting', reason: 'reconnecting (attempt 2) after timedOut (408)' });
    await reported(connection, { status: 'online', phoneJid: '4915111111111@s.whatsapp.net' });
    const online = (await get(`/api/v1/sessions/${t.sessionId}`, t.tokens.read)).body;
    assert.equal(online.status, 'online');
    assert.equal(online.statusReason, null);
    assert.equal(online.nextRetryAt, null);
    assert.ok(online.statusSince > again.statusSince);
  });

  it('keeps the QR code in Redis only while the socket that showed it waits', async () => {
    const connection = await owned();
    await reported(connection, {
      status: 'pairing',
      qr: '2@abc',
      reason: 'waiting for the phone: scan the QR code or enter a pairing code',
    });
    assert.equal(await testEnv.redis.get(keys().qr(t.sessionId)), '2@abc');
    await reported(connection, { status: 'offline', reason: 'timedOut (408)', retryAt: Date.now() + 5_000 });
    // Leaving, MySQL is written first and the QR code dropped right after.
    await waitFor(
      async () => (await testEnv.redis.get(keys().qr(t.sessionId))) === null,
      'the QR code to be dropped',
      5_000,
    );
  });

  it('answers a pairing code with 503 and Retry-After, not a dead code, while the worker holds the session but its socket shows no QR', async () => {
    const connection = await owned();
    // The socket showed a QR code, then closed; its successor is still connecting.
    await reported(connection, {
      status: 'pairing',
      qr: '2@stale',
      reason: 'waiting for the phone: scan the QR code or enter a pairing code',
    });
    await reported(connection, { status: 'connecting', reason: 'reconnecting (attempt 1) after timedOut (408)' });
    const lease = keys().lease(shardOf(t.sessionId, SHARDS));
    await testEnv.redis.set(lease, LEASE, 'PX', 30_000);
    try {
      const res = await call('POST', `/api/v1/sessions/${t.sessionId}/pairing-code`, {
        token: t.tokens.manage,
        body: { phone: '+4915111111111' },
      });
      assert.equal(res.status, 503);
      assert.equal(res.body.error.code, 'unavailable');
      assert.equal(res.headers.get('retry-after'), '2');
    } finally {
      await testEnv.redis.del(lease);
    }
  });

  it('says why an unpaired session nobody is pairing was disconnected', async () => {
    const connection = await owned({ pairingWindowMs: 1 });
    await reported(connection, {
      status: 'pairing',
      qr: '2@abc',
      reason: 'waiting for the phone: scan the QR code or enter a pairing code',
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    await manager.reconcile(t.sessionId);
    const parked = await waitFor(async () => {
      const r = await row(t.sessionId);
      return r.status_reason?.startsWith('nobody asked') && r;
    }, 'the parked reason');
    assert.equal(parked.status, 'pairing');
    assert.equal(
      parked.status_reason,
      'nobody asked for a QR or pairing code for 1 ms: disconnected until the next request',
    );
  });
});
