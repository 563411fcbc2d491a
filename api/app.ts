import express, { type Express } from 'express';
import type { DataSource } from 'typeorm';
import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import { authenticate } from './auth/authenticate.js';
import { ApiKeyVerifier } from './auth/api-key-verifier.js';
import { FailedAuthLimiter } from './auth/failed-auth-limiter.js';
import { JwtVerifier } from './auth/jwt-verifier.js';
import { registerStoredContactRoutes } from './contacts/contact-routes.js';
import { CheckBatchQueue } from './batches/check-batch-queue.js';
import { registerCheckBatchRoutes } from './batches/check-batch-routes.js';
import { CheckBatchService } from './batches/check-batch-service.js';
import { CheckBatchStore } from './batches/check-batch-store.js';
import { registerPooledBatchRoutes } from './batches/pooled-batch-routes.js';
import { CheckAnswerCache } from '../shared/checks/check-answers.js';
import { registerLiveContactRoutes } from './live/live-routes.js';
import type { LiveClient } from './live/live-client.js';
import { ContactStore } from './contacts/contact-store.js';
import { ApiRouter } from './http/api-router.js';
import { CursorCodec } from './http/cursor.js';
import { apiDocs } from './http/docs.js';
import { errorHandler, notFoundHandler } from './http/error-handler.js';
import { buildOpenApiDocument } from './http/openapi.js';
import { requestLogging } from './http/request-logging.js';
import type { PushedCache } from './cache/pushed-cache.js';
import type { VerifiableKey } from './auth/api-key-verifier.js';
import { SessionAccess } from './sessions/session-access.js';
import { registerSessionRoutes } from './sessions/session-routes.js';
import { SessionService } from './sessions/session-service.js';
import { SessionViews } from './sessions/session-views.js';
import { AdminService } from './admin/admin-service.js';
import type { RedisClient } from '../shared/redis.js';
import type { RedisKeys } from '../shared/redis-keys.js';
import { AdminAccess } from './bull-board/admin-access.js';
import { registerAdminRoutes, BULL_BOARD_PATH, CONSOLE_PATH } from './bull-board/admin-routes.js';
import { ConsoleCsrf } from './console/console-csrf.js';
import { registerConsoleRoutes } from './console/console-routes.js';
import { FleetStatus } from './console/fleet-status.js';
import { SessionDetails } from './console/session-details.js';
import { AdminSessionCodec } from './bull-board/admin-session.js';
import { LoginThrottle } from './bull-board/login-throttle.js';
import type { JobSigningKey } from '../shared/job-signing/job-signing-key.js';
import { organizationRateLimit } from './http/rate-limit.js';
import type { ApiMetrics } from './metrics/api-metrics.js';
import { httpMetrics } from './metrics/http-metrics.js';
import { metricsEndpoint } from './metrics/metrics-endpoint.js';
import { sharedReading } from './metrics/shared-reading.js';
import type { WatchedQueue } from './queues/watched-queues.js';
import { documentWebhookEvents } from './webhooks/webhook-docs.js';
import { registerWebhookRoutes } from './webhooks/webhook-routes.js';
import { WebhookService } from './webhooks/webhook-service.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  db: DataSource;
  live: LiveClient;
  redis: RedisClient;
  keys: RedisKeys;
  metrics: ApiMetrics;
  /** The queues Bull Board shows (every shard's live and batch queue, the webhook queue). */
  queues: readonly WatchedQueue[];
  /** Which organization owns a session, shared by every route; fed by the control channel in production. */
  ownership: PushedCache<string>;
  /** API key rows by key id; revocations arrive over the control channel in production. */
  apiKeyCache: PushedCache<VerifiableKey>;
  /** Signs the jobs the api hands the workers. */
  signing: JobSigningKey;
  readiness: () => Promise<Record<string, boolean>>;
  /** The text GET /metrics serves: this process's registry, or the whole cluster's. */
  metricsText: () => Promise<string>;
}

export interface GatewayApp {
  app: Express;
  api: ApiRouter;
  apiKeys: ApiKeyVerifier;
}

