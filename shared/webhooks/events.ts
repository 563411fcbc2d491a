/**
 * The webhook events: their types and payloads, declared once. The worker and the api build
 * bodies from these schemas' types, and the OpenAPI document publishes the same schemas.
 */
import { z } from 'zod';
import { SESSION_STATUSES } from '../db/entities/wa-session.js';

export const WEBHOOK_EVENT_TYPES = [
  'session.status',
  'session.qr',
  'check_batch.progress',
  'check_batch.completed',
  'check_batch.failed',
  'check_batch.cancelled',
  'contacts.changed',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Contacts listed in one contacts.changed event at most; a larger change is several events. */
export const MAX_CONTACTS_PER_EVENT = 500;

const BatchCounts = z.object({
  onWhatsApp: z.number().int(),
  notOnWhatsApp: z.number().int(),
  invalid: z.number().int(),
});

const BatchEventData = z.object({
  batchId: z.string().describe('The batch id, as in GET …/contacts/check-batch/{id}.'),
  status: z.enum(['queued', 'running', 'completed', 'failed', 'cancelled']),
  progress: z.object({ done: z.number().int(), total: z.number().int() }),
  counts: BatchCounts,
  resultsUrl: z
    .string()
    .describe("The batch's results (GET, `read`): absolute when PUBLIC_URL is configured, else a path."),
  error: z
    .object({ code: z.string(), message: z.string() })
    .nullable()
    .describe('Why a failed batch failed; null otherwise.'),
  finishedAt: z.number().int().nullable().describe('Epoch ms; null while the batch runs.'),
});

export const CONTACT_CHANGES = ['new', 'name', 'mapping'] as const;

export const EVENT_DATA = {
  'session.status': z.object({
    status: z.enum(SESSION_STATUSES),
    previousStatus: z.enum(SESSION_STATUSES).nullable(),
    reason: z
      .string()
      .nullable()
      .describe(
        'Why, when the driver said: e.g. `connection_lost`, `logged_out`, `restart_required`, a rejected client version or a replaced connection.',
      ),
  }),
  'session.qr': z.object({
    qr: z.string().describe('The QR payload to render; WhatsApp replaces it about every 20 s.'),
  }),
  'check_batch.progress': BatchEventData,
  'check_batch.completed': BatchEventData,
  'check_batch.failed': BatchEventData,
  'check_batch.cancelled': BatchEventData,
  'contacts.changed': z.object({
    contacts: z
      .array(
        z.object({
          lid: z.string().nullable().describe('Null for a person known only by phone so far.'),
          phoneNumber: z.string().nullable(),
          name: z.string().nullable(),
          changes: z
            .array(z.enum(CONTACT_CHANGES))
            .describe(
              '`new`: first stored; `name`: the stored name changed; `mapping`: the phone ↔ LID mapping was learned or changed.',
            ),
        }),
      )
      .max(MAX_CONTACTS_PER_EVENT),
  }),
} satisfies Record<WebhookEventType, z.ZodType>;

export type EventData<T extends WebhookEventType> = z.output<(typeof EVENT_DATA)[T]>;

/** An event as its producer hands it to the outbox. */
export type NewEvent = { [T in WebhookEventType]: { type: T; data: EventData<T> } }[WebhookEventType];

export type ContactChange = EventData<'contacts.changed'>['contacts'][number];

/** What every delivery of an event sends as its body (and signs). */
export interface EventBody {
  id: string;
  type: WebhookEventType;
  /** Epoch ms, when the change was recorded. */
  timestamp: number;
  organizationId: string;
  sessionId: string;
  /** Counts the session's events from 1, in the order they were recorded. */
  sequence: number;
  data: unknown;
}

export function isWebhookEventType(value: string): value is WebhookEventType {
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(value);
}
