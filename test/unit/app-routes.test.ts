import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { createApp } from '../../api/app.js';
import { PushedCache } from '../../api/cache/pushed-cache.js';
import { LiveClient } from '../../api/live/live-client.js';
import { ApiMetrics } from '../../api/metrics/api-metrics.js';
import { loadConfig } from '../../shared/config.js';
import { JobSigningKey } from '../../shared/job-signing/job-signing-key.js';
import { RedisKeys } from '../../shared/redis-keys.js';
import { asRedis, silentLogger } from './fakes.js';

/**
 * The Express app built in this process with no MariaDB and no Redis behind it: what it answers
 * before any store is asked (health, documents, authentication refusals, unknown routes).
 */
describe('unit: routes through the Express app in-process', () => {
  const METRICS_TOKEN = 'metrics-token-0123456789';
  let server: Server;
  let base: string;
  let live: LiveClient;
  let redis: Redis;
  let ready = { mysql: true, redis: true };

  before(async () => {
    const config = loadConfig({
      LOG_LEVEL: 'silent',
      JOB_SIGNING_SECRET: 'x'.repeat(32),
      METRICS_TOKEN,
      SHARD_COUNT: '1',
    });
    // Never connected: any route that reached Redis here would fail the test.
    redis = new Redis({ lazyConnect: true, port: 1, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    redis.on('error', () => undefined);
    const db = {} as DataSource;
    const keys = new RedisKeys('unit', config.shards.count);
    const subscriber = asRedis({ on: () => undefined, subscribe: async () => 1 });
    live = new LiveClient(
      config,
      keys,
      redis,
      subscriber,
      new JobSigningKey(config.jobSigningSecret, db),
      silentLogger,
    );
    const { app } = createApp({
      config,
      logger: silentLogger,
      db,
      live,
      redis,
      keys,
      metrics: new ApiMetrics([], silentLogger),
      queues: [],
      ownership: new PushedCache(0),
      apiKeyCache: new PushedCache(0),
      signing: new JobSigningKey(config.jobSigningSecret, db),
      readiness: async () => ({ ...ready }),
      metricsText: async () => 'wag_up 1\n',
    });
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await live.stop();
    redis.disconnect();
  });

  it('answers /healthz', async () => {
    const res = await fetch(`${base}/healthz`);
    assert.deepEqual([res.status, await res.json()], [200, { status: 'ok' }]);
  });

  it('answers /readyz 503 with the failing check named while a dependency is down', async () => {
    ready = { mysql: true, redis: false };
    const down = await fetch(`${base}/readyz`);
    assert.deepEqual(
      [down.status, await down.json()],
      [503, { status: 'unavailable', checks: { mysql: true, redis: false } }],
    );
    ready = { mysql: true, redis: true };
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
  });

  it('serves the OpenAPI document with the api routes', async () => {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    assert.match(doc.openapi, /^3\./);
    assert.ok(Object.keys(doc.paths).some((p) => p.startsWith('/api/v1/sessions')));
  });

  it('refuses /api without a bearer token, in the error envelope, before reading any store', async () => {
    const refusals: [string | undefined, RegExp][] = [
      [undefined, /^missing Authorization/],
      ['Basic abc', /must be "Bearer <token>"/],
      ['Bearer', /must be "Bearer <token>"/],
    ];
    for (const [authorization, message] of refusals) {
      const res = await fetch(`${base}/api/v1/sessions`, { headers: authorization ? { authorization } : {} });
      const body = (await res.json()) as { error: { code: string; message: string; details: unknown } };
      assert.equal(res.status, 401, `Authorization: ${authorization}`);
      assert.equal(body.error.code, 'unauthorized');
      assert.match(body.error.message, message, 'refused by the authentication layer, not by a route further on');
    }
  });

  it('answers an unknown route 404 in the envelope, echoing a sane request id', async () => {
    const res = await fetch(`${base}/nowhere`, { headers: { 'x-request-id': 'req-123' } });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('x-request-id'), 'req-123');
    assert.deepEqual(await res.json(), {
      error: { code: 'not_found', message: 'no route for GET /nowhere', details: {} },
    });
  });

  it('serves /metrics only with METRICS_TOKEN when one is set', async () => {
    assert.equal((await fetch(`${base}/metrics`)).status, 401);
    assert.equal(
      (await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status,
      401,
    );
    const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    assert.deepEqual([res.status, await res.text()], [200, 'wag_up 1\n']);
  });
});
