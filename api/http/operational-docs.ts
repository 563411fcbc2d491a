import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from './zod.js';

/**
 * The unauthenticated endpoints for orchestrators and tooling, documented beside the API so the
 * document lists every route the api serves (the HTML pages /docs and /admin excepted).
 */
export const OPERATIONAL_PATHS = ['/healthz', '/readyz', '/metrics', '/openapi.json'] as const;

export function documentOperationalRoutes(registry: OpenAPIRegistry): void {
  const tags = ['Operations'];
  registry.registerPath({
    method: 'get',
    path: '/healthz',
    operationId: 'health',
    summary: 'Liveness',
    description: 'The process is up.',
    tags,
    security: [],
    responses: {
      200: { description: 'Up.', content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } } },
    },
  });
  const readiness = z.object({
    status: z.enum(['ready', 'unavailable']),
    checks: z.object({ mysql: z.boolean(), redis: z.boolean() }),
  });
  registry.registerPath({
    method: 'get',
    path: '/readyz',
    operationId: 'readiness',
    summary: 'Readiness',
    description: 'MySQL and Redis are reachable.',
    tags,
    security: [],
    responses: {
      200: { description: 'Ready.', content: { 'application/json': { schema: readiness } } },
      503: {
        description: 'A backing store is unreachable; the failing check is false.',
        content: { 'application/json': { schema: readiness } },
      },
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/metrics',
    operationId: 'metrics',
    summary: 'Prometheus metrics',
    description: 'Prometheus text format. When METRICS_TOKEN is set, send it as a bearer token.',
    tags,
    security: [],
    responses: {
      200: { description: 'Metrics.', content: { 'text/plain': { schema: z.string() } } },
      401: { description: 'METRICS_TOKEN is set and was not sent.' },
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    operationId: 'openApiDocument',
    summary: 'This document',
    description: 'The OpenAPI 3.1 document, generated from the schemas that validate the requests.',
    tags,
    security: [],
    responses: {
      200: {
        description: 'The document.',
        content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } },
      },
    },
  });
}
