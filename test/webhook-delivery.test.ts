import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import type { NewEvent, WebhookEventType } from '../shared/webhooks/events.js';
import { writeEvents } from '../shared/webhooks/outbox.js';
import { simControl } from '../worker/driver/sim/control.js';
import { assertError } from './support/assert-error.js';
import { newTenant, type Tenant } from './support/fixtures.js';
import { testEnv } from './support/hooks.js';
import { call, get } from './support/http.js';
import { waitFor, type GatewayProcess } from './support/processes.js';
import { newPhone, waitUntilOnline, writeSimWorld } from './support/sim-world.js';
import type { RunningApi } from './support/test-env.js';
import { WebhookReceiver, type ReceivedHook } from './support/webhook-receiver.js';

const uniq = () => Math.random().toString(36).slice(2, 10);
const ALL_TYPES: WebhookEventType[] = [
  'session.status',
  'session.qr',
  'check_batch.progress',
  'check_batch.completed',
  'check_batch.failed',
  'check_batch.cancelled',
  'contacts.changed',
];
const IN_FLIGHT = 4;

/** Settings every webhook worker of this file shares: the local receiver is http on 127.0.0.1, retries are quick. */
const WORKER_ENV = {
  WEBHOOK_ALLOW_HTTP: 'true',
  WEBHOOK_ALLOW_PRIVATE: 'true',
  WEBHOOK_RETRY_BASE_MS: '100',
  WEBHOOK_RELAY_INTERVAL_MS: '50',
  WEBHOOK_PROGRESS_INTERVAL_MS: '100',
  WEBHOOK_ENDPOINT_IN_FLIGHT: String(IN_FLIGHT),
  WEBHOOK_TIMEOUT_MS: '20000',
  BATCH_RATE_PER_MINUTE: '0',
  BATCH_CHUNK_SIZE: '10',
  BATCH_SESSION_POLL_MS: '200',
  BATCH_BACKOFF_MS: '50',
  BATCH_MAX_FAILURES: '1',
};

let permissive: RunningApi;

async function createEndpoint(
  t: Tenant,
  url: string,
  events: WebhookEventType[],
): Promise<{ id: string; secret: string }> {
  const res = await call('POST', '/api/v1/webhooks', {
    token: t.tokens.manage,
    body: { url, events },
    baseUrl: permissive.baseUrl,
  });
  assert.equal(res.status, 201, res.text);
  return res.body;
}

/** A session no worker connects (logged out), to write events for directly. */
async function quietSession(t: Tenant): Promise<string> {
  const session = await testEnv.admin.createSession(t.organizationId, 'burst');
  await testEnv.db.query(`UPDATE wa_sessions SET status = 'logged_out' WHERE id = ?`, [session.id]);
  return session.id;
}

/** Writes `count` events through the outbox, as producers do (several per transaction); returns their ids in order. */
async function burst(
  sessionId: string,
  count: number,
  make: (i: number) => NewEvent,
  perTransaction = 25,
): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += perTransaction) {
    const events = Array.from({ length: Math.min(perTransaction, count - start) }, (_, i) => make(start + i));
    const written = await testEnv.db.transaction((tx) =>
      writeEvents((sql, params) => tx.query(sql, params), sessionId, events),
    );
    ids.push(...written.map((e) => e.id));
  }
  return ids;
}

const contactEvent = (i: number): NewEvent => ({
  type: 'contacts.changed',
  data: { contacts: [{ lid: `${1000 + i}@lid`, phoneNumber: null, name: `n${i}`, changes: ['new'] }] },
});
const statusEvent = (i: number): NewEvent => ({
  type: 'session.status',
  data: { status: i % 2 ? 'online' : 'offline', previousStatus: i % 2 ? 'offline' : 'online', reason: `step ${i}` },
});

function verified(hook: ReceivedHook, secret: string): any {
  return new Webhook(secret).verify(hook.body, hook.headers as Record<string, string>);
}

/** The first wait after a worker starts includes its boot, slow on a loaded machine. */
const WORKER_BOOT_MS = 60_000;

async function waitForAcks(
  receiver: WebhookReceiver,
  ids: string[],
  what: string,
  timeoutMs = WORKER_BOOT_MS,
): Promise<void> {
  await waitFor(async () => ids.every((id) => receiver.acknowledged().has(id)), what, timeoutMs, 100);
}