export function createApp(deps: AppDeps): GatewayApp {
  const { config, logger, db } = deps;
  const app = express();
  app.disable('x-powered-by');
  // Every answer is computed per request; hashing each body for a weak ETag costs CPU on the hot path and no client revalidates API pages.
  app.set('etag', false);
  app.set('trust proxy', config.http.trustProxy);
  app.set('query parser', 'simple');
  const api = new ApiRouter();
  app.use(requestLogging(logger));
  app.use(
    httpMetrics(deps.metrics.httpRequests, {
      declared: api.declared,
      mounts: ['/docs', BULL_BOARD_PATH, CONSOLE_PATH],
    }),
  );
  // No body is read here: each route reads its own, up to its own limit, once the caller is
  // authenticated and admitted (ApiRouter); the admin login form reads a small form of its own.

  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  app.get('/readyz', async (_req, res) => {
    const checks = await deps.readiness();
    const ready = Object.values(checks).every(Boolean);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', checks });
  });
  // Concurrent scrapes share one rendering; a scrape after another still sees fresh figures.
  app.get(
    '/metrics',
    metricsEndpoint(sharedReading(0, deps.metricsText), deps.metrics.registry.contentType, config.metrics.token),
  );

  const sessions = new SessionAccess(db, deps.ownership);
  const cursors = new CursorCodec(config.cursorSecret);
  const sessionService = new SessionService({
    admin: new AdminService(db),
    access: sessions,
    views: new SessionViews(db, deps.redis, deps.keys, config.shards.count),
    live: deps.live,
    redis: deps.redis,
    keys: deps.keys,
    db,
    pairingWindowMs: config.pairing.windowMs,
    shardCount: config.shards.count,
  });
  registerSessionRoutes(api, { sessions: sessionService, cursors });
  const answers = new CheckAnswerCache(db, config.checks.cacheTtlMs);
  const batchStore = new CheckBatchStore(db, config.publicUrl);
  const batchQueue = new CheckBatchQueue(deps.redis, deps.keys, config.shards.count, deps.signing, logger);
  const batchService = new CheckBatchService({
    sessions,
    store: batchStore,
    queue: batchQueue,
    answers,
    cursors,
    batches: config.batches,
  });
  // Before the session routes: their registration completes the CSV media types of both.
  registerPooledBatchRoutes(api, { service: batchService, store: batchStore });
  registerCheckBatchRoutes(api, { sessions, service: batchService, store: batchStore });
  registerLiveContactRoutes(api, { sessions, live: deps.live, answers });
  registerStoredContactRoutes(api, { sessions, contacts: new ContactStore(db), cursors });
  registerWebhookRoutes(api, {
    webhooks: new WebhookService(db, config.webhooks),
    cursors,
    maxEndpoints: config.webhooks.maxEndpoints,
  });
  documentWebhookEvents(api.registry);

  const openApi = buildOpenApiDocument(api);
  app.get('/openapi.json', (_req, res) => void res.json(openApi));
  app.use('/docs', apiDocs('/openapi.json'));

  const apiKeys = new ApiKeyVerifier(db, deps.apiKeyCache, config.apiKeys.touchIntervalMs, logger);
  const jwts = config.jwt ? new JwtVerifier(config.jwt) : undefined;
  const loginThrottle = new LoginThrottle(
    deps.redis,
    deps.keys.rateLimit('admin-login'),
    config.admin.loginFailures,
    logger,
  );
  const adminSessions = new AdminSessionCodec(config.admin.sessionSecret, config.admin.sessionTtlMs);
  const adminAccess = new AdminAccess(apiKeys, jwts, db, adminSessions, config.admin, loginThrottle);
  registerAdminRoutes(app, adminAccess, deps.queues);
  registerConsoleRoutes(app, {
    access: adminAccess,
    sessions: sessionService,
    details: new SessionDetails(db),
    fleet: new FleetStatus(db, deps.redis, deps.keys, config.shards.count, deps.queues),
    batches: batchStore,
    csrf: new ConsoleCsrf(config.admin.sessionSecret),
    cursors,
    logger,
  });
  const failedAuth = new FailedAuthLimiter(
    deps.redis,
    deps.keys.rateLimit('auth-failures'),
    config.rateLimit.authFailuresPerMinute,
    logger,
  );
  app.use('/api', authenticate(apiKeys, jwts, failedAuth));
  app.use('/api', organizationRateLimit(deps.redis, deps.keys.rateLimit('org'), config.rateLimit.perMinute, logger));
  app.use(api.router);

  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return { app, api, apiKeys };
}
