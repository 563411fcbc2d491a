import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { assertError } from './support/assert-error.js';
import { newTenant, type Tenant } from './support/fixtures.js';
import { testEnv } from './support/hooks.js';
import { call } from './support/http.js';
import { freePort, LOG_DIR, startPrivateRedis, waitFor } from './support/processes.js';
import type { RunningApi } from './support/test-env.js';

const uniq = () => Math.random().toString(36).slice(2, 10);
const LIMIT = 5;

function listContacts(t: Tenant, api: RunningApi, token = t.tokens.read) {
  return call('GET', `/api/v1/sessions/${t.sessionId}/contacts`, { token, baseUrl: api.baseUrl });
}

describe('per-organization rate limit on /api (RATE_LIMIT_PER_MINUTE)', function () {
  this.timeout(60_000);
  let limited: RunningApi;
  let sibling: RunningApi;

  before(async () => {
    [limited, sibling] = await Promise.all([
      testEnv.startApi({ RATE_LIMIT_PER_MINUTE: String(LIMIT) }, `api-rl-${uniq()}`),
      testEnv.startApi({ RATE_LIMIT_PER_MINUTE: String(LIMIT) }, `api-rl2-${uniq()}`),
    ]);
  });

  after(async () => {
    await Promise.all([limited?.process.stop(), sibling?.process.stop()]);
  });

  it('serves an organization its allowance with RateLimit headers, then answers 429 rate_limited with Retry-After', async () => {
    const t = await newTenant();
    for (let i = 1; i <= LIMIT; i++) {
      const res = await listContacts(t, limited);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('ratelimit-limit'), String(LIMIT));
      assert.equal(res.headers.get('ratelimit-remaining'), String(LIMIT - i));
      assert.equal(res.headers.get('ratelimit-policy'), `${LIMIT};w=60`);
      const reset = Number(res.headers.get('ratelimit-reset'));
      assert.ok(reset >= 1 && reset <= 60, `RateLimit-Reset ${reset}`);
    }
    const refused = await listContacts(t, limited);
    const details = assertError(refused, 429, 'rate_limited');
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    assert.equal(details['retryAfterSeconds'], retryAfter);
    assert.equal(details['limit'], LIMIT);
    assert.equal(refused.headers.get('ratelimit-remaining'), '0');
  });

  it('lets exactly the allowance through when a burst arrives at once, each with its own RateLimit-Remaining', async () => {
    const t = await newTenant();
    const burst = await Promise.all(Array.from({ length: LIMIT + 3 }, () => listContacts(t, limited)));
    const served = burst.filter((res) => res.status === 200);
    assert.equal(served.length, LIMIT);
    for (const refused of burst.filter((res) => res.status !== 200)) assertError(refused, 429, 'rate_limited');
    const remaining = served.map((res) => Number(res.headers.get('ratelimit-remaining'))).sort((a, b) => a - b);
    assert.deepEqual(
      remaining,
      Array.from({ length: LIMIT }, (_, i) => i),
    );
  });

  it('counts each organization on its own', async () => {
    const busy = await newTenant();
    const calm = await newTenant();
    for (let i = 0; i < LIMIT; i++) await listContacts(busy, limited);
    assertError(await listContacts(busy, limited), 429, 'rate_limited');
    assert.equal((await listContacts(calm, limited)).status, 200);
  });

  it("draws on one budget for all of an organization's API keys and login JWTs", async () => {
    const t = await newTenant();
    const jwt = testEnv.jwks.sign({ org: t.organizationId, role: 'owner' });
    for (let i = 0; i < 3; i++) assert.equal((await listContacts(t, limited, t.tokens.read)).status, 200);
    for (let i = 0; i < LIMIT - 3; i++) assert.equal((await listContacts(t, limited, jwt)).status, 200);
    assertError(await listContacts(t, limited, t.tokens.all), 429, 'rate_limited');
  });

  it('shares the budget between api instances, since it is counted in Redis', async () => {
    const t = await newTenant();
    for (let i = 0; i < 3; i++) assert.equal((await listContacts(t, limited)).status, 200);
    for (let i = 0; i < LIMIT - 3; i++) assert.equal((await listContacts(t, sibling)).status, 200);
    assertError(await listContacts(t, limited), 429, 'rate_limited');
    assertError(await listContacts(t, sibling), 429, 'rate_limited');
  });

  it('authenticates first: a request without a valid token is answered 401 and not counted', async () => {
    const t = await newTenant();
    for (let i = 0; i < LIMIT + 2; i++)
      assertError(
        await call('GET', `/api/v1/sessions/${t.sessionId}/contacts`, { baseUrl: limited.baseUrl }),
        401,
        'unauthorized',
      );
    const res = await listContacts(t, limited);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('ratelimit-remaining'), String(LIMIT - 1));
  });

  it('applies to /api only: a limited organization does not stop /healthz, /openapi.json or /metrics', async () => {
    const t = await newTenant();
    for (let i = 0; i < LIMIT; i++) await listContacts(t, limited);
    assertError(await listContacts(t, limited), 429, 'rate_limited');
    for (const p of ['/healthz', '/openapi.json', '/metrics']) {
      const res = await call('GET', p, { baseUrl: limited.baseUrl, token: t.tokens.read });
      assert.equal(res.status, 200, p);
      assert.equal(res.headers.get('ratelimit-limit'), null, p);
    }
  });

  describe('RATE_LIMIT_PER_MINUTE=0', () => {
    let unlimited: RunningApi;

    before(async () => {
      unlimited = await testEnv.startApi({ RATE_LIMIT_PER_MINUTE: '0' }, `api-rl0-${uniq()}`);
    });

    after(async () => {
      await unlimited?.process.stop();
    });

    it('turns the limit off', async () => {
      const t = await newTenant();
      for (let i = 0; i < LIMIT * 3; i++) {
        const res = await listContacts(t, unlimited);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('ratelimit-limit'), null);
      }
    });
  });

  describe('while Redis is down', () => {
    let redis: ChildProcess | undefined;
    let api: RunningApi | undefined;

    after(async () => {
      redis?.kill('SIGKILL');
      await api?.process.stop();
    });

    it('lets requests through unlimited, logs it once, and limits again when Redis is back', async () => {
      const port = await freePort();
      redis = await startPrivateRedis(port);
      const name = `api-rl-redis-${uniq()}`;
      api = await testEnv.startApi({ REDIS_URL: `redis://127.0.0.1:${port}`, RATE_LIMIT_PER_MINUTE: '2' }, name);
      const t = await newTenant();
      assert.equal((await listContacts(t, api)).headers.get('ratelimit-remaining'), '1');

      redis.kill('SIGTERM');
      await once(redis, 'exit');
      for (let i = 0; i < 6; i++) {
        const res = await listContacts(t, api);
        assert.equal(res.status, 200, 'stored endpoints must keep working without Redis');
        assert.equal(res.headers.get('ratelimit-limit'), null);
      }
      const warnings = () =>
        readFileSync(path.join(LOG_DIR, `${testEnv.runId}-${name}.log`), 'utf8')
          .split('\n')
          .filter((line) => line.includes('rate limiter cannot reach Redis'));
      await waitFor(async () => warnings().length > 0, 'the fail-open warning in the api log');
      assert.equal(warnings().length, 1);

      redis = await startPrivateRedis(port);
      const first = await waitFor(
        async () => {
          const res = await listContacts(t, api!);
          return res.headers.get('ratelimit-limit') === '2' ? res : undefined;
        },
        'the limiter to reach Redis again',
        20_000,
      );
      assert.equal(first.headers.get('ratelimit-remaining'), '1');
      assert.equal((await listContacts(t, api)).status, 200);
      assertError(await listContacts(t, api), 429, 'rate_limited');
    });
  });
});
