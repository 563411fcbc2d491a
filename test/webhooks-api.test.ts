import assert from 'node:assert/strict';
import { WEBHOOK_EVENT_TYPES } from '../shared/webhooks/events.js';
import { assertError } from './support/assert-error.js';
import { newTenant, type Tenant } from './support/fixtures.js';
import { testEnv } from './support/hooks.js';
import { call, type JsonResponse } from './support/http.js';
import type { RunningApi } from './support/test-env.js';

const MAX_ENDPOINTS = 3;

describe('webhook endpoints API (/api/v1/webhooks)', function () {
  this.timeout(30_000);
  /** An api that accepts http:// and 127.0.0.1, as a test receiver needs; testEnv.api keeps the defaults (https, public addresses only). */
  let permissive: RunningApi;
  let t: Tenant;
  let other: Tenant;

  const hooks = (
    method: string,
    path: string,
    options: { token?: string; body?: unknown; baseUrl?: string } = {},
  ): Promise<JsonResponse> =>
    call(method, `/api/v1/webhooks${path}`, {
      token: options.token ?? t.tokens.manage,
      body: options.body,
      baseUrl: options.baseUrl ?? permissive.baseUrl,
    });

  const create = (body: unknown, token?: string) => hooks('POST', '', { body, token });

  before(async () => {
    permissive = await testEnv.startApi(
      { WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_MAX_ENDPOINTS: String(MAX_ENDPOINTS) },
      'api-webhooks',
    );
    t = await newTenant();
    other = await newTenant();
  });

  after(async () => {
    await permissive?.process.stop();
  });

  afterEach(async () => {
    await testEnv.db.query('DELETE FROM webhook_endpoints WHERE organization_id IN (?, ?)', [
      t.organizationId,
      other.organizationId,
    ]);
  });

  it('creates an endpoint, shows its Standard Webhooks secret once, and reads it back without the secret', async () => {
    const res = await create({
      url: 'http://127.0.0.1:9/hooks',
      events: ['session.status', 'contacts.changed'],
      description: 'CRM',
    });
    assert.equal(res.status, 201, res.text);
    assert.match(res.body.id, /^wh_[0-9A-Z]{26}$/);
    assert.match(res.body.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(res.body.secret.slice('whsec_'.length), 'base64').length, 32);
    assert.equal(res.headers.get('location'), `/api/v1/webhooks/${res.body.id}`);
    assert.deepEqual(
      {
        url: res.body.url,
        events: res.body.events,
        description: res.body.description,
        enabled: res.body.enabled,
        disabledReason: res.body.disabledReason,
      },
      {
        url: 'http://127.0.0.1:9/hooks',
        events: ['session.status', 'contacts.changed'],
        description: 'CRM',
        enabled: true,
        disabledReason: null,
      },
    );
    const got = await hooks('GET', `/${res.body.id}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.secret, undefined, 'the secret is shown once');
    assert.deepEqual(Object.keys(got.body).sort(), [
      'createdAt',
      'description',
      'disabledReason',
      'enabled',
      'events',
      'id',
      'previousSecretExpiresAt',
      'updatedAt',
      'url',
    ]);
    const list = await hooks('GET', '');
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.data.map((w: { id: string }) => w.id),
      [res.body.id],
    );
    assert.equal(list.body.nextCursor, '');
    assert.ok(!list.text.includes('whsec_'), 'no secret in the list');
  });

  it('pages the list with a cursor bound to the organization', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await create({ url: `http://127.0.0.1:9/h${i}`, events: ['session.qr'] })).body.id);
    const first = await hooks('GET', '?limit=2');
    assert.deepEqual(
      first.body.data.map((w: { id: string }) => w.id),
      ids.slice(0, 2),
    );
    assert.notEqual(first.body.nextCursor, '');
    const second = await hooks('GET', `?limit=2&cursor=${encodeURIComponent(first.body.nextCursor)}`);
    assert.deepEqual(
      second.body.data.map((w: { id: string }) => w.id),
      ids.slice(2),
    );
    assert.equal(second.body.nextCursor, '');
    assertError(
      await hooks('GET', `?cursor=${encodeURIComponent(first.body.nextCursor)}`, { token: other.tokens.manage }),
      400,
      'validation_error',
    );
  });

  it('changes fields with PATCH and re-enabling clears the reason the gateway disabled it for', async () => {
    const { id } = (await create({ url: 'http://127.0.0.1:9/a', events: ['session.qr'] })).body;
    const patched = await hooks('PATCH', `/${id}`, {
      body: { events: ['check_batch.completed', 'check_batch.failed'], description: 'batches', enabled: false },
    });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual(
      [patched.body.events, patched.body.description, patched.body.enabled],
      [['check_batch.completed', 'check_batch.failed'], 'batches', false],
    );
    await testEnv.db.query(
      `UPDATE webhook_endpoints SET disabled_reason = 'kept failing', failing_since = 1 WHERE id = ?`,
      [id],
    );
    const enabled = await hooks('PATCH', `/${id}`, { body: { enabled: true, description: null } });
    assert.deepEqual([enabled.body.enabled, enabled.body.disabledReason, enabled.body.description], [true, null, null]);
    const [row] = (await testEnv.db.query('SELECT failing_since FROM webhook_endpoints WHERE id = ?', [id])) as {
      failing_since: unknown;
    }[];
    assert.equal(row!.failing_since, null, 'the failure clock starts again');
  });

  it('rotates the secret: a new one is shown, the previous one keeps signing until the grace period ends', async () => {
    const created = (await create({ url: 'http://127.0.0.1:9/a', events: ['session.qr'] })).body;
    const before = Date.now();
    const rotated = await hooks('POST', `/${created.id}/rotate-secret`);
    assert.equal(rotated.status, 200, rotated.text);
    assert.match(rotated.body.secret, /^whsec_/);
    assert.notEqual(rotated.body.secret, created.secret);
    assert.ok(rotated.body.previousSecretExpiresAt >= before + 86_400_000 - 1000, 'default grace is a day');
    const [row] = (await testEnv.db.query('SELECT secret, previous_secret FROM webhook_endpoints WHERE id = ?', [
      created.id,
    ])) as { secret: string; previous_secret: string }[];
    assert.deepEqual([row!.secret, row!.previous_secret], [rotated.body.secret, created.secret]);
    assert.equal(
      (await hooks('GET', `/${created.id}`)).body.previousSecretExpiresAt,
      rotated.body.previousSecretExpiresAt,
    );
  });

  it('deletes an endpoint with its deliveries', async () => {
    const { id } = (await create({ url: 'http://127.0.0.1:9/a', events: ['session.qr'] })).body;
    assert.equal((await hooks('DELETE', `/${id}`)).status, 204);
    assertError(await hooks('GET', `/${id}`), 404, 'not_found');
    assertError(await hooks('DELETE', `/${id}`), 404, 'not_found');
  });

  it("answers another organization's endpoint exactly like a missing one, on every route", async () => {
    const { id } = (await create({ url: 'http://127.0.0.1:9/a', events: ['session.qr'] })).body;
    const calls: [string, string, unknown?][] = [
      ['GET', `/${id}`],
      ['PATCH', `/${id}`, { enabled: false }],
      ['DELETE', `/${id}`],
      ['POST', `/${id}/rotate-secret`],
      ['GET', `/${id}/deliveries`],
      ['POST', `/${id}/deliveries/evt_01J5Z8K4M2N6P0Q3S5T7V9WXYZ/redeliver`],
    ];
    for (const [method, path, body] of calls) {
      const theirs = await hooks(method, path, { token: other.tokens.manage, body });
      const missing = await hooks(method, path.replace(id, 'wh_01J5Z8K4M2N6P0Q3S5T7V9WXYZ'), {
        token: t.tokens.manage,
        body,
      });
      assertError(theirs, 404, 'not_found');
      assertError(missing, 404, 'not_found');
      assert.deepEqual(theirs.body, missing.body, `${method} ${path}`);
    }
    assert.equal((await hooks('GET', '', { token: other.tokens.manage })).body.data.length, 0);
    const still = await hooks('GET', `/${id}`);
    assert.deepEqual([still.status, still.body.enabled], [200, true], 'nothing the other organization did changed it');
  });

  it('needs the manage capability', async () => {
    assertError(await create({ url: 'http://127.0.0.1:9/a', events: ['session.qr'] }, t.tokens.read), 403, 'forbidden');
    assertError(await hooks('GET', '', { token: t.tokens.send }), 403, 'forbidden');
  });

  it('refuses malformed bodies with validation_error naming each field', async () => {
    const cases: [unknown, string][] = [
      [{ events: ['session.qr'] }, 'url'],
      [{ url: 'not a url', events: ['session.qr'] }, 'url'],
      [{ url: 'ftp://example.com/x', events: ['session.qr'] }, 'url'],
      [{ url: 'http://user:pw@127.0.0.1:9/a', events: ['session.qr'] }, 'url'],
      [{ url: `http://127.0.0.1:9/${'a'.repeat(2100)}`, events: ['session.qr'] }, 'url'],
      [{ url: 'http://127.0.0.1:9/a', events: [] }, 'events'],
      [{ url: 'http://127.0.0.1:9/a', events: ['session.deleted'] }, 'events.0'],
      [{ url: 'http://127.0.0.1:9/a', events: ['session.qr', 'session.qr'] }, 'events'],
      [{ url: 'http://127.0.0.1:9/a', events: 'session.qr' }, 'events'],
      [{ url: 'http://127.0.0.1:9/a', events: ['session.qr'], description: 'x'.repeat(501) }, 'description'],
      [{ url: 'http://127.0.0.1:9/a', events: ['session.qr'], enabled: 'yes' }, 'enabled'],
      [{ url: 'http://127.0.0.1:9/a', events: ['session.qr'], secret: 'whsec_mine' }, 'body'],
      [{ url: 'http://no-such-host.invalid/a', events: ['session.qr'] }, 'url'],
    ];
    for (const [body, field] of cases) {
      const details = assertError(await create(body), 400, 'validation_error');
      assert.ok(
        field in details,
        `${JSON.stringify(body).slice(0, 80)}: details name ${field}, got ${JSON.stringify(details)}`,
      );
    }
    const { id } = (await create({ url: 'http://127.0.0.1:9/a', events: ['session.qr'] })).body;
    assert.ok('body' in assertError(await hooks('PATCH', `/${id}`, { body: {} }), 400, 'validation_error'));
    assert.ok(
      'url' in assertError(await hooks('PATCH', `/${id}`, { body: { url: 'gopher://x' } }), 400, 'validation_error'),
    );
    assert.equal((await hooks('GET', '')).body.data.length, 1, 'nothing refused was stored');
  });

  it(`allows at most WEBHOOK_MAX_ENDPOINTS endpoints per organization (409 conflict), counted per organization`, async () => {
    for (let i = 0; i < MAX_ENDPOINTS; i++)
      assert.equal((await create({ url: `http://127.0.0.1:9/${i}`, events: ['session.qr'] })).status, 201);
    const details = assertError(await create({ url: 'http://127.0.0.1:9/x', events: ['session.qr'] }), 409, 'conflict');
    assert.equal(details['limit'], MAX_ENDPOINTS);
    assert.equal(
      (await create({ url: 'http://127.0.0.1:9/x', events: ['session.qr'] }, other.tokens.manage)).status,
      201,
      'another organization has its own allowance',
    );
    const parallel = await Promise.all(
      [0, 1, 2].map(() => create({ url: 'http://127.0.0.1:9/y', events: ['session.qr'] }, other.tokens.manage)),
    );
    assert.deepEqual(
      parallel.map((r) => r.status).sort(),
      [201, 201, 409],
      'concurrent creations cannot overshoot the limit',
    );
  });

  it('is documented: the endpoints in paths, each event type and its payload in the OpenAPI 3.1 webhooks section', async () => {
    const doc = (await call('GET', '/openapi.json')).body;
    for (const [path, methods] of [
      ['/api/v1/webhooks', ['get', 'post']],
      ['/api/v1/webhooks/{id}', ['get', 'patch', 'delete']],
      ['/api/v1/webhooks/{id}/rotate-secret', ['post']],
      ['/api/v1/webhooks/{id}/deliveries', ['get']],
      ['/api/v1/webhooks/{id}/deliveries/{eventId}/redeliver', ['post']],
    ] as const) {
      for (const method of methods) assert.ok(doc.paths[path]?.[method], `${method} ${path}`);
    }
    assert.deepEqual(Object.keys(doc.webhooks).sort(), [...WEBHOOK_EVENT_TYPES].sort());
    for (const type of WEBHOOK_EVENT_TYPES) {
      const post = doc.webhooks[type].post;
      assert.deepEqual(post.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`).sort(), [
        'header:webhook-id',
        'header:webhook-signature',
        'header:webhook-timestamp',
      ]);
      const ref = post.requestBody.content['application/json'].schema.$ref as string;
      const schema = doc.components.schemas[ref.replace('#/components/schemas/', '')];
      assert.deepEqual(
        Object.keys(schema.properties).sort(),
        ['data', 'id', 'organizationId', 'sequence', 'sessionId', 'timestamp', 'type'],
        type,
      );
      assert.deepEqual(schema.properties.type.enum, [type]);
    }
    const changed = doc.components.schemas['ContactsChangedEvent'].properties.data.properties.contacts.items.properties;
    assert.deepEqual(Object.keys(changed).sort(), ['changes', 'lid', 'name', 'phoneNumber']);
  });

  describe('with the default address policy (https only, public addresses only)', () => {
    const strict = (body: unknown) => call('POST', '/api/v1/webhooks', { token: t.tokens.manage, body });

    it('refuses http:// URLs', async () => {
      const details = assertError(
        await strict({ url: 'http://example.com/hooks', events: ['session.qr'] }),
        400,
        'validation_error',
      );
      assert.match(String(details['url']), /https/);
    });

    it('refuses endpoints that are or resolve to loopback, private, link-local, CGNAT, multicast, unspecified or IPv4-mapped addresses', async () => {
      const hosts = [
        '127.0.0.1',
        'localhost',
        '10.1.2.3',
        '172.16.0.1',
        '192.168.1.1',
        '169.254.169.254',
        '100.64.0.1',
        '0.0.0.0',
        '224.0.0.1',
        '[::1]',
        '[fe80::1]',
        '[fd00::1]',
        '[::ffff:127.0.0.1]',
        '[::ffff:8.8.8.8]',
      ];
      for (const host of hosts) {
        const details = assertError(
          await strict({ url: `https://${host}/hooks`, events: ['session.qr'] }),
          400,
          'validation_error',
        );
        assert.match(String(details['url']), /address/, `${host}: ${JSON.stringify(details)}`);
      }
      assert.equal((await call('GET', '/api/v1/webhooks', { token: t.tokens.manage })).body.data.length, 0);
    });

    it('accepts a public https endpoint', async () => {
      const res = await strict({ url: 'https://8.8.8.8/hooks', events: ['session.qr'] });
      assert.equal(res.status, 201, res.text);
    });
  });
});
