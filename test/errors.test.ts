import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { assertError, assertUnauthorized } from './support/assert-error.js';
import { newTenant, seedContacts, type Tenant } from './support/fixtures.js';
import { call, get } from './support/http.js';
import { testEnv } from './support/hooks.js';
import { freePort, GatewayProcess, waitFor } from './support/processes.js';
import type { RunningApi } from './support/test-env.js';

/** An api process that is up (/healthz) but need not be ready, e.g. because MySQL is unreachable. */
async function startLiveApi(overrides: Record<string, string>, name: string): Promise<RunningApi> {
  const port = await freePort();
  const proc = GatewayProcess.start(
    `${testEnv.runId}-${name}`,
    'dist/api/main.js',
    testEnv.env({ HOST: '127.0.0.1', PORT: String(port), ...overrides }),
  );
  testEnv.processes.push(proc);
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (!proc.running) throw new Error(`${name} exited with ${proc.child.exitCode}`);
    return (await fetch(`${baseUrl}/healthz`)).status === 200;
  }, `${name} to come up`);
  return { process: proc, baseUrl };
}

/** A TCP hop in front of MySQL that a test can cut and restore, without touching the shared server. */
class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  async open(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
    this.server.listen(this.port, '127.0.0.1');
    await once(this.server, 'listening');
  }

  async close(): Promise<void> {
    if (!this.server) return;
    const closed = new Promise((resolve) => this.server!.close(resolve));
    for (const socket of this.sockets) socket.destroy();
    await closed;
    this.server = undefined;
  }
}

