import assert from 'node:assert/strict';
import type { Router } from 'express';
import { createApp, type GatewayApp } from '../api/app.js';
import { LiveClient } from '../api/live/live-client.js';
import { ApiMetrics } from '../api/metrics/api-metrics.js';
import { PushedCache } from '../api/cache/pushed-cache.js';
import { closeWatchedQueues, watchedQueues } from '../api/queues/watched-queues.js';
import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { RedisKeys } from '../shared/redis-keys.js';
import { JobSigningKey } from '../shared/job-signing/job-signing-key.js';
import { newTenant, type Tenant } from './support/fixtures.js';
import { testEnv } from './support/hooks.js';
import { call, get } from './support/http.js';

interface OpenApiDoc {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: { name: string; in: string; required?: boolean }[];
        responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
        security?: unknown[];
      }
    >
  >;
  components: {
    securitySchemes: Record<string, { type: string; scheme?: string; bearerFormat?: string }>;
    schemas: Record<string, { properties?: Record<string, unknown> }>;
  };
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
/** HTML pages for people, not API routes. */
const PAGES = ['/docs', '/admin'];

/** Every (method, path) an Express router serves, with `:param` written as OpenAPI's `{param}`. */
function servedRoutes(router: Router): string[] {
  const routes: string[] = [];
  for (const layer of router.stack as { route?: { path: string; methods: Record<string, boolean> } }[]) {
    if (!layer.route) continue;
    for (const method of Object.keys(layer.route.methods))
      routes.push(`${method} ${layer.route.path.replace(/:(\w+)/g, '{$1}')}`);
  }
  return routes;
}

