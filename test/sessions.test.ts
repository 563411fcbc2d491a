import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { simControl } from '../worker/driver/sim/control.js';
import { newTenant, seedContacts, type Tenant } from './support/fixtures.js';
import { testEnv } from './support/hooks.js';
import { call, get } from './support/http.js';
import { freePort, startPrivateRedis, waitFor, type GatewayProcess } from './support/processes.js';
import { leaseHolders, newPhone, waitUntilOnline, writeSimWorld } from './support/sim-world.js';

const uniq = () => Math.random().toString(36).slice(2, 10);

function account(name: string) {
  const phone = newPhone();
  return { phone, lid: `9${phone}@lid`, name };
}

const qrKey = (sessionId: string) => `${testEnv.redisPrefix}:qr:${sessionId}`;

/**
 * For the enclosing describe: one sim worker owning every shard, in a world that knows no account
 * (every session stays unpaired), started before its tests and stopped after them.
 */
function withSoloWorker(label: string, env: Record<string, string>): void {
  let worker: GatewayProcess | undefined;
  before(async () => {
    const world = writeSimWorld(`${label}-${uniq()}`, { accounts: [], sessions: {}, pairing: { qrIntervalMs: 500 } });
    const workerId = `${label}-${uniq()}`;
    worker = testEnv.startWorker(world, env, workerId);
    await waitFor(async () => (await leaseHolders()).get(workerId) === 16, 'the worker to own every shard', 30_000);
  });
  after(async () => {
    await worker?.stop();
  });
}