describe('error envelope', () => {
  let t: Tenant;

  before(async () => {
    t = await newTenant();
  });

  describe('unknown routes', () => {
    it('answers an unknown path outside /api with 404 not_found', async () => {
      const res = await get('/no/such/path');
      assertError(res, 404, 'not_found');
      assert.equal(res.body.error.message, 'no route for GET /no/such/path');
    });

    it('answers an unknown path under /api with 404 not_found for an authenticated caller', async () => {
      assertError(await get('/api/v1/no-such-thing', t.tokens.all), 404, 'not_found');
    });

    it('asks an anonymous caller to authenticate before telling whether an /api path exists', async () => {
      assertUnauthorized(await get('/api/v1/no-such-thing'));
    });

    it('answers an unsupported method on a known path with 404 not_found', async () => {
      assertError(
        await call('DELETE', `/api/v1/sessions/${t.sessionId}/contacts`, { token: t.tokens.all }),
        404,
        'not_found',
      );
    });
  });

  describe('request bodies', () => {
    const sessions = '/api/v1/sessions';

    it('answers malformed JSON with 400 validation_error naming the body', async () => {
      const res = await call('POST', sessions, { token: t.tokens.all, rawBody: '{"name": ' });
      const details = assertError(res, 400, 'validation_error');
      assert.deepEqual(Object.keys(details), ['body']);
    });

    it('never reads a body before authentication: malformed JSON without a token is a 401', async () => {
      assertUnauthorized(await call('POST', sessions, { rawBody: "{'single': 'quotes'}" }));
    });

    it('never reads the body of a request no route serves: 404 with the envelope, whatever the body', async () => {
      assertError(await call('POST', '/no/such/path', { rawBody: "{'single': 'quotes'}" }), 404, 'not_found');
    });

    it("answers a body over the route's size limit with 413 payload_too_large", async () => {
      const res = await call('POST', sessions, {
        token: t.tokens.all,
        rawBody: JSON.stringify({ name: 'x'.repeat(64 * 1024) }),
      });
      const details = assertError(res, 413, 'payload_too_large');
      assert.equal(details['body'], 'too large');
      assert.equal(details['limitBytes'], 16 * 1024);
    });

    it('answers an unsupported charset with 400 validation_error', async () => {
      const res = await call('POST', sessions, {
        token: t.tokens.all,
        rawBody: '{}',
        headers: { 'content-type': 'application/json; charset=klingon' },
      });
      assertError(res, 400, 'validation_error');
    });
  });

  describe('paths', () => {
    it('answers broken percent-encoding in a path parameter with 400 validation_error', async () => {
      assertError(await get('/api/v1/sessions/%E0%A4%A/contacts', t.tokens.read), 400, 'validation_error');
    });
  });

  describe('every error body', () => {
    it('is the envelope without a stack trace, whatever went wrong', async () => {
      const responses = await Promise.all([
        get(`/api/v1/sessions/${t.sessionId}/contacts?limit=abc&source=x`, t.tokens.read),
        get(`/api/v1/sessions/${t.sessionId}/contacts?cursor=forged`, t.tokens.read),
        get(`/api/v1/sessions/${t.sessionId}/contacts`, 'not-a-token'),
        get(
          `/api/v1/sessions/${t.sessionId}/contacts`,
          testEnv.jwks.sign({ org: t.organizationId, role: 'owner' }, { expiresIn: -3600 }),
        ),
        get(`/api/v1/sessions/${t.sessionId}/contacts`, t.tokens.none),
        get(`/api/v1/sessions/sess_missing/contacts/1@lid`, t.tokens.read),
        call('POST', '/api/v1/sessions', { token: t.tokens.all, rawBody: '[1,' }),
      ]);
      const expected: [number, string][] = [
        [400, 'validation_error'],
        [400, 'validation_error'],
        [401, 'unauthorized'],
        [401, 'unauthorized'],
        [403, 'forbidden'],
        [404, 'not_found'],
        [400, 'validation_error'],
      ];
      responses.forEach((res, i) => assertError(res, expected[i]![0], expected[i]![1] as never));
    });
  });

  describe('MySQL unreachable', () => {
    let api: RunningApi;
    let seeded: Tenant;

    before(async () => {
      seeded = await newTenant();
      await seedContacts(seeded.sessionId, [{ lid: '400000000000001@lid', name: 'Stored', dm: true }]);
      api = await startLiveApi({ DATABASE_URL: 'mysql://root@127.0.0.1:1/x' }, 'api-no-mysql');
    });

    after(async () => {
      await api.process.stop();
    });

    const jwt = () => testEnv.jwks.sign({ org: seeded.organizationId, role: 'owner' });

    it('answers a stored endpoint with 503 unavailable (login JWT)', async () => {
      const res = await call('GET', `/api/v1/sessions/${seeded.sessionId}/contacts`, {
        token: jwt(),
        baseUrl: api.baseUrl,
      });
      assertError(res, 503, 'unavailable');
    });

    it('answers get-one with 503 unavailable', async () => {
      const res = await call('GET', `/api/v1/sessions/${seeded.sessionId}/contacts/400000000000001@lid`, {
        token: jwt(),
        baseUrl: api.baseUrl,
      });
      assertError(res, 503, 'unavailable');
    });

    it('answers an API key, which needs MySQL to verify, with 503 unavailable rather than 401', async () => {
      const res = await call('GET', `/api/v1/sessions/${seeded.sessionId}/contacts`, {
        token: seeded.tokens.read,
        baseUrl: api.baseUrl,
      });
      assertError(res, 503, 'unavailable');
    });

    it('keeps /healthz at 200 and reports /readyz 503 with the failing check', async () => {
      const health = await call('GET', '/healthz', { baseUrl: api.baseUrl });
      assert.equal(health.status, 200);
      const ready = await call('GET', '/readyz', { baseUrl: api.baseUrl });
      assert.equal(ready.status, 503);
      assert.equal(ready.body.checks.mysql, false);
      assert.equal(ready.body.checks.redis, true);
    });

    it('stays up after answering 503s', async () => {
      for (let i = 0; i < 5; i++)
        await call('GET', `/api/v1/sessions/${seeded.sessionId}/contacts`, { token: jwt(), baseUrl: api.baseUrl });
      assert.ok(api.process.running);
      assert.equal((await call('GET', '/healthz', { baseUrl: api.baseUrl })).status, 200);
    });
  });

  describe('MySQL lost and back', () => {
    it('answers 503 while MySQL is unreachable and recovers by itself, at start-up and after losing it', async function () {
      this.timeout(120_000);
      const own = await newTenant();
      await seedContacts(own.sessionId, [{ name: 'Survivor', dm: true }]);
      const mysql = new URL(testEnv.databaseUrl);
      const proxy = new TcpProxy(await freePort(), { host: mysql.hostname, port: Number(mysql.port || 3306) });
      const api = await startLiveApi(
        { DATABASE_URL: `mysql://root@127.0.0.1:${proxy.port}/${testEnv.databaseName}` },
        'api-mysql-flap',
      );
      const list = async () => {
        const res = await call('GET', `/api/v1/sessions/${own.sessionId}/contacts`, {
          token: own.tokens.read,
          baseUrl: api.baseUrl,
        });
        if (res.status !== 200) assertError(res, 503, 'unavailable');
        return res;
      };
      try {
        assert.equal((await list()).status, 503);
        await proxy.open();
        const first = await waitFor(
          async () => {
            const res = await list();
            return res.status === 200 && res;
          },
          'the api to connect once MySQL is reachable',
          60_000,
          250,
        );
        assert.equal(first.body.data[0].name, 'Survivor');

        await proxy.close();
        await waitFor(async () => (await list()).status === 503, 'the api to notice MySQL is gone', 30_000, 100);
        assert.equal((await call('GET', '/readyz', { baseUrl: api.baseUrl })).status, 503);
        assert.ok(api.process.running);

        await proxy.open();
        await waitFor(async () => (await list()).status === 200, 'the api to recover once MySQL is back', 60_000, 250);
        assert.equal((await call('GET', '/readyz', { baseUrl: api.baseUrl })).status, 200);
      } finally {
        await api.process.stop();
        await proxy.close();
      }
    });
  });
});
