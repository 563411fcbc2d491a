import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { newTenant, type Tenant } from './support/fixtures.js';
import { testEnv } from './support/hooks.js';
import { call } from './support/http.js';
import { LOG_DIR, waitFor, type GatewayProcess } from './support/processes.js';
import { newPhone, waitUntilOnline, writeSimWorld } from './support/sim-world.js';

const uniq = () => Math.random().toString(36).slice(2, 10);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The JSON log lines of a process of this run (one object per line, as pino writes them). */
function logLines(processName: string): Record<string, unknown>[] {
  const file = path.join(LOG_DIR, `${testEnv.runId}-${processName}.log`);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('request ids in the structured logs', function () {
  this.timeout(60_000);
  let tenant: Tenant;

  before(async () => {
    tenant = await newTenant();
  });

  describe('X-Request-Id', () => {
    it('is taken from the request when it is sane and echoed on the response', async () => {
      const id = `req-${uniq()}`;
      const res = await call('GET', `/api/v1/sessions/${tenant.sessionId}/contacts`, {
        token: tenant.tokens.read,
        headers: { 'x-request-id': id },
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-request-id'), id);
    });

    it('is generated when absent or unusable, so a client cannot inject into the logs', async () => {
      for (const headers of <Record<string, string>[]>[
        {},
        { 'x-request-id': 'has spaces and "quotes"' },
        { 'x-request-id': 'x'.repeat(101) },
      ]) {
        const res = await call('GET', '/healthz', { headers });
        assert.match(res.headers.get('x-request-id') ?? '', UUID, JSON.stringify(headers));
      }
    });

    it("appears in the api's access log line of the request", async () => {
      const id = `req-${uniq()}`;
      // 4xx responses are logged at info, the level the run's api logs at.
      const res = await call('GET', `/api/v1/sessions/${tenant.sessionId}/contacts/400000000000001@lid`, {
        token: tenant.tokens.read,
        headers: { 'x-request-id': id },
      });
      assert.equal(res.status, 404);
      const line = await waitFor(
        async () => logLines('api').find((l) => (l['req'] as { id?: string } | undefined)?.id === id),
        'the access log line',
      );
      assert.equal((line['res'] as { statusCode: number }).statusCode, 404);
    });
  });

  describe('log levels of 5xx answers', () => {
    it('logs a 5xx the gateway answers by design (a session not connected) at warn, without a stack trace', async () => {
      const id = `req-${uniq()}`;
      const res = await call(
        'GET',
        `/api/v1/sessions/${tenant.sessionId}/contacts/4915111111111@s.whatsapp.net/about`,
        { token: tenant.tokens.read, headers: { 'x-request-id': id } },
      );
      assert.equal(res.status, 501);
      const access = await waitFor(
        async () => logLines('api').find((l) => (l['req'] as { id?: string } | undefined)?.id === id),
        'the access log line',
      );
      assert.equal(access['level'], 40, 'warn');
      const answer = await waitFor(
        async () => logLines('api').find((l) => l['reqId'] === id),
        'the error handler line',
      );
      assert.equal(answer['level'], 40, 'warn');
      assert.equal(answer['code'], 'not_implemented');
      assert.ok(!('err' in answer) && !JSON.stringify(answer).includes('    at '), 'no stack trace');
    });
  });

  describe('a live operation', () => {
    const self = { phone: newPhone(), name: 'Gateway account' };
    const friend = { phone: newPhone(), name: 'Friend' };
    const workerName = `rid-w-${uniq()}`;
    let online: Tenant;
    let worker: GatewayProcess;

    before(async () => {
      online = await newTenant({ sessionId: `sess_rid_${uniq()}` });
      const world = writeSimWorld(`rid-${uniq()}`, {
        accounts: [self, friend].map((a) => ({ ...a, lid: `9${a.phone}@lid` })),
        sessions: { [online.sessionId]: { phone: self.phone, paired: true } },
      });
      // The worker logs each live operation at debug level.
      worker = testEnv.startWorker(world, { LOG_LEVEL: 'debug' }, workerName);
      await waitUntilOnline([online.sessionId]);
    });

    after(async () => {
      await worker?.stop();
    });

    it("carries the request id into the worker's log line for the operation", async () => {
      const id = `req-${uniq()}`;
      const res = await call('GET', `/api/v1/sessions/${online.sessionId}/contacts/check?phone=${friend.phone}`, {
        token: online.tokens.read,
        headers: { 'x-request-id': id },
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-request-id'), id);
      const line = await waitFor(
        async () => logLines(workerName).find((l) => l['requestId'] === id),
        `a worker log line with requestId ${id}`,
      );
      assert.equal(line['op'], 'contacts.check');
      assert.equal(line['sessionId'], online.sessionId);
      assert.equal(line['msg'], 'live operation done');
      assert.equal(line['service'], 'worker');
    });

    it('carries a generated request id just the same', async () => {
      const res = await call(
        'GET',
        `/api/v1/sessions/${online.sessionId}/contacts/${friend.phone}@s.whatsapp.net/about`,
        { token: online.tokens.read },
      );
      assert.equal(res.status, 200);
      const id = res.headers.get('x-request-id') ?? '';
      assert.match(id, UUID);
      const line = await waitFor(
        async () => logLines(workerName).find((l) => l['requestId'] === id),
        `a worker log line with requestId ${id}`,
      );
      assert.equal(line['op'], 'contacts.about');
    });
  });
});
