import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { poolQuery } from '../../shared/db/pool-query.js';
import { AppError } from '../../shared/errors.js';
import { ulid } from '../../shared/ids.js';
import {
  hostOf,
  RefusedAddressError,
  resolveAllowed,
  urlProblem,
  type AddressPolicy,
} from '../../shared/webhooks/address-policy.js';
import type { WebhookEventType } from '../../shared/webhooks/events.js';
import type { DeliveryView, WebhookView } from './webhook-schemas.js';

export interface WebhookServiceOptions extends AddressPolicy {
  maxEndpoints: number;
  secretGraceMs: number;
}

export interface NewWebhook {
  url: string;
  events: WebhookEventType[];
  description?: string | undefined;
  enabled?: boolean | undefined;
}

export interface WebhookChanges {
  url?: string | undefined;
  events?: WebhookEventType[] | undefined;
  description?: string | null | undefined;
  enabled?: boolean | undefined;
}

interface EndpointRow {
  id: string;
  url: string;
  events: string;
  description: string | null;
  enabled: number;
  disabled_reason: string | null;
  previous_secret_expires_at: number | string | null;
  created_at: number | string;
  updated_at: number | string;
}

interface DeliveryRow {
  id: number | string;
  event_id: string;
  event_type: WebhookEventType;
  session_id: string;
  status: DeliveryView['status'];
  attempts: number;
  response_status: number | null;
  latency_ms: number | null;
  error: string | null;
  created_at: number | string;
  last_attempt_at: number | string | null;
  next_attempt_at: number | string | null;
  delivered_at: number | string | null;
}

const ENDPOINT_COLUMNS =
  'id, url, events, description, enabled, disabled_reason, previous_secret_expires_at, created_at, updated_at';
const DELIVERY_COLUMNS =
  'id, event_id, event_type, session_id, status, attempts, response_status, latency_ms, error, created_at, last_attempt_at, next_attempt_at, delivered_at';
const nullableNumber = (v: number | string | null) => (v === null ? null : Number(v));
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;
const notFound = () => new AppError('not_found', 'webhook not found');

export const newWebhookId = () => `wh_${ulid()}`;
/** A Standard Webhooks secret: `whsec_` and 32 random bytes in base64. */
export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/**
 * An organization's webhook endpoints and their deliveries. Every read and write names the
 * organization, so another organization's endpoint is not found, exactly like a missing one.
 */
export class WebhookService {
  constructor(
    private readonly db: DataSource,
    private readonly options: WebhookServiceOptions,
  ) {}

