import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { EVENT_DATA, WEBHOOK_EVENT_TYPES } from '../../shared/webhooks/events.js';
import { z } from '../http/zod.js';

const SigningHeaders = z.object({
  'webhook-id': z.string().openapi({
    description: 'The event id (`evt_…`): the same on every attempt and redelivery of this event; de-duplicate by it.',
    example: 'evt_01J5Z8K4M2N6P0Q3S5T7V9WXYZ',
  }),
  'webhook-timestamp': z.string().openapi({
    description:
      'When this attempt was signed, in seconds since the epoch; refuse messages too far from your clock (the standardwebhooks library allows 5 min).',
    example: '1719662400',
  }),
  'webhook-signature': z.string().openapi({
    description:
      "Space-separated `v1,<base64>` signatures: HMAC-SHA256, keyed with the base64-decoded part of the secret after `whsec_`, of `${webhook-id}.${webhook-timestamp}.${body}`. Two during a secret rotation's grace period.",
    example: 'v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=',
  }),
});

const SUMMARIES: Record<(typeof WEBHOOK_EVENT_TYPES)[number], string> = {
  'session.status':
    "A session's status changed (pairing, connecting, online, offline, logged_out), with the reason when there is one. Delivered in order per session and endpoint.",
  'session.qr': 'A new pairing QR code is showing for a session: render `data.qr` instead of polling GET …/qr.',
  'check_batch.progress': "A bulk check's progress; at most one per batch every WEBHOOK_PROGRESS_INTERVAL_MS.",
  'check_batch.completed': 'A bulk check finished: every number was checked.',
  'check_batch.failed': 'A bulk check failed (the same chunk kept failing); `data.error` says why.',
  'check_batch.cancelled': 'A bulk check was cancelled (DELETE …/check-batch/{id}).',
  'contacts.changed':
    'Ingestion stored new contacts or changed some (name, phone ↔ LID mapping); one event per stored change of up to 500 contacts.',
};

/** Documents each event type in the OpenAPI 3.1 `webhooks` section: the body a receiver gets and the signing headers. */
export function documentWebhookEvents(registry: OpenAPIRegistry): void {
  for (const type of WEBHOOK_EVENT_TYPES) {
    const name = `${type
      .split(/[._]/)
      .map((w) => w[0]!.toUpperCase() + w.slice(1))
      .join('')}Event`;
    const body = z
      .object({
        id: z.string().openapi({
          description: 'The event id, also sent as `webhook-id`.',
          example: 'evt_01J5Z8K4M2N6P0Q3S5T7V9WXYZ',
        }),
        type: z.literal(type),
        timestamp: z
          .number()
          .int()
          .openapi({ description: 'When the change was recorded (epoch ms).', example: 1719662400000 }),
        organizationId: z.string(),
        sessionId: z.string(),
        sequence: z.number().int().openapi({
          description:
            "The session's event counter: 1, 2, 3… in the order its events were recorded (across all types; gaps are events of types this endpoint did not subscribe to).",
        }),
        data: EVENT_DATA[type],
      })
      .openapi(name);
    registry.registerWebhook({
      method: 'post',
      path: type,
      operationId: `${name[0]!.toLowerCase()}${name.slice(1)}`,
      summary: type,
      description: `${SUMMARIES[type]} Subscribe with \`"events": ["${type}"]\`.`,
      tags: ['Webhook events'],
      request: { headers: SigningHeaders, body: { required: true, content: { 'application/json': { schema: body } } } },
      responses: {
        200: {
          description:
            'Any 2xx within WEBHOOK_TIMEOUT_MS acknowledges the event; anything else (including redirects) is retried.',
        },
      },
    });
  }
}
