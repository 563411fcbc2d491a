import express, { type Express } from 'express';
import type { DataSource } from 'typeorm';
import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import { authenticate } from './auth/authenticate.js';
import { ApiKeyVerifier } from './auth/api-key-verifier.js';
import { JwtVerifier } from './auth/jwt-verifier.js';
import { registerStoredContactRoutes } from './contacts/contact-routes.js';
import { registerLiveContactRoutes } from './live/live-routes.js';
import type { LiveClient } from './live/live-client.js';
import { ContactStore } from './contacts/contact-store.js';
import { ApiRouter } from './http/api-router.js';
import { CursorCodec } from './http/cursor.js';
import { apiDocs } from './http/docs.js';
import { errorHandler, notFoundHandler } from './http/error-handler.js';
import { buildOpenApiDocument } from './http/openapi.js';
import { requestLogging } from './http/request-logging.js';
import { SessionAccess } from './sessions/session-access.js';
import { registerSessionRoutes } from './sessions/session-routes.js';
import { SessionViews } from './sessions/session-views.js';
import { AdminService } from './admin/admin-service.js';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../shared/redis-keys.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  db: DataSource;
  live: LiveClient;
  redis: Redis;
  keys: RedisKeys;
  readiness: () => Promise<Record<string, boolean>>;
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
  app.set('trust proxy', true);
  app.set('query parser', 'simple');
  app.use(requestLogging(logger));
  app.use(express.json({ limit: '2mb' }));

  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  app.get('/readyz', async (_req, res) => {
    const checks = await deps.readiness();
    const ready = Object.values(checks).every(Boolean);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', checks });
  });

  const api = new ApiRouter();
  const sessions = new SessionAccess(db);
  const cursors = new CursorCodec(config.cursorSecret);
  registerSessionRoutes(api, {
    admin: new AdminService(db),
    access: sessions,
    views: new SessionViews(db, deps.redis, deps.keys, config.shards.count),
    live: deps.live,
    cursors,
    redis: deps.redis,
    keys: deps.keys,
    db,
  });
  registerLiveContactRoutes(api, { sessions, live: deps.live });
  registerStoredContactRoutes(api, { sessions, contacts: new ContactStore(db), cursors });

  const openApi = buildOpenApiDocument(api);
  app.get('/openapi.json', (_req, res) => void res.json(openApi));
  app.use('/docs', apiDocs('/openapi.json'));

  const apiKeys = new ApiKeyVerifier(db, config.apiKeys, logger);
  const jwts = config.jwt ? new JwtVerifier(config.jwt) : undefined;
  app.use('/api', authenticate(apiKeys, jwts));
  app.use(api.router);

  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return { app, api, apiKeys };
}
