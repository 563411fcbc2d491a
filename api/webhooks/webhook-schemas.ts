import { WEBHOOK_EVENT_TYPES } from '../../shared/webhooks/events.js';
import { clampedLimit, CursorParam } from '../http/schemas.js';
import { z } from '../http/zod.js';

export const DELIVERY_LIST_LIMIT = { min: 1, max: 200, default: 50 } as const;
export const DELIVERY_STATUSES = ['queued', 'attempting', 'succeeded', 'failed'] as const;

const EventTypes = z
  .array(z.enum(WEBHOOK_EVENT_TYPES, { error: `must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}` }))
  .min(1, 'must name at least one event type')
  .max(WEBHOOK_EVENT_TYPES.length)
  .refine((types) => new Set(types).size === types.length, 'must not repeat an event type')
  .openapi({
    description: 'The event types this endpoint receives.',
    example: ['session.status', 'check_batch.completed'],
  });

const Url = z.string().min(1).max(2048, 'must be at most 2048 characters').openapi({
  description:
    'Where events are POSTed. https only (http with WEBHOOK_ALLOW_HTTP); refused when the host resolves to a loopback, private, link-local, CGNAT or other non-public address (unless WEBHOOK_ALLOW_PRIVATE). No credentials, no fragment.',
  example: 'https://crm.example.com/hooks/whatsapp',
});

const Description = z.string().max(500, 'must be at most 500 characters');

export const CreateWebhookBody = z
  .object({
    url: Url,
    events: EventTypes,
    description: Description.optional(),
    enabled: z.boolean().optional().openapi({ description: 'Default true.' }),
  })
  .strict()
  .openapi('CreateWebhook');

export const UpdateWebhookBody = z
  .object({
    url: Url.optional(),
    events: EventTypes.optional(),
    description: Description.nullable().optional(),
    enabled: z.boolean().optional().openapi({
      description: 'true also re-enables an endpoint the gateway disabled, and clears its disabledReason.',
    }),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, 'must change at least one field')
  .openapi('UpdateWebhook');

export const WebhookPath = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .openapi({
      param: { name: 'id', in: 'path' },
      description: 'The endpoint id.',
      example: 'wh_01J5Z8K4M2N6P0Q3S5T7V9WXYZ',
    }),
});

export const DeliveryPath = WebhookPath.extend({
  eventId: z
    .string()
    .min(1)
    .max(64)
    .openapi({
      param: { name: 'eventId', in: 'path' },
      description: 'The event id (the `webhook-id` header of its deliveries).',
      example: 'evt_01J5Z8K4M2N6P0Q3S5T7V9WXYZ',
    }),
});

export const ListWebhooksQuery = z.object({ limit: clampedLimit(DELIVERY_LIST_LIMIT), cursor: CursorParam });

export const ListDeliveriesQuery = z.object({
  status: z
    .enum(DELIVERY_STATUSES, { error: `must be one of ${DELIVERY_STATUSES.join(', ')}` })
    .optional()
    .openapi({ description: 'Keep only deliveries in this state.' }),
  limit: clampedLimit(DELIVERY_LIST_LIMIT),
  cursor: CursorParam,
});

export const WebhookView = z
  .object({
    id: z.string().openapi({ example: 'wh_01J5Z8K4M2N6P0Q3S5T7V9WXYZ' }),
    url: z.string(),
    events: z.array(z.enum(WEBHOOK_EVENT_TYPES)),
    description: z.string().nullable(),
    enabled: z.boolean(),
    disabledReason: z
      .string()
      .nullable()
      .openapi({ description: 'Why the gateway disabled the endpoint (its deliveries kept failing); null otherwise.' }),
    previousSecretExpiresAt: z.number().int().nullable().openapi({
      description: 'After a rotation: until when (epoch ms) the previous secret still signs beside the new one.',
    }),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
  })
  .openapi('Webhook');
export type WebhookView = z.output<typeof WebhookView>;

export const WebhookCreated = WebhookView.extend({
  secret: z.string().openapi({
    description:
      'The signing secret (Standard Webhooks `whsec_<base64>`). Shown only here and by rotate-secret: store it.',
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  }),
}).openapi('WebhookCreated');

export const WebhookPage = z.object({ data: z.array(WebhookView), nextCursor: z.string() }).openapi('WebhookPage');

export const RotatedSecret = z
  .object({
    secret: z.string().openapi({ description: 'The new signing secret; shown only here.' }),
    previousSecretExpiresAt: z.number().int().openapi({
      description:
        'Until then (epoch ms) deliveries carry a signature with the previous secret too (WEBHOOK_SECRET_GRACE_MS).',
    }),
  })
  .openapi('RotatedSecret');

export const DeliveryView = z
  .object({
    eventId: z.string().openapi({ description: 'The `webhook-id` of every attempt of this delivery.' }),
    eventType: z.enum(WEBHOOK_EVENT_TYPES),
    sessionId: z.string(),
    status: z.enum(DELIVERY_STATUSES).openapi({
      description:
        'queued: waiting for a slot of the endpoint; attempting: being tried or waiting for its next try; succeeded; failed: gave up (or the endpoint was disabled).',
    }),
    attempts: z.number().int(),
    responseStatus: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "The last attempt's HTTP status; null when it got no answer." }),
    latencyMs: z.number().int().nullable().openapi({ description: "The last attempt's duration." }),
    error: z.string().nullable().openapi({ description: 'Why the last attempt failed.' }),
    createdAt: z.number().int(),
    lastAttemptAt: z.number().int().nullable(),
    nextAttemptAt: z.number().int().nullable(),
    deliveredAt: z.number().int().nullable(),
  })
  .openapi('WebhookDelivery');
export type DeliveryView = z.output<typeof DeliveryView>;

export const DeliveryPage = z
  .object({ data: z.array(DeliveryView), nextCursor: z.string() })
  .openapi('WebhookDeliveryPage');
