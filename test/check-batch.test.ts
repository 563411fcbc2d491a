import assert from 'node:assert/strict';
import { batchJobId } from '../shared/batches/check-batch-jobs.js';
import { RedisKeys } from '../shared/redis-keys.js';
import { SessionRateLimiter } from '../worker/batches/session-rate-limiter.js';
import { SimCallLog } from '../worker/driver/sim/call-log.js';
import { simControl } from '../worker/driver/sim/control.js';
import { assertError } from './support/assert-error.js';
import { account, batchQueue, finished, numbers } from './support/check-batches.js';
import { newSession, newTenant, type Tenant } from './support/fixtures.js';
import { testEnv } from './support/hooks.js';
import { call, get, type JsonResponse } from './support/http.js';
import { waitFor, type GatewayProcess } from './support/processes.js';
import { killWorkersAndFreeShards, leaseHolders, waitUntilOnline, writeSimWorld } from './support/sim-world.js';

const uniq = () => Math.random().toString(36).slice(2, 10);
const CHUNK = 50;

const batchPath = (t: Tenant, rest = '') => `/api/v1/sessions/${t.sessionId}/contacts/check-batch${rest}`;

async function createBatch(t: Tenant, body: unknown, token = t.tokens.read): Promise<JsonResponse> {
  return call('POST', batchPath(t), { token, body });
}

async function createCsvBatch(t: Tenant, csv: string, contentType = 'text/csv'): Promise<JsonResponse> {
  return call('POST', batchPath(t), { token: t.tokens.read, rawBody: csv, headers: { 'content-type': contentType } });
}

async function batchOf(t: Tenant, id: string): Promise<any> {
  const res = await get(batchPath(t, `/${id}`), t.tokens.read);
  assert.equal(res.status, 200, res.text);
  return res.body;
}

