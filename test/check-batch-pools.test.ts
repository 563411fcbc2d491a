import assert from 'node:assert/strict';
import { shardOf } from '../shared/shards.js';
import { SimCallLog } from '../worker/driver/sim/call-log.js';
import { simControl } from '../worker/driver/sim/control.js';
import { assertError } from './support/assert-error.js';
import { account, BatchRoutes, finished, numbers } from './support/check-batches.js';
import { newSession, newTenant, type Tenant } from './support/fixtures.js';
import { testEnv } from './support/hooks.js';
import { call, get } from './support/http.js';
import { waitFor, type GatewayProcess } from './support/processes.js';
import { killWorkersAndFreeShards, leaseHolders, waitUntilOnline, writeSimWorld } from './support/sim-world.js';

const uniq = () => Math.random().toString(36).slice(2, 10);
const CHUNK = 50;
const POOLED = '/api/v1/check-batches';

/** Phone → how many times it was sent to WhatsApp, over these sessions. */
async function askedOver(sessionIds: string[]): Promise<Map<string, number>> {
  const log = new SimCallLog(testEnv.redis, testEnv.redisPrefix);
  const total = new Map<string, number>();
  for (const id of sessionIds)
    for (const [phone, n] of await log.askedNumbers(id)) total.set(phone, (total.get(phone) ?? 0) + n);
  return total;
}

const checkedBy = (batch: any) => Object.fromEntries(batch.sessions.map((s: any) => [s.sessionId, s.checked]));

