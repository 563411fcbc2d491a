import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createHmac, sign as rsaSign } from 'node:crypto';
import { JwtVerifier } from '../api/auth/jwt-verifier.js';
import { loadConfig } from '../shared/config.js';
import { assertError, assertUnauthorized } from './support/assert-error.js';
import { newTenant, seedContacts, type Tenant } from './support/fixtures.js';
import { call, get } from './support/http.js';
import { testEnv } from './support/hooks.js';
import { newSigningKey, type SigningKey } from './support/jwks-server.js';
import { freePort, REPO_ROOT, startPrivateRedis, waitFor } from './support/processes.js';
import type { RunningApi } from './support/test-env.js';

const listPath = (t: Tenant) => `/api/v1/sessions/${t.sessionId}/contacts`;
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);

/** Claims of a login JWT the frontend would mint, valid for ten minutes. */
const loginClaims = (org: string, role = 'owner') => ({
  iss: testEnv.jwks.issuer,
  aud: testEnv.jwks.audience,
  sub: 'user-1',
  org,
  role,
  iat: nowS(),
  exp: nowS() + 600,
});

/** A JWT assembled by hand, for shapes jsonwebtoken refuses to produce. */
function rawJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  signature: (signingInput: string) => string,
): string {
  const signingInput = `${b64(header)}.${b64(payload)}`;
  return `${signingInput}.${signature(signingInput)}`;
}

const rs256 = (key: SigningKey) => (input: string) =>
  rsaSign('sha256', Buffer.from(input), key.privateKey).toString('base64url');

