import { OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import type { ApiRouter } from './api-router.js';
import { documentOperationalRoutes } from './operational-docs.js';

export function buildOpenApiDocument(api: ApiRouter) {
  documentOperationalRoutes(api.registry);
  return new OpenApiGeneratorV31(api.registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'WhatsApp Gateway',
      version: '1.0.0',
      description:
        'Multi-tenant REST API in front of WhatsApp accounts. Stored queries are answered from MySQL; live operations run on the worker that holds the session (501 when it is not connected). Errors are always {"error": {"code", "message", "details"}}; timestamps are epoch milliseconds.',
    },
    servers: [{ url: '/' }],
    security: [{ bearerAuth: [] }],
  });
}