describe('pooled bulk checks: one batch over several sessions (sim WhatsApp)', function () {
  this.timeout(90_000);
  let t: Tenant;
  let stranger: Tenant;
  let pool: BatchRoutes;
  let worker: GatewayProcess;
  const ids = { a: '', b: '', c: '', offA: '', offB: '', drop: '' };
  const selves = numbers(6).map((p) => account(p, 'gateway account'));
  const registered = numbers(40);

  before(async () => {
    t = await newTenant({ sessionId: `sess_pa_${uniq()}` });
    stranger = await newTenant({ sessionId: `sess_ps_${uniq()}` });
    ids.a = t.sessionId;
    for (const key of ['b', 'c', 'offA', 'offB', 'drop'] as const)
      ids[key] = (await testEnv.admin.createSession(t.organizationId, key, `sess_p${key}_${uniq()}`)).id;
    const world = writeSimWorld(`pools-${uniq()}`, {
      accounts: [...selves, ...registered.map((p) => account(p))],
      sessions: {
        [ids.a]: { phone: selves[0]!.phone },
        [ids.b]: { phone: selves[1]!.phone },
        [ids.c]: { phone: selves[2]!.phone },
        [ids.drop]: { phone: selves[3]!.phone },
        [stranger.sessionId]: { phone: selves[4]!.phone },
      },
    });
    // 1,200 numbers a minute: each session's first chunk goes at once, then one chunk per 2.5 s.
    worker = testEnv.startWorker(
      world,
      { BATCH_RATE_PER_MINUTE: '1200', BATCH_SESSION_POLL_MS: '200' },
      `pools-${uniq()}`,
    );
    await waitUntilOnline([ids.a, ids.b, ids.c, ids.drop, stranger.sessionId]);
    pool = new BatchRoutes(POOLED, t.tokens.read);
  });

  after(async () => {
    await worker?.stop();
  });

  it('spreads the chunks over every connected session, each at its own pace, asking each number once', async () => {
    const phones = numbers(300);
    const res = await pool.create({ phones, sessions: [ids.a, ids.b, ids.c], maxAgeSeconds: 0 });
    assert.equal(res.status, 202, res.text);
    assert.equal(res.headers.get('location'), `${POOLED}/${res.body.id}`);
    const done = await pool.waitFor(res.body.id, finished, 'to finish', 60_000);
    assert.equal(done.status, 'completed');
    assert.equal(done.sessionId, null, 'a pooled batch belongs to no single session');
    assert.deepEqual(done.progress, { done: 300, total: 300 });
    assert.deepEqual(
      done.sessions.map((s: any) => s.sessionId),
      [ids.a, ids.b, ids.c],
    );
    // Paced at one chunk per 2.5 s each, one session alone would take 6 chunks; three share them.
    for (const s of done.sessions) {
      assert.ok(
        s.checked >= CHUNK && s.checked <= 3 * CHUNK,
        `each session checked about a third: ${JSON.stringify(checkedBy(done))}`,
      );
      assert.equal(s.queries, s.checked / CHUNK, 'full chunks only');
    }
    assert.equal(
      done.sessions.reduce((sum: number, s: any) => sum + s.checked, 0),
      300,
    );
    const asked = await askedOver([ids.a, ids.b, ids.c]);
    assert.deepEqual(
      phones.filter((p) => asked.get(p) !== 1),
      [],
      'every number asked exactly once across the pool',
    );
  });

  it('moves the chunks of a session that goes offline mid-batch to the others', async () => {
    const phones = numbers(400);
    const res = await pool.create({ phones, sessions: [ids.b, ids.drop], maxAgeSeconds: 0 });
    assert.equal(res.status, 202, res.text);
    await pool.waitFor(
      res.body.id,
      (b) => checkedBy(b)[ids.drop] >= CHUNK,
      'to have a chunk checked by the session about to drop',
    );
    await simControl(testEnv.redis, testEnv.redisPrefix, { sessionId: ids.drop, action: 'disconnect' });
    const waiting = await pool.waitFor(
      res.body.id,
      (b) => finished(b) || b.sessions[1].waitingFor === 'session',
      'to see the session offline',
    );
    if (!finished(waiting)) {
      assert.equal(waiting.waitingForSession, false, 'the batch itself goes on through the other session');
      assert.equal(waiting.waitingFor, null);
    }
    const done = await pool.waitFor(res.body.id, finished, 'to finish on the remaining session', 60_000);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.progress, { done: 400, total: 400 });
    const rows = await pool.results(res.body.id);
    assert.ok(rows.every((r) => r.status === 'not_on_whatsapp'));
    const asked = await askedOver([ids.b, ids.drop]);
    const twice = phones.filter((p) => (asked.get(p) ?? 0) > 1);
    assert.ok(
      twice.length <= CHUNK,
      `at most the chunk in flight when the session dropped is asked again (${twice.length})`,
    );
    assert.ok(phones.every((p) => (asked.get(p) ?? 0) >= 1));
    assert.ok(
      checkedBy(done)[ids.b] > checkedBy(done)[ids.drop],
      `the session still online did the rest: ${JSON.stringify(checkedBy(done))}`,
    );
    await simControl(testEnv.redis, testEnv.redisPrefix, { sessionId: ids.drop, action: 'reconnect' });
  });

  it('waits while none of its sessions is connected, then runs on the first one that is', async () => {
    const phones = [...registered.slice(0, 3), ...numbers(4)];
    const res = await pool.create({ phones, sessions: [ids.offA, ids.offB] });
    assert.equal(res.status, 202, res.text);
    const waiting = await pool.waitFor(res.body.id, (b) => b.waitingForSession, 'to wait for a session');
    assert.equal(waiting.status, 'queued');
    assert.equal(waiting.waitingFor, 'session');
    assert.equal(waiting.resumesAt, null);
    assert.equal(waiting.eta, null);
    assert.deepEqual(
      waiting.sessions.map((s: any) => s.waitingFor),
      ['session', 'session'],
    );
    await simControl(testEnv.redis, testEnv.redisPrefix, {
      sessionId: ids.offB,
      action: 'pair',
      phone: selves[5]!.phone,
    });
    const done = await pool.waitFor(res.body.id, finished, 'to finish once a session is connected');
    assert.equal(done.status, 'completed');
    assert.equal(done.waitingForSession, false);
    assert.deepEqual(done.counts, { onWhatsApp: 3, notOnWhatsApp: 4, invalid: 0 });
    assert.deepEqual(checkedBy(done), { [ids.offA]: 0, [ids.offB]: 7 });
  });

  it('returns 404 naming a session of another organization (or an unknown one), storing nothing', async () => {
    const count = async () =>
      Number(
        (
          (await testEnv.db.query('SELECT COUNT(*) AS n FROM check_batches WHERE organization_id = ?', [
            t.organizationId,
          ])) as { n: number }[]
        )[0]!.n,
      );
    const before = await count();
    for (const foreign of [stranger.sessionId, 'sess_nobody_has_this']) {
      const details = assertError(
        await pool.create({ phones: numbers(2), sessions: [ids.a, foreign] }),
        404,
        'not_found',
      );
      assert.deepEqual(details, { session: foreign });
    }
    assert.equal(await count(), before);
  });

  it('returns 400 without sessions, with too many, or with them given twice', async () => {
    const sessions = Array.from({ length: 21 }, (_, i) => `sess_${i}`);
    for (const body of [
      { phones: numbers(1) },
      { phones: numbers(1), sessions: [] },
      { phones: numbers(1), sessions },
      { phones: numbers(1), sessions: 'sess_a' },
    ]) {
      const details = assertError(await pool.create(body), 400, 'validation_error');
      assert.ok('sessions' in details, JSON.stringify(body));
    }
    const details = assertError(
      await pool.create({ phones: numbers(1), sessions: [ids.a] }, t.tokens.read, `?sessions=${ids.a}`),
      400,
      'validation_error',
    );
    assert.ok('sessions' in details);
    assertError(
      await pool.create({ phones: numbers(1), sessions: [ids.a], maxAgeSeconds: -1 }),
      400,
      'validation_error',
    );
    const perSession = await call('POST', `/api/v1/sessions/${ids.a}/contacts/check-batch`, {
      token: t.tokens.read,
      body: { phones: numbers(1), sessions: [ids.b] },
    });
    assertError(perSession, 400, 'validation_error');
  });

  it('accepts CSV with the sessions in the query string', async () => {
    const phones = numbers(3);
    const res = await call('POST', `${POOLED}?sessions=${ids.a},${ids.c}`, {
      token: t.tokens.read,
      rawBody: `phone\n${phones.join('\n')}\n`,
      headers: { 'content-type': 'text/csv' },
    });
    assert.equal(res.status, 202, res.text);
    const done = await pool.waitFor(res.body.id, finished, 'to finish');
    assert.deepEqual(
      done.sessions.map((s: any) => s.sessionId),
      [ids.a, ids.c],
    );
    assert.equal(done.progress.done, 3);
  });

  it("lists, reads, pages results of and cancels only the organization's own batches", async () => {
    // Created with another key than the read-only one below: a batch's creator may cancel it without `send`.
    const created = await pool.create({ phones: numbers(3), sessions: [ids.offA] }, t.tokens.all);
    const perSession = await call('POST', `/api/v1/sessions/${ids.a}/contacts/check-batch`, {
      token: t.tokens.read,
      body: ['nope'],
    });
    const list = await get(`${POOLED}?limit=100`, t.tokens.read);
    assert.equal(list.status, 200);
    const listed = list.body.data.map((b: any) => b.id);
    assert.ok(
      listed.includes(created.body.id) && listed.includes(perSession.body.id),
      'pooled and per-session batches alike',
    );
    assert.equal((await get(`${POOLED}?limit=100`, stranger.tokens.read)).body.data.length, 0);
    for (const path of [`${POOLED}/${created.body.id}`, `${POOLED}/${created.body.id}/results`]) {
      assertError(await get(path, stranger.tokens.read), 404, 'not_found');
      assert.equal((await get(path, t.tokens.read)).status, 200);
    }
    assertError(await call('DELETE', `${POOLED}/${created.body.id}`, { token: stranger.tokens.all }), 404, 'not_found');
    assertError(await call('DELETE', `${POOLED}/${created.body.id}`, { token: t.tokens.read }), 403, 'forbidden');
    assert.equal((await call('DELETE', `${POOLED}/${created.body.id}`, { token: t.tokens.all })).status, 204);
    assert.equal((await pool.get(created.body.id)).status, 'cancelled');
    assertError(await call('DELETE', `${POOLED}/${created.body.id}`, { token: t.tokens.all }), 409, 'conflict');
    // A pooled batch is not one of a session's batches.
    assertError(
      await get(`/api/v1/sessions/${ids.offA}/contacts/check-batch/${created.body.id}`, t.tokens.read),
      404,
      'not_found',
    );
  });
});

