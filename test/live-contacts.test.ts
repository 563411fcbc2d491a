import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { shardOf } from '../shared/shards.js';
import { SimStateStore } from '../worker/driver/sim/state-store.js';
import { newTenant, type Tenant } from './support/fixtures.js';
import { testEnv } from './support/hooks.js';
import { call, get } from './support/http.js';
import type { GatewayProcess } from './support/processes.js';
import type { RunningApi } from './support/test-env.js';
import { newPhone, waitUntilOnline, writeSimWorld } from './support/sim-world.js';

const uniq = () => Math.random().toString(36).slice(2, 10);

function person(name: string, extra: Record<string, unknown> = {}) {
  const phone = newPhone();
  return { phone, lid: `9${phone}@lid`, name, ...extra };
}

describe('live contact operations (sim WhatsApp, real worker processes)', function () {
  this.timeout(60_000);
  const self = person('Gateway account');
  const alice = person('Alice', {
    about: 'Climbing 🧗',
    aboutSetAt: 1719662400000,
    picture: {
      url: 'https://pps.sim.invalid/alice.jpg',
      previewUrl: 'https://pps.sim.invalid/alice-preview.jpg',
      id: '1717',
    },
  });
  const hidden = person('Hidden', {
    about: 'secret',
    aboutHidden: true,
    picture: { url: 'https://pps.sim.invalid/h.jpg', id: '9' },
    pictureHidden: true,
  });
  const quiet = person('Quiet', { about: null, picture: null });
  const cappedSelf = person('Rate-limited account');
  let online: Tenant;
  let offline: Tenant;
  /** Online, and used only against an api with a tiny rate limit (the budget is per organization). */
  let capped: Tenant;
  let workers: GatewayProcess[] = [];

  before(async () => {
    online = await newTenant({ sessionId: `sess_live_${uniq()}` });
    offline = await newTenant({ sessionId: `sess_off_${uniq()}` });
    capped = await newTenant({ sessionId: `sess_cap_${uniq()}` });
    const world = writeSimWorld(`live-${uniq()}`, {
      accounts: [self, alice, hidden, quiet, cappedSelf],
      sessions: {
        [online.sessionId]: { phone: self.phone, paired: true },
        [capped.sessionId]: { phone: cappedSelf.phone, paired: true },
      },
    });
    workers = [
      testEnv.startWorker(world, {}, `live-w1-${uniq()}`),
      testEnv.startWorker(world, {}, `live-w2-${uniq()}`),
    ];
    await waitUntilOnline([online.sessionId, capped.sessionId]);
  });

  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
  });

  const path = (t: Tenant, rest: string) => `/api/v1/sessions/${t.sessionId}/contacts${rest}`;

  describe('GET /contacts/check', () => {
    it('returns the JID and LID of a number that is on WhatsApp', async () => {
      const before = Date.now();
      const res = await get(path(online, `/check?phone=%2B${alice.phone}&maxAgeSeconds=0`), online.tokens.read);
      assert.equal(res.status, 200);
      assert.ok(res.body.checkedAt >= before && res.body.checkedAt <= Date.now());
      assert.deepEqual(res.body, {
        isOnWhatsApp: true,
        jid: `${alice.phone}@s.whatsapp.net`,
        query: `+${alice.phone}`,
        lid: alice.lid,
        matchedAs: alice.phone,
        cached: false,
        checkedAt: res.body.checkedAt,
      });
    });

    it('answers isOnWhatsApp false with a null jid for a number without an account', async () => {
      const res = await get(path(online, `/check?phone=15550000000&maxAgeSeconds=0`), online.tokens.read);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, {
        isOnWhatsApp: false,
        jid: null,
        query: '15550000000',
        cached: false,
        checkedAt: res.body.checkedAt,
      });
      assert.equal(typeof res.body.checkedAt, 'number');
    });

    it('is not captured by the stored /contacts/{lid} route', async () => {
      const res = await get(path(online, `/check`), online.tokens.read);
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'validation_error');
      assert.ok('phone' in res.body.error.details);
    });

    for (const bad of ['abc', '+', '12', '+0123456789', '1234567890123456789', '+62 812']) {
      it(`returns 400 validation_error for the malformed phone ${JSON.stringify(bad)}`, async () => {
        const res = await get(path(online, `/check?phone=${encodeURIComponent(bad)}`), online.tokens.read);
        assert.equal(res.status, 400);
        assert.equal(res.body.error.code, 'validation_error');
        assert.ok('phone' in res.body.error.details);
      });
    }

    it('returns 501 not_implemented at once for a session that is not connected, enqueuing nothing', async () => {
      const queue = new Queue('live', {
        prefix: testEnv.keys.liveQueuePrefix(shardOf(offline.sessionId, 16)),
        connection: testEnv.redis,
      });
      const before = await queue.count();
      const res = await get(path(offline, `/check?phone=${alice.phone}`), offline.tokens.read);
      assert.equal(res.status, 501);
      assert.equal(res.body.error.code, 'not_implemented');
      assert.equal(await queue.count(), before);
      await queue.close();
    });

    it("returns 404 for another organization's session", async () => {
      const res = await get(path(online, `/check?phone=${alice.phone}`), offline.tokens.read);
      assert.equal(res.status, 404);
      assert.equal(res.body.error.code, 'not_found');
    });

    it('keeps serving after many refused checks: a refusal that settles while the answer cache is read never ends the api process', async () => {
      const answers = await Promise.all(
        Array.from({ length: 30 }, () =>
          get(path(online, `/check?phone=${alice.phone}&maxAgeSeconds=60`), offline.tokens.read),
        ),
      );
      assert.deepEqual([...new Set(answers.map((r) => r.status))], [404]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.ok(testEnv.api.process.running, 'the api process is still running');
      assert.equal((await fetch(`${testEnv.api.baseUrl}/healthz`)).status, 200);
    });

    it('needs the read capability', async () => {
      const res = await get(path(online, `/check?phone=${alice.phone}`), online.tokens.send);
      assert.equal(res.status, 403);
      assert.equal(res.body.error.code, 'forbidden');
    });
  });

  describe('GET /contacts/{jid}/about', () => {
    it('returns the about text by phone JID and by LID', async () => {
      for (const jid of [`${alice.phone}@s.whatsapp.net`, alice.lid]) {
        const res = await get(path(online, `/${jid}/about`), online.tokens.read);
        assert.equal(res.status, 200);
        assert.equal(res.body.about, 'Climbing 🧗');
      }
    });

    it('returns an empty string when the about text is hidden or empty', async () => {
      for (const who of [hidden, quiet]) {
        const res = await get(path(online, `/${who.phone}@s.whatsapp.net/about`), online.tokens.read);
        assert.equal(res.status, 200);
        assert.equal(res.body.about, '');
      }
    });

    it('returns 404 for a user WhatsApp does not know', async () => {
      const res = await get(path(online, `/15550000001@s.whatsapp.net/about`), online.tokens.read);
      assert.equal(res.status, 404);
      assert.equal(res.body.error.code, 'not_found');
    });

    it('returns 400 for something that is not a user JID', async () => {
      for (const jid of ['alice', '123@example.com', '120363000000000001@g.us']) {
        const res = await get(path(online, `/${encodeURIComponent(jid)}/about`), online.tokens.read);
        assert.equal(res.status, 400, jid);
        assert.equal(res.body.error.code, 'validation_error');
        assert.ok('jid' in res.body.error.details);
      }
    });

    it('returns 501 for a session that is not connected', async () => {
      const res = await get(path(offline, `/${alice.phone}@s.whatsapp.net/about`), offline.tokens.read);
      assert.equal(res.status, 501);
      assert.equal(res.body.error.code, 'not_implemented');
    });
  });

  describe('GET /contacts/{jid}/picture', () => {
    it('returns the URL, type and fetch time of the picture', async () => {
      const before = Date.now();
      const res = await get(path(online, `/${alice.phone}@s.whatsapp.net/picture`), online.tokens.read);
      assert.equal(res.status, 200);
      assert.equal(res.body.url, 'https://pps.sim.invalid/alice.jpg');
      assert.equal(res.body.type, 'image');
      assert.equal(res.body.id, '1717');
      assert.ok(res.body.fetchedAt >= before && res.body.fetchedAt <= Date.now());
    });

    it('returns the preview when type=preview', async () => {
      const res = await get(path(online, `/${alice.phone}@s.whatsapp.net/picture?type=preview`), online.tokens.read);
      assert.equal(res.status, 200);
      assert.equal(res.body.type, 'preview');
      // The type must reach WhatsApp, not only be echoed: the preview is another picture.
      assert.equal(res.body.url, 'https://pps.sim.invalid/alice-preview.jpg');
      const image = await get(path(online, `/${alice.phone}@s.whatsapp.net/picture?type=image`), online.tokens.read);
      assert.deepEqual([image.body.type, image.body.url], ['image', 'https://pps.sim.invalid/alice.jpg']);
    });

    it('returns 404 when the contact has no accessible picture', async () => {
      for (const who of [hidden, quiet]) {
        const res = await get(path(online, `/${who.phone}@s.whatsapp.net/picture`), online.tokens.read);
        assert.equal(res.status, 404);
        assert.equal(res.body.error.code, 'not_found');
      }
    });

    it('returns 400 for an unknown type', async () => {
      const res = await get(path(online, `/${alice.phone}@s.whatsapp.net/picture?type=huge`), online.tokens.read);
      assert.equal(res.status, 400);
      assert.ok('type' in res.body.error.details);
    });
  });

  describe('POST /contacts/{jid}/block and /unblock', () => {
    const blocklist = () => new SimStateStore(testEnv.redis, testEnv.redisPrefix).blocklist(online.sessionId);

    it('blocks and unblocks with 204 and an empty body, idempotently', async () => {
      const jid = `${quiet.phone}@s.whatsapp.net`;
      for (let i = 0; i < 2; i++) {
        const res = await call('POST', path(online, `/${jid}/block`), { token: online.tokens.send });
        assert.equal(res.status, 204);
        assert.equal(res.text, '');
      }
      assert.ok((await blocklist()).includes(quiet.lid));
      for (let i = 0; i < 2; i++) {
        const res = await call('POST', path(online, `/${jid}/unblock`), { token: online.tokens.send });
        assert.equal(res.status, 204);
        assert.equal(res.text, '');
      }
      assert.ok(!(await blocklist()).includes(quiet.lid));
    });

    it('needs the send capability', async () => {
      const res = await call('POST', path(online, `/${quiet.phone}@s.whatsapp.net/block`), {
        token: online.tokens.read,
      });
      assert.equal(res.status, 403);
      assert.equal(res.body.error.code, 'forbidden');
      assert.ok(!(await blocklist()).includes(quiet.lid));
    });

    it("answers 404 for another organization's session and blocks or unblocks nothing there", async () => {
      const jid = `${quiet.phone}@s.whatsapp.net`;
      const refusedBlock = await call('POST', path(online, `/${jid}/block`), { token: offline.tokens.send });
      assert.deepEqual([refusedBlock.status, refusedBlock.body.error.code], [404, 'not_found']);
      // Long enough for a job enqueued despite the refusal to have run on the (idle) worker.
      await sleep(500);
      assert.ok(!(await blocklist()).includes(quiet.lid), 'the refused block never ran');
      assert.equal((await call('POST', path(online, `/${jid}/block`), { token: online.tokens.send })).status, 204);
      try {
        const refusedUnblock = await call('POST', path(online, `/${jid}/unblock`), { token: offline.tokens.send });
        assert.deepEqual([refusedUnblock.status, refusedUnblock.body.error.code], [404, 'not_found']);
        await sleep(500);
        assert.ok((await blocklist()).includes(quiet.lid), 'the refused unblock never ran');
      } finally {
        assert.equal((await call('POST', path(online, `/${jid}/unblock`), { token: online.tokens.send })).status, 204);
      }
    });

    it('returns 501 for a session that is not connected', async () => {
      const res = await call('POST', path(offline, `/${quiet.phone}@s.whatsapp.net/block`), {
        token: offline.tokens.send,
      });
      assert.equal(res.status, 501);
    });

    it('refuses a group JID with 400', async () => {
      const res = await call('POST', path(online, `/120363000000000001@g.us/block`), { token: online.tokens.send });
      assert.equal(res.status, 400);
    });
  });

  describe('under the organization rate limit', () => {
    const LIMIT = 2;
    let limited: RunningApi;
    const blocklist = () => new SimStateStore(testEnv.redis, testEnv.redisPrefix).blocklist(capped.sessionId);

    before(async () => {
      limited = await testEnv.startApi({ RATE_LIMIT_PER_MINUTE: String(LIMIT) }, `api-live-rl-${uniq()}`);
    });

    after(async () => {
      await limited?.process.stop();
    });

    it('answers 429 past the limit and never runs the operation, though the limiter and the operation start together', async () => {
      for (let i = 0; i < LIMIT; i++) {
        const res = await call('GET', path(capped, `/${alice.phone}@s.whatsapp.net/about`), {
          token: capped.tokens.read,
          baseUrl: limited.baseUrl,
        });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('ratelimit-remaining'), String(LIMIT - 1 - i));
      }
      const refused = await call('POST', path(capped, `/${quiet.phone}@s.whatsapp.net/block`), {
        token: capped.tokens.send,
        baseUrl: limited.baseUrl,
      });
      assert.equal(refused.status, 429);
      assert.equal(refused.body.error.code, 'rate_limited');
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
      assert.equal(refused.headers.get('ratelimit-remaining'), '0');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.ok(!(await blocklist()).includes(quiet.lid), 'the refused block never ran');
    });

    it("answers 429 rather than 404 for another organization's session, and rather than 403, once the budget is spent", async () => {
      const res = await call('GET', path(online, `/${alice.phone}@s.whatsapp.net/about`), {
        token: capped.tokens.read,
        baseUrl: limited.baseUrl,
      });
      assert.equal(res.status, 429);
      const forbidden = await call('POST', path(capped, `/${quiet.phone}@s.whatsapp.net/block`), {
        token: capped.tokens.read,
        baseUrl: limited.baseUrl,
      });
      assert.equal(forbidden.status, 429);
    });
  });
});