describe('OpenAPI document (/openapi.json)', function () {
  this.timeout(30_000);
  let doc: OpenApiDoc;
  let t: Tenant;

  before(async () => {
    doc = (await get('/openapi.json')).body;
    t = await newTenant();
  });

  it('is OpenAPI 3.1 with the bearer scheme of the seed pages', () => {
    assert.match(doc.openapi, /^3\.1\./);
    assert.deepEqual(doc.components.securitySchemes['bearerAuth']?.type, 'http');
    assert.equal(doc.components.securitySchemes['bearerAuth']?.scheme, 'bearer');
    assert.equal(doc.components.securitySchemes['bearerAuth']?.bearerFormat, 'JWT');
  });

  it('documents every contacts path of the seed pages with their parameters', () => {
    const contacts = '/api/v1/sessions/{session}/contacts';
    const expected: [string, string, string[]][] = [
      ['get', contacts, ['session', 'source', 'group', 'q', 'limit', 'cursor']],
      ['get', `${contacts}/{lid}`, ['session', 'lid']],
      // maxAgeSeconds: the answer cache's optional parameter (issue 17), beside the seed page's.
      ['get', `${contacts}/check`, ['session', 'phone', 'maxAgeSeconds']],
      ['get', `${contacts}/{jid}/about`, ['session', 'jid']],
      ['get', `${contacts}/{jid}/picture`, ['session', 'jid', 'type']],
      ['post', `${contacts}/{jid}/block`, ['session', 'jid']],
      ['post', `${contacts}/{jid}/unblock`, ['session', 'jid']],
    ];
    for (const [method, path, params] of expected) {
      const op = doc.paths[path]?.[method];
      assert.ok(op, `${method} ${path} is documented`);
      assert.deepEqual(
        (op.parameters ?? []).map((p) => p.name).sort(),
        [...params].sort(),
        `${method} ${path} parameters`,
      );
      for (const p of op.parameters ?? []) if (p.in === 'path') assert.equal(p.required, true, `${p.name} is required`);
    }
    assert.equal(doc.paths[`${contacts}/check`]!['get']!.parameters!.find((p) => p.name === 'phone')!.required, true);
  });

  it('documents the success and error responses of the seed pages, errors as the envelope', () => {
    const contacts = '/api/v1/sessions/{session}/contacts';
    const statuses: [string, string, string[]][] = [
      ['get', contacts, ['200', '400', '401', '403', '404']],
      ['get', `${contacts}/{lid}`, ['200', '401', '403', '404']],
      ['get', `${contacts}/check`, ['200', '400', '404', '501']],
      ['get', `${contacts}/{jid}/about`, ['200', '404', '501']],
      ['get', `${contacts}/{jid}/picture`, ['200', '404', '501']],
      ['post', `${contacts}/{jid}/block`, ['204', '404', '501']],
      ['post', `${contacts}/{jid}/unblock`, ['204', '404', '501']],
    ];
    for (const [method, path, codes] of statuses) {
      const responses = doc.paths[path]![method]!.responses;
      for (const code of codes) assert.ok(responses[code], `${method} ${path} documents ${code}`);
      for (const [code, response] of Object.entries(responses)) {
        if (Number(code) >= 400)
          assert.deepEqual(
            response.content?.['application/json']?.schema,
            { $ref: '#/components/schemas/Error' },
            `${method} ${path} ${code} is the envelope`,
          );
      }
    }
    assert.deepEqual(Object.keys(doc.components.schemas['ContactDetail']!.properties!).sort(), [
      'dm',
      'groups',
      'identity',
    ]);
    assert.deepEqual(Object.keys(doc.components.schemas['ContactSummary']!.properties!).sort(), [
      'businessName',
      'lid',
      'name',
      'phoneNumber',
      'source',
    ]);
  });

  it('documents every route the api serves, apart from the HTML pages', async () => {
    const config = loadConfig(testEnv.env());
    const logger = createLogger('silent', 'openapi-test');
    const keys = new RedisKeys(config.redis.prefix, config.shards.count);
    const queues = watchedQueues(keys, config.shards.count, testEnv.redis, () => undefined);
    const subscriber = testEnv.subscriber();
    const signing = new JobSigningKey(config.jobSigningSecret, testEnv.db);
    const live = new LiveClient(config, keys, testEnv.redis, subscriber, signing, logger);
    let gateway: GatewayApp | undefined;
    try {
      gateway = createApp({
        config,
        logger,
        db: testEnv.db,
        live,
        redis: testEnv.redis,
        keys,
        metrics: new ApiMetrics(queues, logger),
        queues,
        ownership: new PushedCache(0),
        apiKeyCache: new PushedCache(0),
        signing,
        readiness: async () => ({}),
        metricsText: async () => '',
      });
      const documented = new Set(
        Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)),
      );
      const served = [
        ...servedRoutes(gateway.app.router as unknown as Router),
        ...servedRoutes(gateway.api.router),
      ].filter((r) => !PAGES.some((p) => r.split(' ')[1]!.startsWith(p)));
      assert.ok(served.length > 15, `found the served routes (${served.length})`);
      const undocumented = served.filter((r) => !documented.has(r));
      assert.deepEqual(undocumented, [], 'every served route is documented');
    } finally {
      await live.stop();
      await closeWatchedQueues(queues);
      subscriber.disconnect();
    }
  });

  it('serves every documented path (none answers the unknown-route 404)', async () => {
    const sample: Record<string, string> = {
      session: t.sessionId,
      lid: '1@lid',
      jid: '14155550123@s.whatsapp.net',
      id: 'batch_x',
    };
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops).filter((m) => (METHODS as readonly string[]).includes(m))) {
        const concrete = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(sample[name] ?? 'x'));
        const res = await call(method.toUpperCase(), concrete, {
          token: t.tokens.all,
          body: method === 'get' || method === 'delete' ? undefined : {},
        });
        const unknownRoute =
          res.status === 404 &&
          typeof res.body?.error?.message === 'string' &&
          res.body.error.message.startsWith('no route for');
        assert.ok(!unknownRoute, `${method} ${path} is served (got ${res.status} ${res.text.slice(0, 120)})`);
      }
    }
  });
});