describe('BATCH_DAILY_LIMIT: a daily cap per session (sim WhatsApp)', function () {
  this.timeout(60_000);
  let t: Tenant;
  let routes: BatchRoutes;
  let worker: GatewayProcess;
  const self = account(numbers(1)[0]!, 'gateway account');

  before(async () => {
    t = await newTenant({ sessionId: `sess_daily_${uniq()}` });
    const world = writeSimWorld(`daily-${uniq()}`, {
      accounts: [self],
      sessions: { [t.sessionId]: { phone: self.phone } },
    });
    worker = testEnv.startWorker(
      world,
      { BATCH_RATE_PER_MINUTE: '0', BATCH_DAILY_LIMIT: '60', BATCH_SESSION_POLL_MS: '200' },
      `daily-${uniq()}`,
    );
    await waitUntilOnline([t.sessionId]);
    routes = new BatchRoutes(`/api/v1/sessions/${t.sessionId}/contacts/check-batch`, t.tokens.read);
  });

  after(async () => {
    await worker?.stop();
  });

  it('answers cached numbers without spending the cap: 50 cached and 60 new numbers fit a cap of 60', async () => {
    const cached = numbers(50);
    const fresh = numbers(60);
    const checkedAt = Date.now() - 3 * 86_400_000;
    // As if checked three days ago, by a live check or an earlier batch.
    await testEnv.db.query(
      `INSERT INTO check_answers (organization_id, phone, on_whatsapp, jid, lid, matched_as, checked_at) VALUES ${cached.map(() => '(?, ?, 0, NULL, NULL, NULL, ?)').join(', ')}`,
      cached.flatMap((p) => [t.organizationId, p, checkedAt]),
    );
    const res = await routes.create([...cached, ...fresh]);
    assert.equal(res.status, 202, res.text);
    const done = await routes.waitFor(res.body.id, (b) => finished(b) || b.waitingFor !== null, 'to finish or wait');
    assert.equal(done.status, 'completed', `not held back by the cap: ${JSON.stringify(done)}`);
    assert.equal(done.cached, 50);
    assert.deepEqual(done.sessions[0], {
      sessionId: t.sessionId,
      checked: 60,
      queries: 2,
      waitingFor: null,
      resumesAt: null,
    });
  });

  it('stops at the cap, says so and until when, and resumes when the UTC day turns', async () => {
    const phones = numbers(100);
    const res = await routes.create(phones);
    const waiting = await routes.waitFor(
      res.body.id,
      (b) => b.waitingFor === 'daily_limit',
      'to wait for the daily limit',
    );
    const nextMidnight = (Math.floor(Date.now() / 86_400_000) + 1) * 86_400_000;
    assert.equal(waiting.status, 'queued', 'nothing was left to ask today (the cap was spent by the previous batch)');
    assert.equal(waiting.waitingForSession, false);
    assert.ok(
      Math.abs(waiting.resumesAt - nextMidnight) <= 1_000,
      `resumesAt is the next UTC midnight: ${new Date(waiting.resumesAt).toISOString()}`,
    );
    assert.equal(waiting.sessions[0].waitingFor, 'daily_limit');
    assert.equal(waiting.progress.done, 0);
    assert.equal(waiting.eta, null);

    // The day turns: the count kept for the session's day is yesterday's.
    const bucket = testEnv.keys.batchRateBucket(t.sessionId);
    await testEnv.redis.hset(bucket, 'day', String(Math.floor(Date.now() / 86_400_000) - 1));
    const capped = await routes.waitFor(
      res.body.id,
      (b) => b.progress.done === 60 && b.waitingFor === 'daily_limit',
      'to check 60 more and stop again',
    );
    assert.deepEqual(
      capped.sessions[0],
      { ...capped.sessions[0], checked: 60, queries: 2 },
      'a chunk of 50 and one cut to the 10 left',
    );

    await testEnv.redis.hset(bucket, 'day', String(Math.floor(Date.now() / 86_400_000) - 1));
    const done = await routes.waitFor(res.body.id, finished, 'to finish the next day');
    assert.equal(done.status, 'completed');
    assert.equal(done.waitingFor, null);
    assert.equal(done.resumesAt, null);
    assert.deepEqual(done.progress, { done: 100, total: 100 });
  });
});