describe('sessions API', function () {
  this.timeout(90_000);

  describe('without workers', () => {
    let t: Tenant;
    before(async () => {
      t = await newTenant();
    });

    it('creates a session in pairing state with 201', async () => {
      const res = await call('POST', '/api/v1/sessions', { token: t.tokens.manage, body: { name: 'Support line' } });
      assert.equal(res.status, 201);
      assert.match(res.body.id, /^sess_[0-9A-Z]{26}$/);
      assert.equal(res.body.name, 'Support line');
      assert.equal(res.body.status, 'pairing');
      assert.equal(res.body.phoneJid, null);
      assert.ok(Number.isInteger(res.body.shard) && res.body.shard >= 0 && res.body.shard < 16);
      assert.equal(typeof res.body.createdAt, 'number');
    });

    it('rejects unknown body fields and a bad name with 400', async () => {
      for (const body of [{ nam: 'x' }, { name: '' }, { name: 5 }]) {
        const res = await call('POST', '/api/v1/sessions', { token: t.tokens.manage, body });
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(res.body.error.code, 'validation_error');
      }
    });

    it('needs the manage capability to create and list, read to get one', async () => {
      assert.equal((await call('POST', '/api/v1/sessions', { token: t.tokens.read, body: {} })).status, 403);
      assert.equal((await get('/api/v1/sessions', t.tokens.read)).status, 403);
      assert.equal((await get(`/api/v1/sessions/${t.sessionId}`, t.tokens.read)).status, 200);
      assert.equal((await get(`/api/v1/sessions/${t.sessionId}`, t.tokens.send)).status, 403);
    });

    it("lists only the caller's organization's sessions, cursor-paged", async () => {
      const mine = await newTenant();
      const other = await newTenant();
      const created = [mine.sessionId];
      for (let i = 0; i < 4; i++)
        created.push((await call('POST', '/api/v1/sessions', { token: mine.tokens.manage, body: {} })).body.id);
      const seen: string[] = [];
      let cursor = '';
      do {
        const res = await get(
          `/api/v1/sessions?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
          mine.tokens.manage,
        );
        assert.equal(res.status, 200);
        assert.ok(res.body.data.length <= 2);
        seen.push(...res.body.data.map((s: { id: string }) => s.id));
        cursor = res.body.nextCursor;
      } while (cursor);
      assert.deepEqual(seen.sort(), created.sort());
      assert.ok(!seen.includes(other.sessionId));
    });

    it("returns 404 for another organization's session on every session route", async () => {
      const other = await newTenant();
      const base = `/api/v1/sessions/${t.sessionId}`;
      const attempts = [
        call('GET', base, { token: other.tokens.all }),
        call('DELETE', base, { token: other.tokens.all }),
        call('GET', `${base}/qr`, { token: other.tokens.all }),
        call('POST', `${base}/pairing-code`, { token: other.tokens.all, body: { phone: '+4915112345678' } }),
        call('POST', `${base}/logout`, { token: other.tokens.all }),
      ];
      for (const res of await Promise.all(attempts)) {
        assert.equal(res.status, 404);
        assert.deepEqual(res.body, { error: { code: 'not_found', message: 'session not found', details: {} } });
      }
      assert.equal((await get(base, t.tokens.read)).status, 200, 'the owner still has it');
    });

    it('answers a pairing code with 501 and a QR code with 503 while no worker runs the session', async () => {
      // An api of its own key prefix: no worker has ever held a shard lease there.
      const lonely = await testEnv.startApi(
        { REDIS_PREFIX: `${testEnv.redisPrefix}_noworkers` },
        `api-noworkers-${uniq()}`,
      );
      try {
        const code = await call('POST', `/api/v1/sessions/${t.sessionId}/pairing-code`, {
          token: t.tokens.manage,
          body: { phone: '+4915112345678' },
          baseUrl: lonely.baseUrl,
        });
        assert.equal(code.status, 501);
        assert.equal(code.body.error.code, 'not_implemented');
        const qr = await call('GET', `/api/v1/sessions/${t.sessionId}/qr`, {
          token: t.tokens.manage,
          baseUrl: lonely.baseUrl,
        });
        assert.equal(qr.status, 503);
        assert.equal(qr.body.error.code, 'unavailable');
      } finally {
        await lonely.process.stop();
      }
    });

    it('rejects a malformed pairing-code phone with 400', async () => {
      const res = await call('POST', `/api/v1/sessions/${t.sessionId}/pairing-code`, {
        token: t.tokens.manage,
        body: { phone: 'abc' },
      });
      assert.equal(res.status, 400);
      assert.ok('phone' in res.body.error.details);
    });
  });

  describe('lifecycle with a sim worker', () => {
    const me = account('Me');
    const friend = account('Friend');
    const colleague = account('Colleague');
    const groupJid = `120363${Date.now()}@g.us`;
    let workers: GatewayProcess[] = [];
    let t: Tenant;

    before(async () => {
      t = await newTenant();
      // The world knows this phone's address book, chats and groups; an API-created session that
      // pairs as this phone inherits them, as a real account would.
      const world = writeSimWorld(`lifecycle-${uniq()}`, {
        accounts: [me, friend, colleague],
        groups: [
          {
            jid: groupJid,
            subject: 'Team',
            members: [
              { phone: me.phone, role: 'superadmin' },
              { phone: colleague.phone, role: 'admin', nickname: 'Col' },
            ],
          },
        ],
        sessions: {
          sess_world_template: {
            phone: me.phone,
            paired: false,
            contacts: [{ phone: friend.phone, name: 'Best Friend' }],
            chats: [friend.phone],
          },
        },
        pairing: { qrIntervalMs: 20_000 },
      });
      workers = [
        testEnv.startWorker(world, { LEASE_TTL_MS: '4000' }, `life-a-${uniq()}`),
        testEnv.startWorker(world, { LEASE_TTL_MS: '4000' }, `life-b-${uniq()}`),
      ];
      await waitFor(
        async () => [...(await leaseHolders()).values()].reduce((a, b) => a + b, 0) === 16,
        'workers to own every shard',
        30_000,
      );
    });

    after(async () => {
      await Promise.all(workers.map((w) => w.stop()));
    });

    it('goes create → QR → paired → online → logout (data kept) → delete (everything gone)', async () => {
      const created = await call('POST', '/api/v1/sessions', { token: t.tokens.manage, body: { name: 'Lifecycle' } });
      assert.equal(created.status, 201);
      const id: string = created.body.id;
      const base = `/api/v1/sessions/${id}`;

      const qr = await waitFor(
        async () => {
          const res = await get(`${base}/qr`, t.tokens.manage);
          return res.status === 200 ? res : undefined;
        },
        'a QR code',
        20_000,
      );
      assert.equal(typeof qr.body.qr, 'string');
      assert.ok(qr.body.qr.length > 10);
      assert.match(qr.body.image, /^data:image\/png;base64,/);
      const png = await fetch(`${testEnv.api.baseUrl}${base}/qr`, {
        headers: { authorization: `Bearer ${t.tokens.manage}`, accept: 'image/png' },
      });
      assert.equal(png.status, 200);
      assert.equal(png.headers.get('content-type'), 'image/png');
      assert.deepEqual([...new Uint8Array(await png.arrayBuffer()).slice(0, 4)], [0x89, 0x50, 0x4e, 0x47]);

      await simControl(testEnv.redis, testEnv.redisPrefix, { sessionId: id, action: 'pair', phone: me.phone });
      await waitUntilOnline([id]);
      const online = await waitFor(async () => {
        const res = await get(base, t.tokens.read);
        return res.body.status === 'online' ? res : undefined;
      }, 'status online');
      assert.equal(online.body.phoneJid, `${me.phone}@s.whatsapp.net`);
      assert.equal(online.body.lid, me.lid);
      assert.equal(typeof online.body.lastConnectedAt, 'number');

      const conflict = await get(`${base}/qr`, t.tokens.manage);
      assert.equal(conflict.status, 409);
      assert.equal(conflict.body.error.code, 'conflict');

      // The history sync and group fetch land in the stored API.
      const people = await waitFor(
        async () => {
          const res = await get(`${base}/contacts`, t.tokens.read);
          return res.body.data.length === 2 ? res.body.data : undefined;
        },
        'the synced contacts',
        20_000,
      );
      const byLid = new Map(people.map((p: { lid: string }) => [p.lid, p]));
      assert.ok(!byLid.has(me.lid), "the session's own account is not one of its contacts");
      assert.deepEqual(byLid.get(friend.lid), {
        lid: friend.lid,
        name: 'Best Friend',
        phoneNumber: friend.phone,
        businessName: null,
        source: 'dm',
      });
      assert.equal((byLid.get(colleague.lid) as { source: string }).source, 'group');
      const col = await get(`${base}/contacts/${colleague.lid}`, t.tokens.read);
      assert.equal(col.body.groups[0].jid, groupJid);
      assert.equal(col.body.groups[0].name, 'Team');
      assert.equal(col.body.groups[0].role, 'admin');

      const logout = await call('POST', `${base}/logout`, { token: t.tokens.manage });
      assert.equal(logout.status, 204);
      assert.equal((await get(base, t.tokens.read)).body.status, 'logged_out');
      const kept = await get(`${base}/contacts`, t.tokens.read);
      assert.equal(kept.status, 200);
      assert.equal(kept.body.data.length, 2, 'stored contacts stay readable after logout');
      assert.equal(
        (await call('POST', `${base}/logout`, { token: t.tokens.manage })).status,
        204,
        'logout is idempotent',
      );
      assert.equal((await get(`${base}/qr`, t.tokens.manage)).status, 409);

      const deleted = await call('DELETE', base, { token: t.tokens.manage });
      assert.equal(deleted.status, 204);
      assert.equal((await get(base, t.tokens.read)).status, 404);
      assert.equal((await get(`${base}/contacts`, t.tokens.read)).status, 404);
      for (const table of ['contacts', 'wa_groups', 'group_members', 'wa_auth_creds', 'wa_auth_keys']) {
        const [row] = await testEnv.db.query(`SELECT COUNT(*) AS n FROM ${table} WHERE session_id = ?`, [id]);
        assert.equal(Number(row.n), 0, `${table} rows removed`);
      }
    });

    it('returns an 8-character pairing code for an unpaired session', async () => {
      const created = await call('POST', '/api/v1/sessions', { token: t.tokens.manage, body: {} });
      const id = created.body.id;
      const res = await waitFor(
        async () => {
          const r = await call('POST', `/api/v1/sessions/${id}/pairing-code`, {
            token: t.tokens.manage,
            body: { phone: `+${newPhone()}` },
          });
          return r.status === 200 ? r : undefined;
        },
        'a pairing code',
        20_000,
      );
      assert.match(res.body.code, /^[A-Z0-9]{8}$/);
    });

    it('keeps a paired session paired when another worker takes its shard over (no new pairing)', async () => {
      const created = await call('POST', '/api/v1/sessions', { token: t.tokens.manage, body: {} });
      const id: string = created.body.id;
      await waitFor(
        async () => (await get(`/api/v1/sessions/${id}/qr`, t.tokens.manage)).status === 200,
        'a QR code',
        20_000,
      );
      await simControl(testEnv.redis, testEnv.redisPrefix, { sessionId: id, action: 'pair', phone: newPhone() });
      await waitUntilOnline([id]);
      const owner = await testEnv.redis.get(testEnv.keys.presence(id));
      const holder = workers.find((w) => w.name.endsWith(owner ?? '-'))!;
      assert.ok(holder, `the owning worker ${owner} is one of ours`);
      await holder.stop('SIGTERM');
      await waitFor(
        async () => {
          const now = await testEnv.redis.get(testEnv.keys.presence(id));
          return now !== null && now !== owner;
        },
        'the other worker to bring the session online',
        20_000,
      );
      const res = await get(`/api/v1/sessions/${id}`, t.tokens.read);
      assert.equal(res.body.status, 'online');
    });
  });

  describe('pairing window (a worker that lets unpaired sessions go after 1.5 s)', () => {
    withSoloWorker('pairing', { PAIRING_WINDOW_MS: '1500' });

    /** The worker showed QR codes for the session, then closed its connection and dropped the code. */
    const untilLetGo = async (sessionId: string) => {
      await waitFor(
        async () => (await testEnv.redis.get(qrKey(sessionId))) !== null,
        'the worker to show a QR code',
        20_000,
      );
      await waitFor(
        async () => (await testEnv.redis.get(qrKey(sessionId))) === null,
        'the worker to let the session go',
        20_000,
      );
    };

    it('stops showing QR codes for an unpaired session nobody asks about, and shows them again on GET /qr', async () => {
      const t = await newTenant();
      await untilLetGo(t.sessionId);
      const view = await get(`/api/v1/sessions/${t.sessionId}`, t.tokens.read);
      assert.equal(view.body.status, 'pairing', 'still waiting to be paired');
      const qr = await waitFor(
        async () => {
          const res = await get(`/api/v1/sessions/${t.sessionId}/qr`, t.tokens.manage);
          return res.status === 200 ? res : undefined;
        },
        'a QR code after asking',
        20_000,
      );
      assert.equal(typeof qr.body.qr, 'string');
      // Asked for within the api's window (10 minutes by default): it keeps showing codes past the worker's 1.5 s.
      await new Promise((resolve) => setTimeout(resolve, 7_000));
      assert.notEqual(await testEnv.redis.get(qrKey(t.sessionId)), null);
    });

    it('connects a let-go session again to answer a pairing-code request', async () => {
      const t = await newTenant();
      await untilLetGo(t.sessionId);
      const res = await call('POST', `/api/v1/sessions/${t.sessionId}/pairing-code`, {
        token: t.tokens.manage,
        body: { phone: `+${newPhone()}` },
      });
      assert.equal(res.status, 200, res.text);
      assert.match(res.body.code, /^[A-Z0-9]{8}$/);
    });
  });

  describe('announced changes (a worker whose periodic reconcile is 10 minutes away)', () => {
    withSoloWorker('announced', { RECONCILE_INTERVAL_MS: '600000' });

    it('connects a session created through the API without waiting for the periodic reconcile', async () => {
      const t = await newTenant();
      const created = await call('POST', '/api/v1/sessions', { token: t.tokens.manage, body: {} });
      assert.equal(created.status, 201);
      await waitFor(
        async () => (await testEnv.redis.get(qrKey(created.body.id))) !== null,
        'a QR code for the new session',
        20_000,
      );
    });

    it('connects a session made with the CLI once its QR code is asked for', async () => {
      const t = await newTenant();
      const qr = await waitFor(
        async () => {
          const res = await get(`/api/v1/sessions/${t.sessionId}/qr`, t.tokens.manage);
          return res.status === 200 ? res : undefined;
        },
        'a QR code',
        20_000,
      );
      assert.equal(typeof qr.body.qr, 'string');
    });
  });

  describe('deletion seen by every api process', () => {
    const contactsOf = (t: Tenant, baseUrl: string) =>
      call('GET', `/api/v1/sessions/${t.sessionId}/contacts`, { token: t.tokens.read, baseUrl });

    it('answers 404 on another api process right after the delete, though it served the session a moment before', async () => {
      const other = await testEnv.startApi({}, `api-peer-${uniq()}`);
      try {
        const t = await newTenant();
        await seedContacts(t.sessionId, [{ name: 'Kept until deleted', dm: true }]);
        for (let i = 0; i < 3; i++) assert.equal((await contactsOf(t, other.baseUrl)).status, 200);
        assert.equal((await call('DELETE', `/api/v1/sessions/${t.sessionId}`, { token: t.tokens.manage })).status, 204);
        const [here, there] = await Promise.all([contactsOf(t, testEnv.api.baseUrl), contactsOf(t, other.baseUrl)]);
        assert.equal(here.status, 404);
        assert.equal(there.status, 404);
        assert.equal(there.body.error.code, 'not_found');
      } finally {
        await other.process.stop();
      }
    });

    it('answers 404 for a session deleted while that api process was cut off from Redis', async () => {
      const port = await freePort();
      let redis: ChildProcess = await startPrivateRedis(port);
      const redisUrl = `redis://127.0.0.1:${port}`;
      const deleting = await testEnv.startApi({ REDIS_URL: redisUrl }, `api-del-${uniq()}`);
      const serving = await testEnv.startApi({ REDIS_URL: redisUrl }, `api-cut-${uniq()}`);
      try {
        const t = await newTenant();
        assert.equal((await contactsOf(t, serving.baseUrl)).status, 200);
        redis.kill('SIGTERM');
        await once(redis, 'exit');
        assert.equal(
          (
            await call('DELETE', `/api/v1/sessions/${t.sessionId}`, {
              token: t.tokens.manage,
              baseUrl: deleting.baseUrl,
            })
          ).status,
          204,
        );
        assert.equal((await contactsOf(t, serving.baseUrl)).status, 404, 'while Redis is down');
        redis = await startPrivateRedis(port);
        await waitFor(
          async () => (await call('GET', '/readyz', { baseUrl: serving.baseUrl })).status === 200,
          'the api to reconnect to Redis',
        );
        assert.equal((await contactsOf(t, serving.baseUrl)).status, 404, 'after Redis is back');
      } finally {
        await Promise.all([deleting.process.stop(), serving.process.stop()]);
        redis.kill('SIGTERM');
      }
    });
  });

  it('shows a session online as soon as its worker has marked it present, before MySQL records it', async () => {
    const t = await newTenant();
    await testEnv.db.query(
      `UPDATE wa_sessions SET status = 'connecting', phone_jid = '4915100000001@s.whatsapp.net' WHERE id = ?`,
      [t.sessionId],
    );
    await testEnv.redis.set(testEnv.keys.presence(t.sessionId), 'some-worker', 'PX', 10_000);
    const res = await get(`/api/v1/sessions/${t.sessionId}`, t.tokens.read);
    assert.equal(res.body.status, 'online');
    await testEnv.redis.del(testEnv.keys.presence(t.sessionId));
    assert.equal((await get(`/api/v1/sessions/${t.sessionId}`, t.tokens.read)).body.status, 'connecting');
  });

  it('keeps stored data readable for a session whose worker is gone (status offline)', async () => {
    const t = await newTenant();
    await seedContacts(t.sessionId, [{ name: 'Stored', dm: true }]);
    await testEnv.db.query(`UPDATE wa_sessions SET status = 'online' WHERE id = ?`, [t.sessionId]);
    const session = await get(`/api/v1/sessions/${t.sessionId}`, t.tokens.read);
    assert.equal(session.body.status, 'offline', 'online in MySQL but no presence key: shown offline');
    const contacts = await get(`/api/v1/sessions/${t.sessionId}/contacts`, t.tokens.read);
    assert.equal(contacts.body.data.length, 1);
  });
});
