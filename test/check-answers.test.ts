import assert from 'node:assert/strict';
import { CheckAnswerCache } from '../shared/checks/check-answers.js';
import { SimCallLog } from '../worker/driver/sim/call-log.js';
import { simControl } from '../worker/driver/sim/control.js';
import { account, BatchRoutes, finished, numbers } from './support/check-batches.js';
import { newTenant, type Tenant } from './support/fixtures.js';
import { testEnv } from './support/hooks.js';
import { get } from './support/http.js';
import { waitFor, type GatewayProcess } from './support/processes.js';
import type { RunningApi } from './support/test-env.js';
import { waitUntilOnline, writeSimWorld } from './support/sim-world.js';

const uniq = () => Math.random().toString(36).slice(2, 10);
const DAY_S = 86_400;

/**
 * Brazil, Mexico and Argentina: accounts registered under one national form of their number, and
 * the form a user writes them in (national-variants.ts).
 */
const VARIANTS = {
  brLegacyAccount: { account: '551187654321', given: '+55 11 98765-4321', normalized: '5511987654321' },
  brModernAccount: { account: '5521987654321', given: '+55 21 8765-4321', normalized: '552187654321' },
  brNowhere: { given: '+55 11 97777-6666', normalized: '5511977776666', variant: '551177776666' },
  mxLegacyAccount: { account: '5215512345678', given: '+52 55 1234 5678', normalized: '525512345678' },
  arMobileAccount: { account: '5491112345678', given: '+54 11 1234-5678', normalized: '541112345678' },
  arFifteen: { account: '5491122223333', given: '+54 11 15 2222-3333', normalized: '5491122223333' },
};