/** The admin CLI as an operator runs it (`npm run gateway -- …`), with the given environment. */
function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['dist/api/cli/main.js', ...args],
      { cwd: REPO_ROOT, env: { ...process.env, ...env }, timeout: 20_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

async function withApi(
  overrides: Record<string, string>,
  name: string,
  body: (api: RunningApi) => Promise<void>,
): Promise<void> {
  const api = await testEnv.startApi(overrides, name);
  try {
    await body(api);
  } finally {
    await api.process.stop();
  }
}

describe('authentication', () => {
  let t: Tenant;

  before(async () => {
    t = await newTenant();
    await seedContacts(t.sessionId, [{ name: 'Authorized', dm: true }]);
  });

  const withHeader = (authorization: string | undefined) =>
    call('GET', listPath(t), { headers: authorization === undefined ? {} : { authorization } });

  describe('Authorization header', () => {
    it('answers a request without it with 401 unauthorized and a WWW-Authenticate: Bearer challenge', async () => {
      const res = await withHeader(undefined);
      assertUnauthorized(res);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="wa-gateway"');
    });

    for (const [what, header] of [
      ['a Basic scheme', 'Basic dXNlcjpwYXNz'],
      ['another scheme', `Token ${'x'.repeat(20)}`],
      ['Bearer without a token', 'Bearer'],
      ['Bearer with two tokens', 'Bearer abc def'],
      ['an empty value', ''],
    ] as const) {
      it(`rejects ${what} with 401 and the challenge`, async () => assertUnauthorized(await withHeader(header)));
    }

    for (const [what, token] of [
      ['a garbage token', 'garbage'],
      ['a JWT-shaped garbage token', 'abc.def.ghi'],
      ['a JWT whose header is not JSON', `${Buffer.from('{not json').toString('base64url')}.${b64({})}.c2ln`],
      ['a malformed API key', 'wag_123_abc'],
    ] as const) {
      it(`rejects ${what} with 401 and an invalid_token challenge`, async () => {
        const res = await get(listPath(t), token);
        assertUnauthorized(res);
        assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
      });
    }

    it('accepts the scheme name in any case', async () => {
      const res = await withHeader(`bearer ${t.tokens.read}`);
      assert.equal(res.status, 200);
    });
  });

  describe('API keys', () => {
    it('accepts a valid key with the read capability', async () => {
      const res = await get(listPath(t), t.tokens.read);
      assert.equal(res.status, 200);
      assert.equal(res.body.data[0].name, 'Authorized');
    });

    it('accepts a key carrying every capability', async () => {
      assert.equal((await get(listPath(t), t.tokens.all)).status, 200);
    });

    it('rejects the right key id with a wrong secret', async () => {
      const [prefix, hexId] = t.tokens.read.split('_');
      const forged = `${prefix}_${hexId}_${'A'.repeat(43)}`;
      assert.notEqual(forged, t.tokens.read);
      assertUnauthorized(await get(listPath(t), forged));
    });

    it('rejects a well-formed key that does not exist', async () => {
      assertUnauthorized(await get(listPath(t), `wag_${'0'.repeat(24)}_${'B'.repeat(43)}`));
    });

    it('rejects a revoked key at once', async () => {
      const own = await newTenant();
      assert.equal((await get(listPath(own), own.tokens.read)).status, 200);
      await testEnv.admin.revokeApiKey(own.keyIds.read);
      assertUnauthorized(await get(listPath(own), own.tokens.read));
      assert.equal((await get(listPath(own), own.tokens.all)).status, 200, 'other keys of the organization still work');
    });

    for (const set of ['none', 'send', 'manage'] as const) {
      it(`answers a key with ${set === 'none' ? 'no capabilities' : `only ${set}`} with 403 forbidden on a read endpoint`, async () => {
        const res = await get(listPath(t), t.tokens[set]);
        const details = assertError(res, 403, 'forbidden');
        assert.deepEqual(details, { required: 'read' });
      });
    }

    it('records last_used_at in a batch after use', async () => {
      const own = await newTenant();
      await withApi({ API_KEY_TOUCH_INTERVAL_MS: '1000' }, 'api-touch', async (api) => {
        const before = Date.now();
        const res = await call('GET', listPath(own), { token: own.tokens.read, baseUrl: api.baseUrl });
        assert.equal(res.status, 200);
        const after = Date.now();
        const lastUsed = await waitFor(async () => {
          const [row] = (await testEnv.db.query('SELECT last_used_at FROM api_keys WHERE id = ?', [
            own.keyIds.read,
          ])) as { last_used_at: string | null }[];
          return row?.last_used_at === null || row?.last_used_at === undefined ? undefined : Number(row.last_used_at);
        }, 'last_used_at to be recorded');
        assert.ok(lastUsed >= before && lastUsed <= after, `last_used_at ${lastUsed} outside [${before}, ${after}]`);
      });
      const [unused] = (await testEnv.db.query('SELECT last_used_at FROM api_keys WHERE id = ?', [own.keyIds.all])) as {
        last_used_at: string | null;
      }[];
      assert.equal(unused?.last_used_at, null, 'a key that was not used keeps last_used_at empty');
    });

    it('writes pending last_used_at on graceful shutdown', async () => {
      const own = await newTenant();
      await withApi({}, 'api-touch-shutdown', async (api) => {
        const res = await call('GET', listPath(own), { token: own.tokens.read, baseUrl: api.baseUrl });
        assert.equal(res.status, 200);
        assert.equal(await api.process.stop('SIGTERM'), 0);
      });
      const [row] = (await testEnv.db.query('SELECT last_used_at FROM api_keys WHERE id = ?', [own.keyIds.read])) as {
        last_used_at: string | null;
      }[];
      assert.notEqual(row?.last_used_at, null);
    });
  });

  describe('revocation seen by every api process', () => {
    const contactsOf = (own: Tenant, baseUrl: string) =>
      call('GET', listPath(own), { token: own.tokens.read, baseUrl });
    const revokedAt = async (keyId: string) => {
      const [row] = (await testEnv.db.query('SELECT revoked_at FROM api_keys WHERE id = ?', [keyId])) as {
        revoked_at: string | null;
      }[];
      return row?.revoked_at ?? null;
    };

    it('refuses a revoked key on another api process that accepted it a moment before', async () => {
      const own = await newTenant();
      await withApi({}, 'api-key-peer', async (peer) => {
        for (let i = 0; i < 3; i++) assert.equal((await contactsOf(own, peer.baseUrl)).status, 200);
        await testEnv.admin.revokeApiKey(own.keyIds.read);
        const [here, there] = await Promise.all([contactsOf(own, testEnv.api.baseUrl), contactsOf(own, peer.baseUrl)]);
        assertUnauthorized(here);
        assertUnauthorized(there);
      });
    });

    it('refuses a key revoked with the CLI from the next request on', async () => {
      const own = await newTenant();
      assert.equal((await contactsOf(own, testEnv.api.baseUrl)).status, 200);
      const cli = await runCli(['key', 'revoke', own.keyIds.read], testEnv.env());
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, /revoked/);
      assertUnauthorized(await contactsOf(own, testEnv.api.baseUrl));
    });

    it('revokes with the CLI even when Redis is unreachable, and says the running api processes were not told', async () => {
      const own = await newTenant();
      const cli = await runCli(
        ['key', 'revoke', own.keyIds.read],
        testEnv.env({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` }),
      );
      assert.equal(cli.code, 1);
      assert.match(cli.stderr, /revoked, but running api processes could not be told/);
      assert.notEqual(await revokedAt(own.keyIds.read), null);
      // This api process never saw the key, so it reads the revocation from MySQL.
      assertUnauthorized(await contactsOf(own, testEnv.api.baseUrl));
    });

    it('refuses a key revoked while that api process was cut off from Redis', async () => {
      const port = await freePort();
      let redis: ChildProcess = await startPrivateRedis(port);
      const redisUrl = `redis://127.0.0.1:${port}`;
      const api = await testEnv.startApi({ REDIS_URL: redisUrl }, 'api-key-cut');
      try {
        const own = await newTenant();
        assert.equal((await contactsOf(own, api.baseUrl)).status, 200);
        redis.kill('SIGTERM');
        await once(redis, 'exit');
        await testEnv.admin.revokeApiKey(own.keyIds.read);
        assertUnauthorized(await contactsOf(own, api.baseUrl));
        redis = await startPrivateRedis(port);
        await waitFor(
          async () => (await call('GET', '/readyz', { baseUrl: api.baseUrl })).status === 200,
          'the api to reconnect to Redis',
        );
        assertUnauthorized(await contactsOf(own, api.baseUrl));
      } finally {
        await api.process.stop();
        redis.kill('SIGTERM');
      }
    });
  });

  describe('login JWTs', () => {
    for (const role of ['owner', 'admin', 'member', 'viewer']) {
      it(`accepts a valid token with role ${role} for its organization's session`, async () => {
        const res = await get(listPath(t), testEnv.jwks.sign({ org: t.organizationId, role }));
        assert.equal(res.status, 200);
        assert.equal(res.body.data[0].name, 'Authorized');
      });
    }

    it('answers a role outside the role map with 403 forbidden', async () => {
      assertError(
        await get(listPath(t), testEnv.jwks.sign({ org: t.organizationId, role: 'guest' })),
        403,
        'forbidden',
      );
    });

    it('answers a token without a role with 403 forbidden', async () => {
      assertError(await get(listPath(t), testEnv.jwks.sign({ org: t.organizationId })), 403, 'forbidden');
    });

    it("answers a valid token of another organization with 404 for this organization's session", async () => {
      const other = await newTenant();
      const res = await get(listPath(t), testEnv.jwks.sign({ org: other.organizationId, role: 'owner' }));
      assertError(res, 404, 'not_found');
    });

    it('rejects an expired token', async () => {
      assertUnauthorized(
        await get(listPath(t), testEnv.jwks.sign({ org: t.organizationId, role: 'owner' }, { expiresIn: -120 })),
      );
    });

    it('accepts a token expired by less than the clock tolerance', async () => {
      const res = await get(
        listPath(t),
        testEnv.jwks.sign({ org: t.organizationId, role: 'owner' }, { expiresIn: -5 }),
      );
      assert.equal(res.status, 200);
    });

    it('rejects a token that is not valid yet', async () => {
      assertUnauthorized(
        await get(listPath(t), testEnv.jwks.sign({ org: t.organizationId, role: 'owner' }, { notBefore: 120 })),
      );
    });

    it('accepts a token whose not-before is within the clock tolerance', async () => {
      const res = await get(listPath(t), testEnv.jwks.sign({ org: t.organizationId, role: 'owner' }, { notBefore: 5 }));
      assert.equal(res.status, 200);
    });

    it('rejects a token without an expiry', async () => {
      const { exp: _exp, ...claims } = loginClaims(t.organizationId);
      const token = rawJwt({ alg: 'RS256', typ: 'JWT', kid: testEnv.jwks.key.kid }, claims, rs256(testEnv.jwks.key));
      assertUnauthorized(await get(listPath(t), token));
    });

    it('rejects a token of another issuer', async () => {
      assertUnauthorized(
        await get(
          listPath(t),
          testEnv.jwks.sign({ org: t.organizationId, role: 'owner', iss: 'https://evil.example.test/' }),
        ),
      );
    });

    it('rejects a token for another audience', async () => {
      assertUnauthorized(
        await get(listPath(t), testEnv.jwks.sign({ org: t.organizationId, role: 'owner', aud: 'another-service' })),
      );
    });

    it('rejects a token without the organization claim', async () => {
      assertUnauthorized(await get(listPath(t), testEnv.jwks.sign({ role: 'owner' })));
      assertUnauthorized(await get(listPath(t), testEnv.jwks.sign({ org: '', role: 'owner' })));
    });

    it('rejects an unsigned token (alg none), with or without a known kid', async () => {
      const claims = loginClaims(t.organizationId);
      assertUnauthorized(
        await get(
          listPath(t),
          rawJwt({ alg: 'none', typ: 'JWT', kid: testEnv.jwks.key.kid }, claims, () => ''),
        ),
      );
      assertUnauthorized(
        await get(
          listPath(t),
          rawJwt({ alg: 'none', typ: 'JWT' }, claims, () => ''),
        ),
      );
    });

    it('rejects an HS256 token signed with the public key as the HMAC secret', async () => {
      const key = testEnv.jwks.key;
      const pem = key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const token = rawJwt({ alg: 'HS256', typ: 'JWT', kid: key.kid }, loginClaims(t.organizationId), (input) =>
        createHmac('sha256', pem).update(input).digest('base64url'),
      );
      assertUnauthorized(await get(listPath(t), token));
    });

    it('rejects a token signed with an algorithm outside the allow-list', async () => {
      assertUnauthorized(
        await get(listPath(t), testEnv.jwks.sign({ org: t.organizationId, role: 'owner' }, { algorithm: 'RS512' })),
      );
    });

    it('rejects a token whose payload was altered after signing', async () => {
      const [header, , signature] = testEnv.jwks.sign({ org: 'org_other', role: 'owner' }).split('.');
      const forged = `${header}.${b64(loginClaims(t.organizationId))}.${signature}`;
      assertUnauthorized(await get(listPath(t), forged));
    });

    it('rejects a token without a kid', async () => {
      const token = rawJwt({ alg: 'RS256', typ: 'JWT' }, loginClaims(t.organizationId), rs256(testEnv.jwks.key));
      assertUnauthorized(await get(listPath(t), token));
    });
  });

  describe('JWKS keys', () => {
    // A process of its own: unknown kids spend the JWKS refetch budget, which other tests must not share.
    // Sixty fetches a minute: one second between two fetches of the key set.
    const cooldownMs = 1_000;
    let api: RunningApi;
    before(async () => {
      api = await testEnv.startApi({ JWKS_REQUESTS_PER_MINUTE: '60' }, 'api-jwks-keys');
    });
    after(async () => {
      await api.process.stop();
    });
    const as = (key: SigningKey) =>
      call('GET', listPath(t), {
        token: testEnv.jwks.sign({ org: t.organizationId, role: 'owner' }, { key }),
        baseUrl: api.baseUrl,
      });

    it('rejects a token signed by a key that is not in the JWKS', async () => {
      assertUnauthorized(await as(newSigningKey()));
    });

    it('rejects a token carrying a published kid but signed by another key', async () => {
      assertUnauthorized(await as({ ...newSigningKey(), kid: testEnv.jwks.key.kid }));
    });

    it('accepts a key published after the JWKS was cached (rotation) once the refetch cooldown has passed, and keeps accepting the old one', async () => {
      const oldKey = testEnv.jwks.key;
      assert.equal((await as(oldKey)).status, 200);
      const newKey = newSigningKey();
      testEnv.jwks.published.push(newKey);
      try {
        await new Promise((resolve) => setTimeout(resolve, cooldownMs + 100));
        const fetchesBefore = testEnv.jwks.requests;
        assert.equal((await as(newKey)).status, 200);
        assert.ok(testEnv.jwks.requests > fetchesBefore, 'the unknown kid made the api refetch the JWKS');
        assert.equal((await as(oldKey)).status, 200);
      } finally {
        testEnv.jwks.published.splice(testEnv.jwks.published.indexOf(newKey), 1);
      }
    });

    it('answers 503 unavailable, not 401, while the JWKS cannot be fetched', async () => {
      const closedPort = await freePort();
      for (const [name, jwksUrl] of [
        ['api-jwks-down', `http://127.0.0.1:${closedPort}/.well-known/jwks.json`],
        ['api-jwks-404', testEnv.jwks.url.replace('jwks.json', 'missing.json')],
      ] as const) {
        await withApi({ JWKS_URL: jwksUrl }, name, async (other) => {
          const res = await call('GET', listPath(t), {
            token: testEnv.jwks.sign({ org: t.organizationId, role: 'owner' }),
            baseUrl: other.baseUrl,
          });
          assertError(res, 503, 'unavailable');
          assert.equal(
            (await call('GET', listPath(t), { token: t.tokens.read, baseUrl: other.baseUrl })).status,
            200,
            'API keys do not need the JWKS',
          );
        });
      }
    });

    it('rate-limits JWKS refetches caused by unknown kids', async () => {
      await withApi({ JWKS_REQUESTS_PER_MINUTE: '2' }, 'api-jwks-rate', async (api) => {
        const fetchesBefore = testEnv.jwks.requests;
        const stranger = newSigningKey();
        for (let i = 0; i < 12; i++) {
          const key = { ...stranger, kid: `unknown-${i}` };
          const res = await call('GET', listPath(t), {
            token: testEnv.jwks.sign({ org: t.organizationId, role: 'owner' }, { key }),
            baseUrl: api.baseUrl,
          });
          assertUnauthorized(res);
        }
        // Two per minute; four allows for the test straddling a refill.
        assert.ok(
          testEnv.jwks.requests - fetchesBefore <= 4,
          `${testEnv.jwks.requests - fetchesBefore} JWKS fetches for 12 unknown kids`,
        );
      });
    });
  });

  describe('default role map', () => {
    const expected: Record<string, string[]> = {
      owner: ['manage', 'read', 'send'],
      admin: ['manage', 'read', 'send'],
      member: ['read', 'send'],
      viewer: ['read'],
      guest: [],
    };
    for (const [role, capabilities] of Object.entries(expected)) {
      it(`gives role ${role} the capabilities ${capabilities.join(', ') || '(none)'}`, async () => {
        const config = loadConfig({
          JWKS_URL: testEnv.jwks.url,
          JWT_ISSUER: testEnv.jwks.issuer,
          JWT_AUDIENCE: testEnv.jwks.audience,
        });
        const verifier = new JwtVerifier(config.jwt!);
        const principal = await verifier.verify(testEnv.jwks.sign({ org: 'org_x', role }));
        assert.equal(principal.kind, 'jwt');
        assert.equal(principal.organizationId, 'org_x');
        assert.deepEqual([...principal.capabilities].sort(), capabilities);
      });
    }
  });
});