describe('pooled bulk checks across worker failures', function () {
  this.timeout(120_000);
  let workers: GatewayProcess[] = [];

  afterEach(async () => {
    await killWorkersAndFreeShards(workers);
    workers = [];
  });

  it('finishes after the worker holding one of its sessions is killed (-9): nothing lost, at most the chunk in flight asked again', async () => {
    const t = await newTenant({ sessionId: `sess_pk0_${uniq()}` });
    const selves = numbers(2).map((p) => account(p, 'gateway account'));
    const phones = numbers(2_000);
    const registered = phones.filter((_, i) => i % 4 === 0);
    const world = writeSimWorld(`pool-kill-${uniq()}`, {
      accounts: [...selves, ...registered.map((p) => account(p))],
      operations: { onWhatsApp: { latencyMs: 60 } },
    });
    const names = [`pk-a-${uniq()}`, `pk-b-${uniq()}`];
    workers = names.map((name) =>
      testEnv.startWorker(
        world,
        { LEASE_TTL_MS: '3000', BATCH_RATE_PER_MINUTE: '0', BATCH_SESSION_POLL_MS: '200' },
        name,
      ),
    );
    await waitFor(async () => [...(await leaseHolders()).values()].join() === '8,8', 'an 8/8 split', 30_000);
    // One session on a shard of each worker.
    const holders = await testEnv.leaseHolders();
    const sessionOn = (worker: string) => {
      for (;;) {
        const id = `sess_pk_${uniq()}`;
        if (holders[shardOf(id, 16)] === worker) return id;
      }
    };
    const [sa, sb] = [sessionOn(names[0]!), sessionOn(names[1]!)];
    for (const [i, id] of [sa, sb].entries()) {
      await testEnv.admin.createSession(t.organizationId, `pool ${i}`, id);
      await simControl(testEnv.redis, testEnv.redisPrefix, { sessionId: id, action: 'pair', phone: selves[i]!.phone });
    }
    await waitUntilOnline([sa, sb]);
    const pool = new BatchRoutes(POOLED, t.tokens.read);
    const res = await pool.create({ phones, sessions: [sa, sb] });
    assert.equal(res.status, 202, res.text);
    await pool.waitFor(
      res.body.id,
      (b) => b.progress.done >= 300 && b.sessions.every((s: any) => s.checked > 0),
      'to be under way on both sessions',
    );
    await workers[0]!.stop('SIGKILL');

    const done = await pool.waitFor(res.body.id, finished, 'to finish', 90_000);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.counts, {
      onWhatsApp: registered.length,
      notOnWhatsApp: phones.length - registered.length,
      invalid: 0,
    });
    const on = new Set(registered);
    for (const row of await pool.results(res.body.id))
      assert.equal(row.status, on.has(row.normalized) ? 'on_whatsapp' : 'not_on_whatsapp', row.normalized);
    const asked = await askedOver([sa, sb]);
    const twice = phones.filter((p) => (asked.get(p) ?? 0) > 1);
    assert.ok(twice.length <= CHUNK, `at most one chunk asked twice, got ${twice.length}`);
    assert.ok(phones.every((p) => (asked.get(p) ?? 0) >= 1 && (asked.get(p) ?? 0) <= 2));
  });
});

// A session deleted while its pooled batch runs takes only its own part with it.
describe('pooled batch whose session is deleted', () => {
  it('keeps the batch and its other sessions', async () => {
    const t = await newTenant();
    const other = await newSession(t.organizationId);
    const res = await call('POST', POOLED, {
      token: t.tokens.read,
      body: { phones: numbers(2), sessions: [t.sessionId, other] },
    });
    assert.equal(res.status, 202, res.text);
    await testEnv.db.query('DELETE FROM wa_sessions WHERE id = ?', [other]);
    const batch = await new BatchRoutes(POOLED, t.tokens.read).get(res.body.id);
    assert.deepEqual(
      batch.sessions.map((s: any) => s.sessionId),
      [t.sessionId],
    );
  });
});