describe('number checks: the answer cache and national variants (sim WhatsApp)', function () {
  this.timeout(60_000);
  const registered = numbers(10);
  const self = account(numbers(1)[0]!, 'gateway account');
  const offSelf = account(numbers(1)[0]!, 'offline gateway account');
  let t: Tenant;
  let other: Tenant;
  let worker: GatewayProcess;
  let routes: BatchRoutes;
  const calls = () => new SimCallLog(testEnv.redis, testEnv.redisPrefix);
  const queriesOf = (t: Tenant) => calls().queries(t.sessionId);
  const check = (t: Tenant, phone: string, query = '', baseUrl?: string) =>
    baseUrl
      ? fetch(`${baseUrl}/api/v1/sessions/${t.sessionId}/contacts/check?phone=${encodeURIComponent(phone)}${query}`, {
          headers: { authorization: `Bearer ${t.tokens.read}` },
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }))
      : get(`/api/v1/sessions/${t.sessionId}/contacts/check?phone=${encodeURIComponent(phone)}${query}`, t.tokens.read);
  const backdate = (orgId: string, phones: string[], seconds: number) =>
    testEnv.db.query(
      `UPDATE check_answers SET checked_at = checked_at - ? WHERE organization_id = ? AND phone IN (${phones.map(() => '?').join(', ')})`,
      [seconds * 1000, orgId, ...phones],
    );

  before(async () => {
    t = await newTenant({ sessionId: `sess_ans_${uniq()}` });
    other = await newTenant({ sessionId: `sess_anso_${uniq()}` });
    const variantAccounts = Object.values(VARIANTS).flatMap((v) => ('account' in v ? [account(v.account)] : []));
    const world = writeSimWorld(`answers-${uniq()}`, {
      accounts: [self, offSelf, ...registered.map((p) => account(p)), ...variantAccounts],
      sessions: { [t.sessionId]: { phone: self.phone }, [other.sessionId]: { phone: offSelf.phone } },
    });
    worker = testEnv.startWorker(
      world,
      { BATCH_RATE_PER_MINUTE: '0', BATCH_SESSION_POLL_MS: '200' },
      `answers-${uniq()}`,
    );
    await waitUntilOnline([t.sessionId, other.sessionId]);
    routes = new BatchRoutes(`/api/v1/sessions/${t.sessionId}/contacts/check-batch`, t.tokens.read);
  });

  after(async () => {
    await worker?.stop();
  });

  describe('in bulk batches', () => {
    it('answers numbers checked within CHECK_CACHE_TTL from the cache: no query, cached rows with their first checkedAt', async () => {
      const phones = [...registered.slice(0, 3), ...numbers(5)];
      const first = await routes.create(phones);
      const firstDone = await routes.waitFor(first.body.id, finished, 'to finish');
      assert.equal(firstDone.cached, 0);
      const firstRows = await routes.results(first.body.id);
      assert.ok(firstRows.every((r) => r.cached === false));
      const queries = await queriesOf(t);

      const again = await routes.create(phones);
      assert.equal(again.status, 202);
      assert.equal(again.body.status, 'completed', 'every number was known: nothing left to ask');
      const done = await routes.get(again.body.id);
      assert.equal(done.cached, 8);
      assert.deepEqual(done.counts, { onWhatsApp: 3, notOnWhatsApp: 5, invalid: 0 });
      assert.equal(done.startedAt, null, 'WhatsApp was never asked');
      assert.deepEqual(done.sessions, [
        { sessionId: t.sessionId, checked: 0, queries: 0, waitingFor: null, resumesAt: null },
      ]);
      const rows = await routes.results(again.body.id);
      assert.deepEqual(
        rows.map((r) => [r.normalized, r.status, r.jid, r.lid, r.matchedAs, r.checkedAt, r.cached]),
        firstRows.map((r) => [r.normalized, r.status, r.jid, r.lid, r.matchedAs, r.checkedAt, true]),
      );
      assert.equal(await queriesOf(t), queries, 'no WhatsApp query');
    });

    it('asks afresh with maxAgeSeconds=0, and re-asks only answers older than a shorter maxAgeSeconds', async () => {
      const phones = numbers(6);
      await routes.waitFor((await routes.create(phones)).body.id, finished, 'to finish');
      const fresh = await routes.create({ phones, maxAgeSeconds: 0 });
      const freshDone = await routes.waitFor(fresh.body.id, finished, 'to finish');
      assert.equal(freshDone.cached, 0);
      assert.equal(freshDone.sessions[0].checked, 6);

      await backdate(t.organizationId, phones.slice(0, 2), 2 * 3600);
      // maxAgeSeconds as a query parameter, for a body that cannot carry it.
      const csv = await fetch(
        `${testEnv.api.baseUrl}/api/v1/sessions/${t.sessionId}/contacts/check-batch?maxAgeSeconds=3600`,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${t.tokens.read}`, 'content-type': 'text/plain' },
          body: phones.join('\n'),
        },
      );
      const partly = (await csv.json()) as { id: string };
      const done = await routes.waitFor(partly.id, finished, 'to finish');
      assert.equal(done.cached, 4, 'the two answers older than an hour are asked again');
      assert.equal(done.sessions[0].checked, 2);
      const rows = await routes.results(partly.id);
      assert.deepEqual(
        rows.map((r) => r.cached),
        [false, false, true, true, true, true],
      );
    });

    it('never reuses an answer older than CHECK_CACHE_TTL (7 days by default)', async () => {
      const phones = numbers(3);
      await routes.waitFor((await routes.create(phones)).body.id, finished, 'to finish');
      await backdate(t.organizationId, phones, 7 * DAY_S + 60);
      const res = await routes.create({ phones, maxAgeSeconds: 30 * DAY_S });
      const done = await routes.waitFor(res.body.id, finished, 'to finish');
      assert.equal(done.cached, 0, 'maxAgeSeconds cannot stretch the TTL');
      assert.equal(done.sessions[0].checked, 3);
    });

    it("keeps each organization's answers to itself", async () => {
      const phones = registered.slice(3, 5);
      await routes.waitFor((await routes.create(phones)).body.id, finished, 'to finish');
      const theirs = new BatchRoutes(`/api/v1/sessions/${other.sessionId}/contacts/check-batch`, other.tokens.read);
      const done = await theirs.waitFor((await theirs.create(phones)).body.id, finished, 'to finish');
      assert.equal(done.cached, 0);
    });
  });

  describe('in the live check (GET /contacts/check)', () => {
    it('asks WhatsApp once, then answers from the cache with the same checkedAt; maxAgeSeconds=0 asks again', async () => {
      const phone = registered[5]!;
      const first = await check(t, `+${phone}`);
      assert.equal(first.status, 200);
      assert.equal(first.body.cached, false);
      const queries = await queriesOf(t);
      const second = await check(t, `+${phone}`);
      assert.deepEqual(second.body, { ...first.body, cached: true });
      assert.equal(await queriesOf(t), queries);
      const fresh = await check(t, `+${phone}`, '&maxAgeSeconds=0');
      assert.equal(fresh.body.cached, false);
      assert.ok(fresh.body.checkedAt >= first.body.checkedAt);
      assert.equal(await queriesOf(t), queries + 1);
      assert.equal((await check(t, `+${phone}`, '&maxAgeSeconds=-1')).status, 400);
    });

    it('answers from what a batch learnt, and a batch from what a live check learnt', async () => {
      const [fromBatch, fromLive] = [registered[6]!, registered[7]!];
      await routes.waitFor((await routes.create([fromBatch])).body.id, finished, 'to finish');
      const live = await check(t, fromBatch);
      assert.equal(live.body.cached, true);
      assert.equal(live.body.isOnWhatsApp, true);
      assert.equal((await check(t, fromLive)).body.cached, false);
      const res = await routes.create([fromLive]);
      assert.equal(res.body.status, 'completed');
      assert.equal((await routes.get(res.body.id)).cached, 1);
    });

    it('still needs the session connected, as the contract says, even for a cached answer', async () => {
      const phone = registered[8]!;
      assert.equal((await check(other, phone)).status, 200);
      await simControl(testEnv.redis, testEnv.redisPrefix, { sessionId: other.sessionId, action: 'disconnect' });
      try {
        await waitUntilOffline(other.sessionId);
        const res = await check(other, phone);
        assert.equal(res.status, 501);
        assert.equal(res.body.error.code, 'not_implemented');
      } finally {
        await simControl(testEnv.redis, testEnv.redisPrefix, { sessionId: other.sessionId, action: 'reconnect' });
        await waitUntilOnline([other.sessionId]);
      }
    });
  });

  describe('with CHECK_CACHE_TTL=0', () => {
    let api: RunningApi;

    before(async () => {
      api = await testEnv.startApi({ CHECK_CACHE_TTL: '0' }, `api-nocache-${uniq()}`);
    });

    after(async () => {
      await api?.process.stop();
    });

    it('neither reuses nor stores answers', async () => {
      const phone = registered[9]!;
      assert.equal((await check(t, phone)).body.cached, false, 'stored by the default api');
      const res = await check(t, phone, '', api.baseUrl);
      assert.equal(res.status, 200);
      assert.equal(res.body.cached, false, 'an api without a cache asks WhatsApp');
      const unseen = numbers(1)[0]!;
      await check(t, unseen, '', api.baseUrl);
      const stored = (await testEnv.db.query(
        'SELECT COUNT(*) AS n FROM check_answers WHERE organization_id = ? AND phone = ?',
        [t.organizationId, unseen],
      )) as { n: number }[];
      assert.equal(Number(stored[0]!.n), 0);

      const off = new CheckAnswerCache(testEnv.db, 0);
      await off.save(t.organizationId, [
        {
          phone: unseen,
          onWhatsApp: true,
          jid: `${unseen}@s.whatsapp.net`,
          lid: null,
          matchedAs: unseen,
          checkedAt: Date.now(),
        },
      ]);
      assert.equal((await off.find(t.organizationId, [unseen], off.maxAgeMs(undefined))).size, 0);
      const again = (await testEnv.db.query(
        'SELECT COUNT(*) AS n FROM check_answers WHERE organization_id = ? AND phone = ?',
        [t.organizationId, unseen],
      )) as { n: number }[];
      assert.equal(Number(again[0]!.n), 0, 'a worker with the cache off stores nothing either');
    });
  });

  describe('national variants', () => {
    it('finds accounts registered under the other national form, in a later chunk, and says which form WhatsApp knows (BR, MX, AR)', async () => {
      const given = Object.values(VARIANTS).map((v) => v.given);
      const before = await queriesOf(t);
      const res = await routes.create({ phones: given, maxAgeSeconds: 0 });
      const done = await routes.waitFor(res.body.id, finished, 'to finish');
      assert.equal(done.status, 'completed');
      const rows = await routes.results(res.body.id);
      const byGiven = new Map(rows.map((r) => [r.phone, r]));
      for (const [name, v] of Object.entries(VARIANTS)) {
        const row = byGiven.get(v.given);
        assert.equal(row.normalized, v.normalized, name);
        if ('account' in v) {
          assert.deepEqual(
            [row.status, row.jid, row.matchedAs],
            ['on_whatsapp', `${v.account}@s.whatsapp.net`, v.account],
            name,
          );
        } else {
          assert.deepEqual([row.status, row.jid, row.matchedAs], ['not_on_whatsapp', null, null], name);
        }
      }
      // One query for every given form, one more for the variants of the numbers not found: not one per number.
      assert.equal((await queriesOf(t)) - before, 2);
      const asked = await calls().askedNumbers(t.sessionId);
      assert.equal(asked.get(VARIANTS.brNowhere.variant), 1, 'a number found in no form was asked in both');
      assert.equal(asked.get(VARIANTS.arFifteen.account), 1, 'the "15" form was read as +54 9 and found at once');
    });

    it('asks both forms in the one query of a live check (BR, MX, AR)', async () => {
      for (const v of [VARIANTS.brLegacyAccount, VARIANTS.mxLegacyAccount, VARIANTS.arMobileAccount]) {
        const before = await queriesOf(t);
        const res = await check(t, `+${v.normalized}`, '&maxAgeSeconds=0');
        assert.equal(res.status, 200);
        assert.equal(res.body.isOnWhatsApp, true, v.given);
        assert.equal(res.body.jid, `${v.account}@s.whatsapp.net`);
        assert.equal(res.body.matchedAs, v.account);
        assert.equal(res.body.query, `+${v.normalized}`);
        assert.equal((await queriesOf(t)) - before, 1);
      }
    });
  });
});

async function waitUntilOffline(sessionId: string): Promise<void> {
  await waitFor(
    async () => (await testEnv.redis.exists(testEnv.keys.presence(sessionId))) === 0,
    `${sessionId} to go offline`,
  );
}