  async create(organizationId: string, input: NewWebhook): Promise<WebhookView & { secret: string }> {
    const url = await this.checkUrl(input.url);
    const id = newWebhookId();
    const secret = newWebhookSecret();
    const now = Date.now();
    await this.db.transaction(async (tx) => {
      // Creations of one organization take turns here, so two at once cannot both pass the limit.
      await tx.query('SELECT id FROM organizations WHERE id = ? FOR UPDATE', [organizationId]);
      const [{ n }] = await tx.query<[{ n: number | string }]>(
        'SELECT COUNT(*) AS n FROM webhook_endpoints WHERE organization_id = ?',
        [organizationId],
      );
      if (Number(n) >= this.options.maxEndpoints) {
        throw new AppError(
          'conflict',
          `an organization may have at most ${this.options.maxEndpoints} webhook endpoints; delete one first`,
          { limit: this.options.maxEndpoints },
        );
      }
      await tx.query(
        `INSERT INTO webhook_endpoints (id, organization_id, url, description, events, enabled, secret, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          id,
          organizationId,
          url,
          input.description ?? null,
          input.events.join(','),
          input.enabled === false ? 0 : 1,
          secret,
          now,
          now,
        ],
      );
    });
    return { ...(await this.get(organizationId, id)), secret };
  }

  async get(organizationId: string, id: string): Promise<WebhookView> {
    // Ids are ASCII; anything else names no endpoint (and would not compare with the ascii column).
    if (!PRINTABLE_ASCII.test(id)) throw notFound();
    const [row] = await poolQuery<EndpointRow>(
      this.db,
      `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ? AND organization_id = ?`,
      [id, organizationId],
    );
    if (!row) throw notFound();
    return viewOf(row);
  }

  /** Oldest first, after the id `afterId`. */
  async list(
    organizationId: string,
    afterId: string,
    limit: number,
  ): Promise<{ rows: WebhookView[]; hasMore: boolean }> {
    const rows = await poolQuery<EndpointRow>(
      this.db,
      `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE organization_id = ? AND id > ? ORDER BY id LIMIT ?`,
      [organizationId, afterId, limit + 1],
    );
    return { rows: rows.slice(0, limit).map(viewOf), hasMore: rows.length > limit };
  }

  async update(organizationId: string, id: string, changes: WebhookChanges): Promise<WebhookView> {
    await this.get(organizationId, id);
    const columns: Record<string, unknown> = {};
    if (changes.url !== undefined) columns['url'] = await this.checkUrl(changes.url);
    if (changes.events !== undefined) columns['events'] = changes.events.join(',');
    if (changes.description !== undefined) columns['description'] = changes.description;
    if (changes.enabled !== undefined) columns['enabled'] = changes.enabled ? 1 : 0;
    // Enabling starts afresh: the gateway's reason and its failure clock go.
    if (changes.enabled === true) Object.assign(columns, { disabled_reason: null, failing_since: null });
    columns['updated_at'] = Date.now();
    const names = Object.keys(columns);
    await poolQuery(
      this.db,
      `UPDATE webhook_endpoints SET ${names.map((n) => `${n} = ?`).join(', ')} WHERE id = ? AND organization_id = ?`,
      [...Object.values(columns), id, organizationId],
    );
    return this.get(organizationId, id);
  }

  /** Deletes the endpoint and its deliveries; deliveries being attempted stop at their next step. */
  async remove(organizationId: string, id: string): Promise<void> {
    await this.get(organizationId, id);
    const result = await this.db.query<{ affectedRows: number }>(
      'DELETE FROM webhook_endpoints WHERE id = ? AND organization_id = ?',
      [id, organizationId],
    );
    if (result.affectedRows !== 1) throw notFound();
  }

  /** A new secret signs from now on; the current one keeps signing beside it for the grace period. */
  async rotateSecret(organizationId: string, id: string): Promise<{ secret: string; previousSecretExpiresAt: number }> {
    await this.get(organizationId, id);
    const secret = newWebhookSecret();
    const now = Date.now();
    const expiresAt = now + this.options.secretGraceMs;
    const result = await this.db.query<{ affectedRows: number }>(
      `UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_expires_at = ?, secret = ?, updated_at = ? WHERE id = ? AND organization_id = ?`,
      [expiresAt, secret, now, id, organizationId],
    );
    if (result.affectedRows !== 1) throw notFound();
    return { secret, previousSecretExpiresAt: expiresAt };
  }

  /** Newest first, before the delivery row `beforeId` (0: from the newest). */
  async deliveries(
    organizationId: string,
    id: string,
    status: DeliveryView['status'] | undefined,
    beforeId: number,
    limit: number,
  ): Promise<{ rows: DeliveryView[]; lastId: number | undefined; hasMore: boolean }> {
    await this.get(organizationId, id);
    const where = ['endpoint_id = ?'];
    const args: unknown[] = [id];
    if (beforeId > 0) {
      where.push('id < ?');
      args.push(beforeId);
    }
    if (status) {
      where.push('status = ?');
      args.push(status);
    }
    const rows = await poolQuery<DeliveryRow>(
      this.db,
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ?`,
      [...args, limit + 1],
    );
    const page = rows.slice(0, limit);
    return {
      rows: page.map(deliveryOf),
      lastId: page.length > 0 ? Number(page[page.length - 1]!.id) : undefined,
      hasMore: rows.length > limit,
    };
  }

  /**
   * Sends a finished delivery again, from a fresh attempt count, with the same webhook-id. 409 while
   * it is still queued or being attempted, or when the endpoint is disabled.
   */
  async redeliver(organizationId: string, id: string, eventId: string): Promise<DeliveryView> {
    const endpoint = await this.get(organizationId, id);
    const find = async () =>
      (
        await poolQuery<DeliveryRow>(
          this.db,
          `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = ? AND event_id = ?`,
          [id, eventId],
        )
      )[0];
    const before = PRINTABLE_ASCII.test(eventId) ? await find() : undefined;
    if (!before) throw new AppError('not_found', 'delivery not found', { eventId });
    if (!endpoint.enabled)
      throw new AppError('conflict', 'the endpoint is disabled; enable it first', { enabled: false });
    const result = await this.db.query<{ affectedRows: number }>(
      `UPDATE webhook_deliveries SET status = 'queued', generation = generation + 1, attempts = 0, response_status = NULL, latency_ms = NULL, error = NULL,
              last_attempt_at = NULL, next_attempt_at = NULL, delivered_at = NULL, updated_at = ?
        WHERE endpoint_id = ? AND event_id = ? AND status IN ('succeeded', 'failed')`,
      [Date.now(), id, eventId],
    );
    if (result.affectedRows !== 1)
      throw new AppError('conflict', `the delivery is still ${before.status}`, { status: before.status });
    return deliveryOf((await find())!);
  }

  /** The URL as it is stored and called (normalised: punycode host, percent-encoded path), once it passed the address policy. */
  private async checkUrl(raw: string): Promise<string> {
    const problem = urlProblem(raw, this.options);
    if (problem) throw new AppError('validation_error', 'invalid body parameter: url', { url: problem });
    const url = new URL(raw);
    try {
      await resolveAllowed(hostOf(url), this.options);
    } catch (err) {
      const reason = err instanceof RefusedAddressError ? err.message : `host ${url.hostname} does not resolve`;
      throw new AppError('validation_error', 'invalid body parameter: url', { url: reason });
    }
    return url.href;
  }
}

function viewOf(row: EndpointRow): WebhookView {
  const expiresAt = nullableNumber(row.previous_secret_expires_at);
  return {
    id: row.id,
    url: row.url,
    events: row.events.split(',') as WebhookEventType[],
    description: row.description,
    enabled: Number(row.enabled) === 1,
    disabledReason: row.disabled_reason,
    previousSecretExpiresAt: expiresAt !== null && expiresAt > Date.now() ? expiresAt : null,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function deliveryOf(row: DeliveryRow): DeliveryView {
  return {
    eventId: row.event_id,
    eventType: row.event_type,
    sessionId: row.session_id,
    status: row.status,
    attempts: Number(row.attempts),
    responseStatus: row.response_status === null ? null : Number(row.response_status),
    latencyMs: row.latency_ms === null ? null : Number(row.latency_ms),
    error: row.error,
    createdAt: Number(row.created_at),
    lastAttemptAt: nullableNumber(row.last_attempt_at),
    nextAttemptAt: nullableNumber(row.next_attempt_at),
    deliveredAt: nullableNumber(row.delivered_at),
  };
}