async function waitForBatch(
  t: Tenant,
  id: string,
  until: (batch: any) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<any> {
  return waitFor(
    async () => {
      const batch = await batchOf(t, id);
      return until(batch) ? batch : undefined;
    },
    `batch ${id} ${what}`,
    timeoutMs,
    250,
  );
}

/** Every result row, following nextCursor. */
async function allResults(t: Tenant, id: string, query = ''): Promise<any[]> {
  const rows: any[] = [];
  let cursor = '';
  for (;;) {
    const res = await get(
      batchPath(t, `/${id}/results?limit=1000${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`),
      t.tokens.read,
    );
    assert.equal(res.status, 200, res.text);
    rows.push(...res.body.data);
    if (!res.body.nextCursor) return rows;
    cursor = res.body.nextCursor;
  }
}

describe('bulk number checks (sim WhatsApp, real worker processes)', function () {
  this.timeout(60_000);
  const onWhatsApp = numbers(6);
  const offWhatsApp = numbers(6);
  const flakyNumbers = numbers(500);
  let online: Tenant;
  let unpaired: Tenant;
  let stranger: Tenant;
  let slow: Tenant;
  let flaky: Tenant;
  let broken: Tenant;
  let worker: GatewayProcess;
  const selves = numbers(5).map((phone) => account(phone, 'gateway account'));

  before(async () => {
    [online, unpaired, stranger, slow, flaky, broken] = await Promise.all([
      newTenant({ sessionId: `sess_cb_${uniq()}` }),
      newTenant({ sessionId: `sess_cbu_${uniq()}` }),
      newTenant({ sessionId: `sess_cbs_${uniq()}` }),
      newTenant({ sessionId: `sess_cbl_${uniq()}` }),
      newTenant({ sessionId: `sess_cbf_${uniq()}` }),
      newTenant({ sessionId: `sess_cbx_${uniq()}` }),
    ]);
    const [self, slowSelf, flakySelf, brokenSelf] = selves;
    const world = writeSimWorld(`check-batch-${uniq()}`, {
      accounts: [...selves, ...onWhatsApp.map((p) => account(p)), ...flakyNumbers.slice(0, 100).map((p) => account(p))],
      sessions: {
        [online.sessionId]: { phone: self!.phone },
        [slow.sessionId]: { phone: slowSelf!.phone, latencyMs: 150 },
        [flaky.sessionId]: { phone: flakySelf!.phone, failureRate: 0.7, failureCode: 'rate_limited' },
        [broken.sessionId]: { phone: brokenSelf!.phone, failureRate: 1, failureCode: 'internal' },
      },
    });
    worker = testEnv.startWorker(
      world,
      { BATCH_RATE_PER_MINUTE: '0', BATCH_SESSION_POLL_MS: '200', BATCH_BACKOFF_MS: '50', BATCH_MAX_FAILURES: '3' },
      `cb-${uniq()}`,
    );
    await waitUntilOnline([online.sessionId, slow.sessionId, flaky.sessionId, broken.sessionId]);
  });

  after(async () => {
    await worker?.stop();
  });

  describe('POST /contacts/check-batch', () => {
    it('accepts {"phones": [...]} with 202, the id, status and total, and a Location to poll', async () => {
      const res = await createBatch(online, { phones: [onWhatsApp[0], offWhatsApp[0]] });
      assert.equal(res.status, 202, res.text);
      assert.deepEqual(Object.keys(res.body).sort(), ['id', 'status', 'total']);
      assert.match(res.body.id, /^batch_[0-9A-Z]{26}$/);
      assert.equal(res.body.status, 'queued');
      assert.equal(res.body.total, 2);
      assert.equal(res.headers.get('location'), batchPath(online, `/${res.body.id}`));
      const done = await waitForBatch(online, res.body.id, finished, 'to finish');
      assert.equal(done.status, 'completed');
      assert.deepEqual(done.counts, { onWhatsApp: 1, notOnWhatsApp: 1, invalid: 0 });
    });

    it('accepts a bare JSON array, numbers as integers included', async () => {
      const res = await createBatch(online, [onWhatsApp[1], Number(offWhatsApp[1])]);
      assert.equal(res.status, 202, res.text);
      const done = await waitForBatch(online, res.body.id, finished, 'to finish');
      assert.deepEqual(done.counts, { onWhatsApp: 1, notOnWhatsApp: 1, invalid: 0 });
    });

    it('accepts text/csv with a "phone" header, CRLF line ends and blank lines', async () => {
      const res = await createCsvBatch(online, `phone\r\n+${onWhatsApp[2]}\r\n\r\n${offWhatsApp[2]}\r\n`);
      assert.equal(res.status, 202, res.text);
      assert.equal(res.body.total, 2);
      const rows = await allResults(online, (await waitForBatch(online, res.body.id, finished, 'to finish')).id);
      assert.deepEqual(
        rows.map((r) => [r.phone, r.status]),
        [
          [`+${onWhatsApp[2]}`, 'on_whatsapp'],
          [offWhatsApp[2], 'not_on_whatsapp'],
        ],
      );
    });

    it('takes the "phone" column of a CSV with several columns', async () => {
      const res = await createCsvBatch(
        online,
        `name,phone,email\n"Doe, Jane",+${onWhatsApp[3]},jane@example.com\nBob,${offWhatsApp[3]},\n`,
      );
      assert.equal(res.status, 202, res.text);
      const rows = await allResults(online, res.body.id);
      assert.deepEqual(
        rows.map((r) => r.normalized),
        [onWhatsApp[3], offWhatsApp[3]],
      );
    });

    it('accepts text/plain with one number per line and no header', async () => {
      const res = await createCsvBatch(online, `${onWhatsApp[4]}\n${offWhatsApp[4]}`, 'text/plain');
      assert.equal(res.status, 202, res.text);
      assert.equal(res.body.total, 2);
    });

    it('normalises numbers to E.164 digits, de-duplicates them, and gives each invalid entry its own row with the reason', async () => {
      const n = onWhatsApp[5]!;
      const spaced = `+${n.slice(0, 2)} ${n.slice(2, 5)}-${n.slice(5, 9)}-${n.slice(9)}`;
      const entries = [
        `+${n}`,
        spaced,
        `00${n}`,
        `(${n.slice(0, 2)}) ${n.slice(2)}`,
        n,
        'call me',
        '12',
        'call me',
        '+0123456789',
        '+4915112345',
        '+14155550123456',
        '+447700900123',
        offWhatsApp[5],
      ];
      const res = await createBatch(online, { phones: entries });
      assert.equal(res.status, 202, res.text);
      assert.equal(res.body.total, 8, 'one row for the number, six distinct invalid entries, one other number');
      const done = await waitForBatch(online, res.body.id, finished, 'to finish');
      assert.deepEqual(done.progress, { done: 8, total: 8 });
      assert.deepEqual(done.counts, { onWhatsApp: 1, notOnWhatsApp: 1, invalid: 6 });
      const rows = await allResults(online, res.body.id);
      assert.deepEqual(
        rows.map((r) => [r.phone, r.normalized, r.status, r.reason]),
        [
          [`+${n}`, n, 'on_whatsapp', null],
          ['call me', null, 'invalid', 'not_a_number'],
          ['12', null, 'invalid', 'too_short'],
          ['+0123456789', null, 'invalid', 'invalid_country_code'],
          ['+4915112345', null, 'invalid', 'not_in_numbering_plan'],
          ['+14155550123456', null, 'invalid', 'too_long'],
          // Ofcom keeps 07700 900xxx for drama: a UK mobile in form, assigned to nobody.
          ['+447700900123', null, 'invalid', 'not_in_numbering_plan'],
          [offWhatsApp[5], offWhatsApp[5], 'not_on_whatsapp', null],
        ],
      );
    });

    it('completes a batch of only invalid entries at once', async () => {
      const res = await createBatch(online, ['nope', '']);
      assert.equal(res.status, 202, res.text);
      assert.equal(res.body.status, 'completed');
      const batch = await batchOf(online, res.body.id);
      assert.deepEqual(batch.counts, { onWhatsApp: 0, notOnWhatsApp: 0, invalid: 2 });
      assert.notEqual(batch.finishedAt, null);
    });

    it('accepts exactly 50,000 numbers', async function () {
      this.timeout(60_000);
      const phones = numbers(50_000);
      const res = await createBatch(unpaired, { phones });
      assert.equal(res.status, 202, res.text);
      assert.equal(res.body.total, 50_000);
      assert.equal(
        (await call('DELETE', batchPath(unpaired, `/${res.body.id}`), { token: unpaired.tokens.read })).status,
        204,
      );
    });

    it('returns 400 for more than 50,000 numbers', async () => {
      const details = assertError(await createBatch(online, { phones: numbers(50_001) }), 400, 'validation_error');
      assert.ok('body' in details);
    });

    it('returns 400 for an empty list, an empty CSV or a CSV with only its header', async () => {
      for (const body of [{ phones: [] }, []]) assertError(await createBatch(online, body), 400, 'validation_error');
      for (const csv of ['', '\n\n', 'phone\n'])
        assertError(await createCsvBatch(online, csv), 400, 'validation_error');
    });

    it('returns 400 for a body that is not a list of numbers', async () => {
      assertError(await createBatch(online, { phones: 'nope' }), 400, 'validation_error');
      assertError(await createBatch(online, { numbers: ['123'] }), 400, 'validation_error');
      const details = assertError(
        await createBatch(online, { phones: ['+4915112345678', { n: 1 }] }),
        400,
        'validation_error',
      );
      assert.ok('phones.1' in details);
      assertError(await call('POST', batchPath(online), { token: online.tokens.read }), 400, 'validation_error');
      assertError(
        await call('POST', batchPath(online), {
          token: online.tokens.read,
          rawBody: '<phones/>',
          headers: { 'content-type': 'application/xml' },
        }),
        400,
        'validation_error',
      );
      assertError(
        await call('POST', batchPath(online), {
          token: online.tokens.read,
          rawBody: '{"phones": [',
          headers: { 'content-type': 'application/json' },
        }),
        400,
        'validation_error',
      );
    });

    it("returns 404 for another organization's session, storing nothing", async () => {
      const before = (await testEnv.db.query('SELECT COUNT(*) AS n FROM check_batches WHERE session_id = ?', [
        online.sessionId,
      ])) as { n: number }[];
      assertError(await createBatch(online, [onWhatsApp[0]], stranger.tokens.read), 404, 'not_found');
      const after = (await testEnv.db.query('SELECT COUNT(*) AS n FROM check_batches WHERE session_id = ?', [
        online.sessionId,
      ])) as { n: number }[];
      assert.equal(Number(after[0]!.n), Number(before[0]!.n));
    });

    it('needs the read capability', async () => {
      assertError(await createBatch(online, [onWhatsApp[0]], online.tokens.send), 403, 'forbidden');
      assertError(await createBatch(online, [onWhatsApp[0]], online.tokens.none), 403, 'forbidden');
    });

    it('shows the batch as a BullMQ job named check-batch with its progress (what Bull Board lists)', async () => {
      const res = await createBatch(online, numbers(120));
      await waitForBatch(online, res.body.id, finished, 'to finish');
      const queue = batchQueue(online.sessionId);
      try {
        const job = await waitFor(async () => {
          const found = await queue.getJob(batchJobId(res.body.id, online.sessionId));
          return found && (await found.getState()) === 'completed' ? found : undefined;
        }, 'the job to complete');
        assert.equal(job.name, 'check-batch');
        const { sig, ...content } = job.data as { batchId: string; sessionId: string; sig?: unknown };
        assert.deepEqual(content, { batchId: res.body.id, sessionId: online.sessionId });
        assert.equal(typeof sig, 'string', "the job carries the gateway's signature");
        assert.equal(job.progress, 100);
      } finally {
        await queue.close();
      }
    });
  });

  describe('GET /contacts/check-batch/{id}', () => {
    it('reports status, progress, counts, timestamps and no ETA once completed', async () => {
      const created = Date.now();
      const res = await createBatch(online, {
        phones: [...onWhatsApp.slice(0, 3), ...offWhatsApp.slice(0, 2), 'x'],
        maxAgeSeconds: 0,
      });
      const batch = await waitForBatch(online, res.body.id, finished, 'to finish');
      assert.deepEqual(Object.keys(batch).sort(), [
        'cached',
        'counts',
        'createdAt',
        'error',
        'eta',
        'finishedAt',
        'id',
        'progress',
        'resumesAt',
        'sessionId',
        'sessions',
        'startedAt',
        'status',
        'waitingFor',
        'waitingForSession',
      ]);
      assert.equal(batch.id, res.body.id);
      assert.equal(batch.sessionId, online.sessionId);
      assert.equal(batch.status, 'completed');
      assert.equal(batch.waitingForSession, false);
      assert.equal(batch.waitingFor, null);
      assert.equal(batch.resumesAt, null);
      assert.equal(batch.cached, 0, 'maxAgeSeconds=0 asks WhatsApp afresh');
      assert.deepEqual(batch.sessions, [
        { sessionId: online.sessionId, checked: 5, queries: 1, waitingFor: null, resumesAt: null },
      ]);
      assert.deepEqual(batch.progress, { done: 6, total: 6 });
      assert.deepEqual(batch.counts, { onWhatsApp: 3, notOnWhatsApp: 2, invalid: 1 });
      assert.ok(
        batch.createdAt >= created - 1000 && batch.createdAt <= batch.startedAt && batch.startedAt <= batch.finishedAt,
      );
      assert.equal(batch.eta, null);
      assert.equal(batch.error, null);
    });

    it('returns 404 for an unknown id, and for a batch of another session of the same organization', async () => {
      assertError(
        await get(batchPath(online, '/batch_01J9Z3M4X8Q2N5R7T0V6W1Y3ZB'), online.tokens.read),
        404,
        'not_found',
      );
      const res = await createBatch(online, ['nope']);
      const other = { ...online, sessionId: await newSession(online.organizationId) };
      assertError(await get(batchPath(other, `/${res.body.id}`), online.tokens.read), 404, 'not_found');
    });

    it("returns 404 for another organization's batch", async () => {
      const res = await createBatch(online, ['nope']);
      assertError(await get(batchPath(online, `/${res.body.id}`), stranger.tokens.read), 404, 'not_found');
    });

    it('returns 400 for a malformed id', async () => {
      const details = assertError(
        await get(batchPath(online, `/${encodeURIComponent('bad id!')}`), online.tokens.read),
        400,
        'validation_error',
      );
      assert.ok('id' in details);
    });

    it('needs the read capability', async () => {
      const res = await createBatch(online, ['nope']);
      assertError(await get(batchPath(online, `/${res.body.id}`), online.tokens.send), 403, 'forbidden');
    });
  });

  describe('GET /contacts/check-batch (list)', () => {
    it("lists the session's batches newest first, cursor-paged", async () => {
      const t = await newTenant();
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push((await createBatch(t, ['nope'])).body.id);
      const first = await get(batchPath(t, '?limit=2'), t.tokens.read);
      assert.equal(first.status, 200);
      assert.deepEqual(
        first.body.data.map((b: any) => b.id),
        [ids[2], ids[1]],
      );
      const second = await get(
        batchPath(t, `?limit=2&cursor=${encodeURIComponent(first.body.nextCursor)}`),
        t.tokens.read,
      );
      assert.deepEqual(
        second.body.data.map((b: any) => b.id),
        [ids[0]],
      );
      assert.equal(second.body.nextCursor, '');
    });
  });

  describe('GET /contacts/check-batch/{id}/results', () => {
    let batchId: string;
    const given = [
      ...onWhatsApp.slice(0, 3).map((p) => `+${p}`),
      ...offWhatsApp.slice(0, 3),
      'not, a number',
      '=SUM(A1)',
    ];

    before(async () => {
      batchId = (await createBatch(online, given)).body.id;
      await waitForBatch(online, batchId, finished, 'to finish');
    });

    it('pages through every row in input order, without repeats', async () => {
      const seen: any[] = [];
      let cursor = '';
      for (let page = 0; page < 10; page++) {
        const res = await get(
          batchPath(online, `/${batchId}/results?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`),
          online.tokens.read,
        );
        assert.equal(res.status, 200);
        assert.ok(res.body.data.length <= 3);
        seen.push(...res.body.data);
        cursor = res.body.nextCursor;
        if (!cursor) break;
      }
      assert.deepEqual(
        seen.map((r) => r.phone),
        given,
      );
    });

    it('returns jid, lid and the form WhatsApp knows for numbers on WhatsApp, null jid and no lid otherwise, and when and how each was checked', async () => {
      const rows = await allResults(online, batchId);
      const on = rows[0];
      assert.deepEqual(Object.keys(on).sort(), [
        'cached',
        'checkedAt',
        'jid',
        'lid',
        'matchedAs',
        'normalized',
        'phone',
        'reason',
        'status',
      ]);
      const expectedOn = {
        phone: `+${onWhatsApp[0]}`,
        normalized: onWhatsApp[0],
        status: 'on_whatsapp',
        jid: `${onWhatsApp[0]}@s.whatsapp.net`,
        lid: `9${onWhatsApp[0]}@lid`,
        matchedAs: onWhatsApp[0],
        reason: null,
      };
      assert.deepEqual({ ...on, checkedAt: 0, cached: false }, { ...expectedOn, checkedAt: 0, cached: false });
      const off = rows[3];
      assert.deepEqual(
        { ...off, checkedAt: 0, cached: false },
        {
          phone: offWhatsApp[0],
          normalized: offWhatsApp[0],
          status: 'not_on_whatsapp',
          jid: null,
          matchedAs: null,
          reason: null,
          checkedAt: 0,
          cached: false,
        },
      );
      for (const row of rows) assert.equal(typeof row.checkedAt, 'number');
      for (const row of rows) assert.equal(typeof row.cached, 'boolean');
    });

    it('filters by status', async () => {
      const rows = await allResults(online, batchId, '&status=on_whatsapp');
      assert.deepEqual(
        rows.map((r) => r.normalized),
        onWhatsApp.slice(0, 3),
      );
      assertError(
        await get(batchPath(online, `/${batchId}/results?status=maybe`), online.tokens.read),
        400,
        'validation_error',
      );
    });

    it('clamps the limit like the contacts list: 0 means the default, out-of-range values are clamped', async () => {
      for (const [limit, expected] of [
        ['0', 8],
        ['-5', 1],
        ['99999', 8],
      ] as const) {
        const res = await get(batchPath(online, `/${batchId}/results?limit=${limit}`), online.tokens.read);
        assert.equal(res.status, 200);
        assert.equal(res.body.data.length, expected, `limit=${limit}`);
      }
      const details = assertError(
        await get(batchPath(online, `/${batchId}/results?limit=ten`), online.tokens.read),
        400,
        'validation_error',
      );
      assert.ok('limit' in details);
    });

    it('refuses a forged cursor, and a cursor of another batch or another status filter', async () => {
      assertError(
        await get(batchPath(online, `/${batchId}/results?cursor=abc.def`), online.tokens.read),
        400,
        'validation_error',
      );
      const page = await get(batchPath(online, `/${batchId}/results?limit=1`), online.tokens.read);
      const other = (await createBatch(online, ['nope', 'nah'])).body.id;
      assertError(
        await get(
          batchPath(online, `/${other}/results?cursor=${encodeURIComponent(page.body.nextCursor)}`),
          online.tokens.read,
        ),
        400,
        'validation_error',
      );
      assertError(
        await get(
          batchPath(online, `/${batchId}/results?status=invalid&cursor=${encodeURIComponent(page.body.nextCursor)}`),
          online.tokens.read,
        ),
        400,
        'validation_error',
      );
    });

    it('returns every row as CSV with Accept: text/csv, quoting where needed and defusing formulas', async () => {
      const res = await call('GET', batchPath(online, `/${batchId}/results?limit=1`), {
        token: online.tokens.read,
        headers: { accept: 'text/csv' },
      });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/csv/);
      const lines = res.text.trimEnd().split('\n');
      assert.equal(lines[0], 'phone,normalized,status,jid,lid,checkedAt,cached,matchedAs,reason');
      assert.equal(lines.length, 1 + given.length, 'every row, whatever the limit');
      assert.match(
        lines[1]!,
        new RegExp(
          `^\\+${onWhatsApp[0]},${onWhatsApp[0]},on_whatsapp,${onWhatsApp[0]}@s\\.whatsapp\\.net,9${onWhatsApp[0]}@lid,\\d+,(true|false),${onWhatsApp[0]},$`,
        ),
      );
      assert.match(
        lines[4]!,
        new RegExp(`^${offWhatsApp[0]},${offWhatsApp[0]},not_on_whatsapp,,,\\d+,(true|false),,$`),
      );
      assert.match(lines[7]!, /^"not, a number",,invalid,,,\d+,false,,not_a_number$/);
      assert.match(lines[8]!, /^'=SUM\(A1\),,invalid,,,\d+,false,,not_a_number$/);
    });

    it('returns the CSV of one status only when filtered', async () => {
      const res = await call('GET', batchPath(online, `/${batchId}/results?status=invalid`), {
        token: online.tokens.read,
        headers: { accept: 'text/csv' },
      });
      assert.equal(res.text.trimEnd().split('\n').length, 3);
    });

    it("returns 404 for an unknown batch and for another organization's", async () => {
      assertError(
        await get(batchPath(online, `/batch_01J9Z3M4X8Q2N5R7T0V6W1Y3ZB/results`), online.tokens.read),
        404,
        'not_found',
      );
      assertError(await get(batchPath(online, `/${batchId}/results`), stranger.tokens.read), 404, 'not_found');
    });

    it('needs the read capability', async () => {
      assertError(await get(batchPath(online, `/${batchId}/results`), online.tokens.send), 403, 'forbidden');
    });
  });

  describe('a session that is not connected', () => {
    it('keeps the batch queued and waiting, then runs it once the session is paired', async () => {
      const phones = [...onWhatsApp.slice(0, 2), ...offWhatsApp.slice(0, 3)];
      const res = await createBatch(unpaired, phones);
      assert.equal(res.status, 202);
      const waiting = await waitForBatch(unpaired, res.body.id, (b) => b.waitingForSession, 'to wait for its session');
      assert.equal(waiting.status, 'queued');
      assert.equal(waiting.eta, null);
      assert.equal(waiting.progress.done, 0);
      const pending = await allResults(unpaired, res.body.id);
      assert.ok(pending.every((r) => r.status === 'pending' && r.checkedAt === null && r.jid === null));

      await simControl(testEnv.redis, testEnv.redisPrefix, {
        sessionId: unpaired.sessionId,
        action: 'pair',
        phone: selves[4]!.phone,
      });
      const done = await waitForBatch(unpaired, res.body.id, finished, 'to finish after pairing');
      assert.equal(done.status, 'completed');
      assert.equal(done.waitingForSession, false);
      assert.deepEqual(done.counts, { onWhatsApp: 2, notOnWhatsApp: 3, invalid: 0 });
    });
  });

  describe('DELETE /contacts/check-batch/{id}', () => {
    it('cancels a waiting batch with 204; its rows stay pending and readable', async () => {
      const t = await newTenant();
      const res = await createBatch(t, offWhatsApp.slice(0, 3));
      const del = await call('DELETE', batchPath(t, `/${res.body.id}`), { token: t.tokens.read });
      assert.equal(del.status, 204);
      assert.equal(del.text, '');
      const batch = await batchOf(t, res.body.id);
      assert.equal(batch.status, 'cancelled');
      assert.notEqual(batch.finishedAt, null);
      assert.equal(batch.eta, null);
      assert.ok((await allResults(t, res.body.id)).every((r) => r.status === 'pending'));
    });

    it('stops a running batch between chunks', async () => {
      const phones = numbers(1_000);
      const res = await createBatch(slow, phones);
      await waitForBatch(slow, res.body.id, (b) => b.progress.done >= CHUNK, 'to check its first chunk');
      const asked = Date.now();
      const running = await batchOf(slow, res.body.id);
      assert.equal(running.status, 'running');
      // From the pace so far: later than now, since numbers remain.
      assert.ok(
        typeof running.eta === 'number' && running.eta > asked,
        `a running batch has an ETA (got ${running.eta})`,
      );
      assert.equal((await call('DELETE', batchPath(slow, `/${res.body.id}`), { token: slow.tokens.read })).status, 204);
      const atCancel = await batchOf(slow, res.body.id);
      const queue = batchQueue(slow.sessionId);
      try {
        await waitFor(
          async () => ['completed', 'unknown'].includes(await queue.getJobState(res.body.id)),
          'the batch job to stop',
        );
      } finally {
        await queue.close();
      }
      const final = await batchOf(slow, res.body.id);
      assert.equal(final.status, 'cancelled');
      assert.ok(
        final.progress.done <= atCancel.progress.done + CHUNK,
        `at most the chunk in flight is recorded after the cancel (${atCancel.progress.done} → ${final.progress.done})`,
      );
      assert.ok(final.progress.done < phones.length);
      const pending = await allResults(slow, res.body.id, '&status=pending');
      assert.equal(pending.length, phones.length - final.progress.done);
    });

    it('answers 409 conflict for a batch that already finished or was cancelled', async () => {
      const done = (await createBatch(online, ['nope'])).body.id;
      assertError(await call('DELETE', batchPath(online, `/${done}`), { token: online.tokens.read }), 409, 'conflict');
      const t = await newTenant();
      const waiting = (await createBatch(t, offWhatsApp.slice(0, 1))).body.id;
      assert.equal((await call('DELETE', batchPath(t, `/${waiting}`), { token: t.tokens.read })).status, 204);
      assertError(await call('DELETE', batchPath(t, `/${waiting}`), { token: t.tokens.read }), 409, 'conflict');
    });

    it("returns 404 for an unknown batch and for another organization's", async () => {
      assertError(
        await call('DELETE', batchPath(online, '/batch_01J9Z3M4X8Q2N5R7T0V6W1Y3ZB'), { token: online.tokens.read }),
        404,
        'not_found',
      );
      const t = await newTenant();
      const waiting = (await createBatch(t, offWhatsApp.slice(0, 1))).body.id;
      assertError(await call('DELETE', batchPath(t, `/${waiting}`), { token: stranger.tokens.read }), 404, 'not_found');
      assert.equal((await batchOf(t, waiting)).status, 'queued');
    });

    it('needs the read capability', async () => {
      const t = await newTenant();
      const waiting = (await createBatch(t, offWhatsApp.slice(0, 1))).body.id;
      assertError(await call('DELETE', batchPath(t, `/${waiting}`), { token: t.tokens.send }), 403, 'forbidden');
    });
  });

  describe('WhatsApp failures', () => {
    it('backs off and retries chunks WhatsApp answered rate-overlimit, until every number is checked', async () => {
      const res = await createBatch(flaky, flakyNumbers);
      const done = await waitForBatch(flaky, res.body.id, finished, 'to finish', 50_000);
      assert.equal(done.status, 'completed');
      assert.deepEqual(done.counts, { onWhatsApp: 100, notOnWhatsApp: 400, invalid: 0 });
      const queries = await new SimCallLog(testEnv.redis, testEnv.redisPrefix).queries(flaky.sessionId);
      assert.ok(
        queries > flakyNumbers.length / CHUNK,
        `some chunks were retried (${queries} queries for ${flakyNumbers.length / CHUNK} chunks)`,
      );
    });

    it('fails the batch, with the reason, when a chunk keeps failing with a server error', async () => {
      const res = await createBatch(broken, offWhatsApp.slice(0, 3));
      const done = await waitForBatch(broken, res.body.id, finished, 'to finish');
      assert.equal(done.status, 'failed');
      assert.equal(done.error.code, 'internal');
      assert.equal(typeof done.error.message, 'string');
      assert.notEqual(done.finishedAt, null);
      assert.equal(done.progress.done, 0);
    });
  });
});

describe('SessionRateLimiter (Redis token bucket and daily cap)', () => {
  const keys = () => new RedisKeys(`${testEnv.redisPrefix}:rl${uniq()}`, 16);

  it('lets the first chunk through, then makes the next wait for the budget it needs', async () => {
    const limiter = new SessionRateLimiter(testEnv.redis, keys(), 60, 50);
    assert.deepEqual(await limiter.take('sess_a', 50), { kind: 'granted', count: 50 });
    const next = await limiter.take('sess_a', 50);
    assert.equal(next.kind, 'pace');
    const wait = next.kind === 'pace' ? next.waitMs : 0;
    assert.ok(wait > 49_000 && wait <= 50_000, `50 numbers at 60/min wait about 50 s, got ${wait}`);
  });

  it('shares one budget among every limiter (worker) of a session, and not between sessions', async () => {
    const k = keys();
    const [one, two] = [
      new SessionRateLimiter(testEnv.redis, k, 60, 50),
      new SessionRateLimiter(testEnv.redis, k, 60, 50),
    ];
    assert.equal((await one.take('sess_a', 30)).kind, 'granted');
    assert.equal((await two.take('sess_a', 30)).kind, 'pace');
    assert.equal((await two.take('sess_b', 30)).kind, 'granted');
  });

  it('gives back what a smaller chunk did not use', async () => {
    const limiter = new SessionRateLimiter(testEnv.redis, keys(), 60, 50);
    assert.equal((await limiter.take('sess_a', 50)).kind, 'granted');
    await limiter.refund('sess_a', 30);
    assert.deepEqual(await limiter.take('sess_a', 30), { kind: 'granted', count: 30 });
  });

  it('never waits when the limit is lifted (0)', async () => {
    const limiter = new SessionRateLimiter(testEnv.redis, keys(), 0, 50);
    for (let i = 0; i < 5; i++) assert.deepEqual(await limiter.take('sess_a', 50), { kind: 'granted', count: 50 });
  });

  it('grants at most the daily cap per session and UTC day, the last grant cut to what is left, then says until when', async () => {
    const k = keys();
    const limiter = new SessionRateLimiter(testEnv.redis, k, 0, 50, 120);
    assert.deepEqual(await limiter.take('sess_a', 50), { kind: 'granted', count: 50 });
    assert.deepEqual(await limiter.take('sess_a', 50), { kind: 'granted', count: 50 });
    assert.deepEqual(await limiter.take('sess_a', 50), { kind: 'granted', count: 20 });
    const capped = await limiter.take('sess_a', 50);
    const nextMidnight = (Math.floor(Date.now() / 86_400_000) + 1) * 86_400_000;
    assert.equal(capped.kind, 'daily_limit');
    if (capped.kind === 'daily_limit') {
      assert.ok(
        Math.abs(capped.resumesAt - nextMidnight) <= 1_000,
        `resumes at the next UTC midnight (${new Date(capped.resumesAt).toISOString()})`,
      );
      assert.ok(capped.waitMs > 0 && capped.waitMs <= 86_400_000);
    }
    assert.deepEqual(
      await limiter.take('sess_b', 50),
      { kind: 'granted', count: 50 },
      'another session has its own cap',
    );
    // The day turns: the count recorded for yesterday no longer holds the session back.
    await testEnv.redis.hset(k.batchRateBucket('sess_a'), 'day', String(Math.floor(Date.now() / 86_400_000) - 1));
    assert.deepEqual(await limiter.take('sess_a', 50), { kind: 'granted', count: 50 });
  });
});

describe('bulk number checks across worker failures', function () {
  this.timeout(120_000);
  let workers: GatewayProcess[] = [];

  afterEach(async () => {
    await killWorkersAndFreeShards(workers);
    workers = [];
  });

  /** Two workers sharing the shards, and a session holding a 2,000-number batch (400 on WhatsApp) in flight. */
  async function batchInFlight() {
    const t = await newTenant({ sessionId: `sess_cbk_${uniq()}` });
    const self = account(numbers(1)[0]!, 'gateway account');
    const phones = numbers(2_000);
    const registered = phones.filter((_, i) => i % 5 === 0);
    const world = writeSimWorld(`check-batch-kill-${uniq()}`, {
      accounts: [self, ...registered.map((p) => account(p))],
      operations: { onWhatsApp: { latencyMs: 60 } },
      sessions: { [t.sessionId]: { phone: self.phone } },
    });
    const env = { LEASE_TTL_MS: '3000', BATCH_RATE_PER_MINUTE: '0', BATCH_SESSION_POLL_MS: '200' };
    const names = [`cbk-a-${uniq()}`, `cbk-b-${uniq()}`];
    workers = names.map((name) => testEnv.startWorker(world, env, name));
    await waitFor(async () => [...(await leaseHolders()).values()].join() === '8,8', 'an 8/8 split', 30_000);
    await waitUntilOnline([t.sessionId]);
    const holderName = await testEnv.redis.get(testEnv.keys.presence(t.sessionId));
    const holder = workers[names.indexOf(holderName!)]!;
    assert.ok(holder, `the session is held by one of the two workers (${holderName})`);
    const res = await createBatch(t, phones);
    assert.equal(res.status, 202);
    await waitForBatch(t, res.body.id, (b) => b.progress.done >= 300, 'to be under way');
    return { t, id: res.body.id as string, phones, registered, holder };
  }

  async function assertCheckedOnce(t: Tenant, id: string, phones: string[], registered: string[]) {
    const batch = await waitForBatch(t, id, finished, 'to finish on the other worker', 60_000);
    assert.equal(batch.status, 'completed');
    assert.deepEqual(batch.progress, { done: phones.length, total: phones.length });
    assert.deepEqual(batch.counts, {
      onWhatsApp: registered.length,
      notOnWhatsApp: phones.length - registered.length,
      invalid: 0,
    });
    const rows = await allResults(t, id);
    assert.equal(rows.length, phones.length);
    const on = new Set(registered);
    for (const row of rows)
      assert.equal(row.status, on.has(row.normalized) ? 'on_whatsapp' : 'not_on_whatsapp', row.normalized);
    return new SimCallLog(testEnv.redis, testEnv.redisPrefix).askedNumbers(t.sessionId);
  }

  it('finishes on the surviving worker after the one running it is killed (-9), re-asking at most the chunk in flight', async () => {
    const { t, id, phones, registered, holder } = await batchInFlight();
    await holder.stop('SIGKILL');
    const asked = await assertCheckedOnce(t, id, phones, registered);
    for (const phone of phones) assert.ok((asked.get(phone) ?? 0) >= 1, `${phone} was asked`);
    const twice = phones.filter((p) => (asked.get(p) ?? 0) > 1);
    assert.ok(twice.length <= CHUNK, `at most one chunk asked twice, got ${twice.length}`);
    assert.ok(phones.every((p) => (asked.get(p) ?? 0) <= 2));
  });

  it('hands the batch over between chunks on SIGTERM: every number asked exactly once', async () => {
    const { t, id, phones, registered, holder } = await batchInFlight();
    assert.equal(await holder.stop('SIGTERM'), 0);
    const asked = await assertCheckedOnce(t, id, phones, registered);
    assert.deepEqual(
      phones.filter((p) => asked.get(p) !== 1),
      [],
    );
  });
});