describe('webhook delivery (real worker, local receiver)', function () {
  this.timeout(120_000);

  before(async () => {
    permissive = await testEnv.startApi(
      { WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE: 'true' },
      'api-webhook-delivery',
    );
  });

  after(async () => {
    await permissive?.process.stop();
  });

  describe('events of every type', () => {
    const receiver = new WebhookReceiver();
    let worker: GatewayProcess;
    let t: Tenant;
    let endpoint: { id: string; secret: string };
    let pairing: string;
    let failing: string;
    const accounts = Array.from({ length: 3 }, (_, i) => ({
      phone: newPhone(),
      lid: `77${Date.now() % 1e9}${i}@lid`,
      name: `Friend ${i}`,
    }));

    before(async () => {
      await receiver.start();
      t = await newTenant({ sessionId: `sess_whk_${uniq()}` });
      pairing = (await testEnv.admin.createSession(t.organizationId, 'pairing', `sess_whp_${uniq()}`)).id;
      failing = (await testEnv.admin.createSession(t.organizationId, 'failing', `sess_whf_${uniq()}`)).id;
      const [pairingPhone, failingPhone] = [newPhone(), newPhone()];
      const world = writeSimWorld(`webhooks-${uniq()}`, {
        pairing: { qrIntervalMs: 300 },
        accounts: [
          ...accounts,
          { phone: pairingPhone, lid: `88${Date.now() % 1e9}1@lid`, name: 'Me' },
          { phone: failingPhone, lid: `88${Date.now() % 1e9}2@lid`, name: 'Broken' },
        ],
        sessions: {
          [pairing]: {
            phone: pairingPhone,
            paired: false,
            contacts: accounts.map((a) => a.phone),
            chats: accounts.map((a) => a.lid),
          },
          [failing]: { phone: failingPhone, failureRate: 1, failureCode: 'internal' },
        },
      });
      endpoint = await createEndpoint(t, receiver.url, ALL_TYPES);
      worker = testEnv.startWorker(world, WORKER_ENV, `wh-${uniq()}`);
    });

    after(async () => {
      await worker?.stop();
      await receiver.stop();
    });

    const ofType = (type: WebhookEventType, sessionId?: string) =>
      [...receiver.acknowledged().values()]
        .map((hooks) => JSON.parse(hooks[0]!.body))
        .filter((e) => e.type === type && (sessionId === undefined || e.sessionId === sessionId));

    it('delivers session.qr and session.status while a session pairs, then contacts.changed from its history sync', async () => {
      await waitFor(async () => ofType('session.qr', pairing).length > 0, 'a session.qr event', WORKER_BOOT_MS);
      await simControl(testEnv.redis, testEnv.redisPrefix, { sessionId: pairing, action: 'pair' });
      await waitUntilOnline([pairing]);
      await waitFor(
        async () => ofType('session.status', pairing).some((e) => e.data.status === 'online'),
        'session.status online',
      );
      const qr = ofType('session.qr', pairing)[0]!;
      assert.equal(typeof qr.data.qr, 'string');
      assert.ok(qr.data.qr.length > 10);
      const changed = await waitFor(async () => {
        const lids = new Set(
          ofType('contacts.changed', pairing).flatMap((e) => e.data.contacts.map((c: { lid: string }) => c.lid)),
        );
        return accounts.every((a) => lids.has(a.lid)) ? ofType('contacts.changed', pairing) : undefined;
      }, 'contacts.changed naming every contact of the history sync');
      const friend = changed.flatMap((e) => e.data.contacts).find((c: { lid: string }) => c.lid === accounts[0]!.lid);
      assert.deepEqual(friend, {
        lid: accounts[0]!.lid,
        phoneNumber: accounts[0]!.phone,
        name: 'Friend 0',
        changes: ['new'],
      });
    });

    it('delivers check_batch.progress and check_batch.completed with counts and the results URL', async () => {
      const phones = [...accounts.map((a) => a.phone), ...Array.from({ length: 37 }, () => newPhone())];
      const created = await call('POST', `/api/v1/sessions/${pairing}/contacts/check-batch`, {
        token: t.tokens.read,
        body: { phones },
      });
      assert.equal(created.status, 202, created.text);
      const id = created.body.id;
      const completed = await waitFor(
        async () => ofType('check_batch.completed').find((e) => e.data.batchId === id),
        'check_batch.completed',
      );
      assert.deepEqual(completed.data.counts, { onWhatsApp: 3, notOnWhatsApp: 37, invalid: 0 });
      assert.deepEqual(completed.data.progress, { done: 40, total: 40 });
      assert.equal(completed.data.status, 'completed');
      assert.equal(completed.data.resultsUrl, `/api/v1/sessions/${pairing}/contacts/check-batch/${id}/results`);
      assert.equal((await get(completed.data.resultsUrl, t.tokens.read)).status, 200, 'the results URL answers');
      const progress = ofType('check_batch.progress').filter((e) => e.data.batchId === id);
      assert.ok(progress.length >= 1, 'at least one progress event');
      for (const p of progress) assert.ok(p.data.progress.done <= 40 && p.data.progress.total === 40);
    });

    it('delivers check_batch.cancelled (from the api) and check_batch.failed (from the worker)', async () => {
      const waiting = await call('POST', `/api/v1/sessions/${t.sessionId}/contacts/check-batch`, {
        token: t.tokens.read,
        body: { phones: [newPhone()] },
      });
      assert.equal(
        (
          await call('DELETE', `/api/v1/sessions/${t.sessionId}/contacts/check-batch/${waiting.body.id}`, {
            token: t.tokens.read,
          })
        ).status,
        204,
      );
      await waitUntilOnline([failing]);
      const broken = await call('POST', `/api/v1/sessions/${failing}/contacts/check-batch`, {
        token: t.tokens.read,
        body: { phones: [newPhone()] },
      });
      const cancelled = await waitFor(
        async () => ofType('check_batch.cancelled').find((e) => e.data.batchId === waiting.body.id),
        'check_batch.cancelled',
      );
      assert.equal(cancelled.data.status, 'cancelled');
      assert.equal(cancelled.sessionId, t.sessionId);
      const failed = await waitFor(
        async () => ofType('check_batch.failed').find((e) => e.data.batchId === broken.body.id),
        'check_batch.failed',
      );
      assert.equal(failed.data.status, 'failed');
      assert.equal(failed.data.error.code, 'internal');
    });

    it('delivers session.status logged_out with its reason when the phone unlinks the device', async () => {
      await simControl(testEnv.redis, testEnv.redisPrefix, { sessionId: pairing, action: 'logout' });
      const out = await waitFor(
        async () => ofType('session.status', pairing).find((e) => e.data.status === 'logged_out'),
        'session.status logged_out',
      );
      assert.equal(out.data.previousStatus, 'online');
      assert.equal(out.data.reason, 'logged_out');
    });

    it('signs every delivery as Standard Webhooks defines it, verifiable with the standardwebhooks package', () => {
      assert.ok(receiver.received.length >= 7);
      const types = new Set<string>();
      for (const hook of receiver.received) {
        const event = verified(hook, endpoint.secret);
        types.add(event.type);
        assert.equal(hook.headers['webhook-id'], event.id);
        assert.match(event.id, /^evt_[0-9A-Z]{26}$/);
        assert.equal(hook.headers['content-type'], 'application/json');
        assert.match(String(hook.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]+=*$/);
        assert.deepEqual(Object.keys(event).sort(), [
          'data',
          'id',
          'organizationId',
          'sequence',
          'sessionId',
          'timestamp',
          'type',
        ]);
        assert.equal(event.organizationId, t.organizationId);
        assert.throws(
          () => verified(hook, `whsec_${Buffer.alloc(32, 1).toString('base64')}`),
          /signature/i,
          'another secret does not verify',
        );
        assert.throws(
          () =>
            new Webhook(endpoint.secret).verify(
              hook.body.replace('"data"', '"data" '),
              hook.headers as Record<string, string>,
            ),
          'a changed body does not verify',
        );
      }
      assert.deepEqual([...types].sort(), [...ALL_TYPES].sort(), 'every event type arrived');
    });

    it("numbers each session's events 1, 2, 3… and delivers a session's statuses in order, each naming the one before", () => {
      const events = [...receiver.acknowledged().values()]
        .map((hooks) => JSON.parse(hooks[0]!.body))
        .filter((e) => e.sessionId === pairing);
      const sequences = events.map((e) => e.sequence).sort((a, b) => a - b);
      assert.deepEqual(
        sequences,
        Array.from({ length: sequences.length }, (_, i) => i + 1),
        'no gap, no repeat',
      );
      const statuses = receiver.received
        .map((h) => JSON.parse(h.body))
        .filter((e) => e.sessionId === pairing && e.type === 'session.status');
      for (let i = 1; i < statuses.length; i++) {
        assert.ok(statuses[i].sequence > statuses[i - 1].sequence, 'arrival order is sequence order');
        assert.equal(statuses[i].data.previousStatus, statuses[i - 1].data.status);
      }
      assert.deepEqual(
        statuses.map((e) => e.data.status),
        ['connecting', 'pairing', 'connecting', 'online', 'logged_out'].slice(
          statuses[0].data.status === 'connecting' ? 0 : 1,
        ),
      );
    });

    it('lists deliveries with their outcome, cursor-paged, and redelivers one with the same webhook-id', async () => {
      const page = await get(`/api/v1/webhooks/${endpoint.id}/deliveries?limit=2`, t.tokens.manage);
      assert.equal(page.status, 200, page.text);
      assert.equal(page.body.data.length, 2);
      const first = page.body.data[0];
      assert.deepEqual(Object.keys(first).sort(), [
        'attempts',
        'createdAt',
        'deliveredAt',
        'error',
        'eventId',
        'eventType',
        'lastAttemptAt',
        'latencyMs',
        'nextAttemptAt',
        'responseStatus',
        'sessionId',
        'status',
      ]);
      const next = await get(
        `/api/v1/webhooks/${endpoint.id}/deliveries?limit=2&cursor=${encodeURIComponent(page.body.nextCursor)}`,
        t.tokens.manage,
      );
      assert.ok(
        next.body.data.every((d: { createdAt: number }) => d.createdAt <= page.body.data[1].createdAt),
        'newest first',
      );
      assert.ok(
        !next.body.data.some((d: { eventId: string }) =>
          page.body.data.some((p: { eventId: string }) => p.eventId === d.eventId),
        ),
        'no repeat across pages',
      );
      const succeeded = await get(
        `/api/v1/webhooks/${endpoint.id}/deliveries?status=succeeded&limit=200`,
        t.tokens.manage,
      );
      const delivered = succeeded.body.data[0];
      assert.deepEqual(
        [delivered.status, delivered.responseStatus, delivered.attempts, delivered.nextAttemptAt, delivered.error],
        ['succeeded', 200, 1, null, null],
      );
      assert.equal(typeof delivered.latencyMs, 'number');
      assertError(
        await get(`/api/v1/webhooks/${endpoint.id}/deliveries?status=lost`, t.tokens.manage),
        400,
        'validation_error',
      );

      const before = receiver.received.filter((h) => h.id === delivered.eventId).length;
      const again = await call('POST', `/api/v1/webhooks/${endpoint.id}/deliveries/${delivered.eventId}/redeliver`, {
        token: t.tokens.manage,
      });
      assert.equal(again.status, 202, again.text);
      assert.equal(again.body.status, 'queued');
      await waitFor(
        async () => receiver.received.filter((h) => h.id === delivered.eventId).length > before,
        'the redelivery',
      );
      const copies = receiver.received.filter((h) => h.id === delivered.eventId);
      assert.equal(copies[copies.length - 1]!.body, copies[0]!.body, 'the same event, byte for byte');
      assertError(
        await call('POST', `/api/v1/webhooks/${endpoint.id}/deliveries/evt_01J5Z8K4M2N6P0Q3S5T7V9WXYZ/redeliver`, {
          token: t.tokens.manage,
        }),
        404,
        'not_found',
      );
    });

    it('signs with both secrets during a rotation grace period, so a receiver holding either verifies', async () => {
      const rotated = await call('POST', `/api/v1/webhooks/${endpoint.id}/rotate-secret`, {
        token: t.tokens.manage,
        baseUrl: permissive.baseUrl,
      });
      const session = await quietSession(t);
      const [id] = await burst(session, 1, contactEvent);
      await waitForAcks(receiver, [id!], 'the event after rotation');
      const hook = receiver.acknowledged().get(id!)![0]!;
      assert.equal(String(hook.headers['webhook-signature']).split(' ').length, 2);
      assert.equal(verified(hook, rotated.body.secret).id, id);
      assert.equal(verified(hook, endpoint.secret).id, id);
    });
  });

  describe('retries, ordering and isolation', () => {
    let worker: GatewayProcess;
    let t: Tenant;

    before(async () => {
      t = await newTenant();
      await testEnv.db.query(`UPDATE wa_sessions SET status = 'logged_out' WHERE id = ?`, [t.sessionId]);
      worker = testEnv.startWorker(writeSimWorld(`webhooks-retry-${uniq()}`, {}), WORKER_ENV, `wh-retry-${uniq()}`);
    });

    after(async () => {
      await worker?.stop();
    });

    it('loses nothing while a receiver answers 500 and then recovers; only retries of one delivery repeat its id, with the same body', async () => {
      const receiver = await new WebhookReceiver().start();
      try {
        // Three failed attempts for each delivery of the first window (IN_FLIGHT of them).
        receiver.behaviour = (_hook, index) => (index < 3 * IN_FLIGHT ? 500 : 200);
        await createEndpoint(t, receiver.url, ['contacts.changed']);
        const ids = await burst(await quietSession(t), 40, contactEvent);
        await waitForAcks(receiver, ids, 'every event acknowledged');
        const acked = receiver.acknowledged();
        for (const id of ids) assert.equal(acked.get(id)!.length, 1, `${id} acknowledged once`);
        assert.deepEqual([...acked.keys()].sort(), [...ids].sort(), 'nothing else arrived');
        const byId = new Map<string, string>();
        for (const hook of receiver.received) {
          if (byId.has(hook.id)) assert.equal(hook.body, byId.get(hook.id), 'a retry carries the same body');
          byId.set(hook.id, hook.body);
        }
        assert.equal(receiver.received.length, 40 + 3 * IN_FLIGHT, 'each 500 was retried, nothing else was sent twice');
      } finally {
        await receiver.stop();
      }
    });

    it("delivers one session's session.status events in order while attempts fail at random", async () => {
      const receiver = await new WebhookReceiver().start();
      try {
        let n = 0;
        receiver.behaviour = () => (++n % 3 === 0 || n % 7 === 0 ? 500 : 200);
        await createEndpoint(t, receiver.url, ['session.status']);
        const session = await quietSession(t);
        const ids = await burst(session, 30, statusEvent, 5);
        await waitForAcks(receiver, ids, 'every status acknowledged');
        const ackedOrder = receiver.received
          .filter((h) => h.status === 200)
          .map((h) => JSON.parse(h.body).sequence as number);
        assert.deepEqual(
          ackedOrder,
          Array.from({ length: 30 }, (_, i) => i + 1),
          'acknowledged in sequence order, each once',
        );
        assert.ok(
          receiver.received.some((h) => h.status === 500),
          'some attempts failed',
        );
      } finally {
        await receiver.stop();
      }
    });

    it("keeps delivering to other organizations while one organization's receiver hangs, and never sends that receiver more than WEBHOOK_ENDPOINT_IN_FLIGHT at once", async () => {
      const hanging = await new WebhookReceiver().start();
      const healthy = await new WebhookReceiver().start();
      const neighbour = await newTenant();
      try {
        hanging.behaviour = () => 'hold';
        await createEndpoint(t, hanging.url, ['contacts.changed']);
        await createEndpoint(neighbour, healthy.url, ['contacts.changed']);
        const stuck = await burst(await quietSession(t), 40, contactEvent);
        await waitFor(
          async () => hanging.holding === IN_FLIGHT,
          'the hanging receiver to hold a full window',
          WORKER_BOOT_MS,
        );
        const flowing = await burst(await quietSession(neighbour), 40, contactEvent);
        await waitForAcks(healthy, flowing, "the other organization's events");
        assert.equal(hanging.received.length, IN_FLIGHT, 'nothing beyond the window was sent to the hanging receiver');
        hanging.behaviour = () => 200;
        hanging.release(200);
        await waitForAcks(hanging, stuck, 'the held backlog once the receiver answers');
      } finally {
        await Promise.all([hanging.stop(), healthy.stop()]);
      }
    });
  });

  describe('kill -9 of the delivering worker in the middle of a burst', () => {
    it('loses no event: the next worker delivers everything (an attempt cut short may arrive twice, with the same id)', async () => {
      const receiver = await new WebhookReceiver().start();
      const world = writeSimWorld(`webhooks-kill-${uniq()}`, {});
      let first: GatewayProcess | undefined;
      let second: GatewayProcess | undefined;
      try {
        receiver.delayMs = 15;
        const t = await newTenant();
        await testEnv.db.query(`UPDATE wa_sessions SET status = 'logged_out' WHERE id = ?`, [t.sessionId]);
        await createEndpoint(t, receiver.url, ['contacts.changed']);
        // A short attempt timeout keeps the job lock short: the killed worker's attempts are taken over once it lapses.
        const env = { ...WORKER_ENV, WEBHOOK_TIMEOUT_MS: '2000' };
        first = testEnv.startWorker(world, env, `wh-kill-a-${uniq()}`);
        const ids = await burst(await quietSession(t), 300, contactEvent, 100);
        await waitFor(async () => receiver.received.length >= 40, 'the burst to be under way', WORKER_BOOT_MS);
        await first.stop('SIGKILL');
        const before = receiver.acknowledged().size;
        assert.ok(before < ids.length, `killed in the middle (${before} of ${ids.length} delivered)`);
        second = testEnv.startWorker(world, env, `wh-kill-b-${uniq()}`);
        await waitForAcks(receiver, ids, 'every event of the burst after the kill', 60_000);
        const [{ open }] = (await testEnv.db.query(
          `SELECT COUNT(*) AS open FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id WHERE e.session_id IN (SELECT id FROM wa_sessions WHERE organization_id = ?) AND d.status <> 'succeeded'`,
          [t.organizationId],
        )) as [{ open: number }];
        assert.equal(Number(open), 0, 'every delivery recorded as succeeded');
        const acked = receiver.acknowledged();
        for (const [id, hooks] of acked)
          assert.ok(new Set(hooks.map((h) => h.body)).size === 1, `${id}: copies are identical`);
      } finally {
        await first?.stop('SIGKILL');
        await second?.stop();
        await receiver.stop();
      }
    });
  });

  describe('with private addresses not allowed at delivery', () => {
    let worker: GatewayProcess;

    before(async () => {
      worker = testEnv.startWorker(
        writeSimWorld(`webhooks-strict-${uniq()}`, {}),
        { ...WORKER_ENV, WEBHOOK_ALLOW_PRIVATE: 'false', WEBHOOK_MAX_ATTEMPTS: '3', WEBHOOK_DISABLE_AFTER_MS: '4000' },
        `wh-strict-${uniq()}`,
      );
    });

    after(async () => {
      await worker?.stop();
    });

    it('refuses to connect to an endpoint resolving to 127.0.0.1 (checked on every attempt), then disables an endpoint whose attempts keep failing', async () => {
      const receiver = await new WebhookReceiver().start();
      try {
        const t = await newTenant();
        await testEnv.db.query(`UPDATE wa_sessions SET status = 'logged_out' WHERE id = ?`, [t.sessionId]);
        // Accepted by an api that allows private addresses; this worker does not.
        const endpoint = await createEndpoint(t, receiver.url.replace('127.0.0.1', 'localhost'), ['contacts.changed']);
        const session = await quietSession(t);
        const [first] = await burst(session, 1, contactEvent);
        const failed = await waitFor(
          async () => {
            const res = await get(`/api/v1/webhooks/${endpoint.id}/deliveries`, t.tokens.manage);
            const d = res.body.data.find((x: { eventId: string }) => x.eventId === first);
            return d?.status === 'failed' ? d : undefined;
          },
          'the delivery to give up',
          WORKER_BOOT_MS,
        );
        assert.equal(failed.attempts, 3);
        assert.match(failed.error, /loopback/);
        assert.equal(failed.responseStatus, null);
        assert.equal(receiver.received.length, 0, 'the receiver was never reached');

        // Past WEBHOOK_DISABLE_AFTER_MS (long enough that the first delivery's three attempts end
        // within it even on a loaded machine), the next failure disables the endpoint.
        await new Promise((resolve) => setTimeout(resolve, 4_100));
        const [second] = await burst(session, 1, contactEvent);
        assert.ok(second, 'the endpoint was still enabled when the second event was written');
        const disabled = await waitFor(
          async () => {
            const res = await get(`/api/v1/webhooks/${endpoint.id}`, t.tokens.manage);
            return res.body.enabled === false ? res.body : undefined;
          },
          'the endpoint to be disabled',
          WORKER_BOOT_MS,
        );
        assert.match(disabled.disabledReason, /failed/);
        const deliveries = (await get(`/api/v1/webhooks/${endpoint.id}/deliveries`, t.tokens.manage)).body.data;
        assert.equal(deliveries.find((d: { eventId: string }) => d.eventId === second).status, 'failed');
        assert.deepEqual(await burst(session, 1, contactEvent), [], 'a disabled endpoint gets no new deliveries');
        assertError(
          await call('POST', `/api/v1/webhooks/${endpoint.id}/deliveries/${second}/redeliver`, {
            token: t.tokens.manage,
          }),
          409,
          'conflict',
        );
        assert.equal(receiver.received.length, 0);
      } finally {
        await receiver.stop();
      }
    });
  });
});
