import { AppError } from '../../shared/errors.js';
import type { ApiRouter } from '../http/api-router.js';
import type { CursorCodec } from '../http/cursor.js';
import {
  CreateWebhookBody,
  DeliveryPage,
  DeliveryPath,
  DeliveryView,
  ListDeliveriesQuery,
  ListWebhooksQuery,
  RotatedSecret,
  UpdateWebhookBody,
  WebhookCreated,
  WebhookPage,
  WebhookPath,
  WebhookView,
} from './webhook-schemas.js';
import type { WebhookService } from './webhook-service.js';

export interface WebhookRouteDeps {
  webhooks: WebhookService;
  cursors: CursorCodec;
  maxEndpoints: number;
}

const DELIVERY_NOTE =
  'Each event is POSTed as JSON, signed as the Standard Webhooks specification describes (`webhook-id` = the event id, `webhook-timestamp`, `webhook-signature`); a 2xx answer within WEBHOOK_TIMEOUT_MS is a success, anything else is retried with exponential back-off for about a day. Receivers de-duplicate by `webhook-id`.';

export function registerWebhookRoutes(api: ApiRouter, deps: WebhookRouteDeps): void {
  const { webhooks } = deps;

  api.add({
    method: 'post',
    path: '/api/v1/webhooks',
    operationId: 'createWebhook',
    summary: 'Register a webhook endpoint',
    description: `Events of the types listed are delivered to the URL from now on. The answer carries the signing secret, shown only here (rotate it to get a new one). At most WEBHOOK_MAX_ENDPOINTS (${deps.maxEndpoints} here) endpoints per organization: one more is 409 \`conflict\`. ${DELIVERY_NOTE}`,
    tags: ['Webhooks'],
    capability: 'manage',
    body: CreateWebhookBody,
    success: { status: 201, description: 'The endpoint, with its secret.', schema: WebhookCreated },
    errors: ['validation_error', 'conflict'],
    handler: async ({ body, principal, res }) => {
      const created = await webhooks.create(principal.organizationId, body);
      res.setHeader('Location', `/api/v1/webhooks/${created.id}`);
      return created;
    },
  });

  api.add({
    method: 'get',
    path: '/api/v1/webhooks',
    operationId: 'listWebhooks',
    summary: "List your organization's webhook endpoints",
    description: 'Oldest first, cursor-paged. Secrets are never listed.',
    tags: ['Webhooks'],
    capability: 'manage',
    query: ListWebhooksQuery,
    success: { status: 200, description: 'One page of endpoints.', schema: WebhookPage },
    errors: ['validation_error'],
    handler: async ({ query, principal }) => {
      const scope = `webhooks\u0001${principal.organizationId}`;
      const afterId = query.cursor ? deps.cursors.decode(query.cursor, scope) : '';
      const page = await webhooks.list(principal.organizationId, afterId, query.limit);
      const last = page.rows[page.rows.length - 1];
      return { data: page.rows, nextCursor: page.hasMore && last ? deps.cursors.encode(last.id, scope) : '' };
    },
  });

  api.add({
    method: 'get',
    path: '/api/v1/webhooks/{id}',
    operationId: 'getWebhook',
    summary: 'Get a webhook endpoint',
    description: 'Its settings, whether it is enabled and, when the gateway disabled it, why.',
    tags: ['Webhooks'],
    capability: 'manage',
    params: WebhookPath,
    success: { status: 200, description: 'The endpoint.', schema: WebhookView },
    errors: ['not_found'],
    handler: ({ params, principal }) => webhooks.get(principal.organizationId, params.id),
  });

  api.add({
    method: 'patch',
    path: '/api/v1/webhooks/{id}',
    operationId: 'updateWebhook',
    summary: 'Change a webhook endpoint',
    description:
      'Changes the fields given. `enabled: true` also re-enables an endpoint the gateway disabled after its deliveries kept failing; its failed deliveries can then be redelivered. Events recorded while an endpoint is disabled are not delivered to it.',
    tags: ['Webhooks'],
    capability: 'manage',
    params: WebhookPath,
    body: UpdateWebhookBody,
    success: { status: 200, description: 'The endpoint as changed.', schema: WebhookView },
    errors: ['validation_error', 'not_found'],
    handler: ({ params, body, principal }) => webhooks.update(principal.organizationId, params.id, body),
  });

  api.add({
    method: 'delete',
    path: '/api/v1/webhooks/{id}',
    operationId: 'deleteWebhook',
    summary: 'Delete a webhook endpoint',
    description: 'Deletes the endpoint with its delivery log; nothing more is sent to it.',
    tags: ['Webhooks'],
    capability: 'manage',
    params: WebhookPath,
    success: { status: 204, description: 'Deleted.' },
    errors: ['not_found'],
    handler: async ({ params, principal }) => {
      await webhooks.remove(principal.organizationId, params.id);
      return undefined;
    },
  });

  api.add({
    method: 'post',
    path: '/api/v1/webhooks/{id}/rotate-secret',
    operationId: 'rotateWebhookSecret',
    summary: "Rotate a webhook endpoint's signing secret",
    description:
      'Returns a new secret (shown only here). Until `previousSecretExpiresAt` (WEBHOOK_SECRET_GRACE_MS) every delivery carries two signatures in `webhook-signature`, one per secret, so receivers can switch at their own pace. Rotating again ends the older secret at once.',
    tags: ['Webhooks'],
    capability: 'manage',
    params: WebhookPath,
    success: { status: 200, description: 'The new secret.', schema: RotatedSecret },
    errors: ['not_found'],
    handler: ({ params, principal }) => webhooks.rotateSecret(principal.organizationId, params.id),
  });

  api.add({
    method: 'get',
    path: '/api/v1/webhooks/{id}/deliveries',
    operationId: 'listWebhookDeliveries',
    summary: "List an endpoint's deliveries",
    description:
      'Newest first, cursor-paged: per event, its state, attempts, the last answer (status, latency, error) and the next try.',
    tags: ['Webhooks'],
    capability: 'manage',
    params: WebhookPath,
    query: ListDeliveriesQuery,
    success: { status: 200, description: 'One page of deliveries.', schema: DeliveryPage },
    errors: ['validation_error', 'not_found'],
    handler: async ({ params, query, principal }) => {
      const scope = ['webhook-deliveries', params.id, query.status ?? ''].join('\u0001');
      let beforeId = 0;
      if (query.cursor) {
        const position = deps.cursors.decode(query.cursor, scope);
        if (!/^\d{1,20}$/.test(position))
          throw new AppError('validation_error', 'invalid query parameter: cursor', { cursor: 'malformed cursor' });
        beforeId = Number(position);
      }
      const page = await webhooks.deliveries(principal.organizationId, params.id, query.status, beforeId, query.limit);
      return {
        data: page.rows,
        nextCursor: page.hasMore && page.lastId !== undefined ? deps.cursors.encode(String(page.lastId), scope) : '',
      };
    },
  });

  api.add({
    method: 'post',
    path: '/api/v1/webhooks/{id}/deliveries/{eventId}/redeliver',
    operationId: 'redeliverWebhookEvent',
    summary: 'Deliver an event again',
    description:
      'Queues a finished delivery (succeeded or failed) again, with a fresh attempt count and the same `webhook-id`. 409 `conflict` while it is still queued or being attempted, or when the endpoint is disabled.',
    tags: ['Webhooks'],
    capability: 'manage',
    params: DeliveryPath,
    success: { status: 202, description: 'Queued again.', schema: DeliveryView },
    errors: ['not_found', 'conflict'],
    handler: ({ params, principal }) => webhooks.redeliver(principal.organizationId, params.id, params.eventId),
  });
}
