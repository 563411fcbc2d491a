import type { DataSource } from 'typeorm';
import { poolQuery } from '../../shared/db/pool-query.js';
import type { AttemptResult } from './webhook-sender.js';

export interface DeliveryToSend {
  id: number;
  endpointId: string;
  eventId: string;
  sessionId: string;
  eventType: string;
  status: string;
  generation: number;
  attempts: number;
  url: string;
  enabled: boolean;
  /** Current first, then the previous one while its grace period lasts. */
  secrets: string[];
  /** The endpoint has failed since then, with no success (null: it is not failing). */
  failingSince: number | null;
  body: string;
}

interface DeliveryRow {
  id: number | string;
  endpoint_id: string;
  event_id: string;
  session_id: string;
  event_type: string;
  status: string;
  generation: number;
  attempts: number;
  url: string;
  enabled: number;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: number | string | null;
  failing_since: number | string | null;
  body: string;
}

/** Deliveries a job may attempt: queued ones too, since the relay marks them only after queueing their job. */
const OPEN = `status IN ('queued', 'attempting')`;

/** The dispatcher's side of deliveries in MySQL: what to send, and what each attempt did. */
export class DeliveryStore {
  constructor(
    private readonly db: DataSource,
    private readonly disableAfterMs: number,
  ) {}

  async load(deliveryId: number, now: number): Promise<DeliveryToSend | undefined> {
    const [row] = await poolQuery<DeliveryRow>(
      this.db,
      `SELECT d.id, d.endpoint_id, d.event_id, d.session_id, d.event_type, d.status, d.generation, d.attempts,
              e.url, e.enabled, e.secret, e.previous_secret, e.previous_secret_expires_at, e.failing_since, ev.body
         FROM webhook_deliveries d
         JOIN webhook_endpoints e ON e.id = d.endpoint_id
         JOIN webhook_events ev ON ev.id = d.event_id
        WHERE d.id = ?`,
      [deliveryId],
    );
    if (!row) return undefined;
    const previousValid =
      row.previous_secret !== null &&
      row.previous_secret_expires_at !== null &&
      Number(row.previous_secret_expires_at) > now;
    return {
      id: Number(row.id),
      endpointId: row.endpoint_id,
      eventId: row.event_id,
      sessionId: row.session_id,
      eventType: row.event_type,
      status: row.status,
      generation: Number(row.generation),
      attempts: Number(row.attempts),
      url: row.url,
      enabled: Number(row.enabled) === 1,
      secrets: previousValid ? [row.secret, row.previous_secret!] : [row.secret],
      failingSince: row.failing_since === null ? null : Number(row.failing_since),
      body: row.body,
    };
  }

  /**
   * An earlier session.status delivery of the same session to the same endpoint that is still
   * being tried: this one waits behind it, so the receiver sees a session's statuses in order.
   */
  async predecessor(delivery: DeliveryToSend): Promise<{ nextAttemptAt: number | null } | undefined> {
    const [row] = await poolQuery<{ next_attempt_at: number | string | null }>(
      this.db,
      `SELECT next_attempt_at FROM webhook_deliveries
        WHERE status = 'attempting' AND endpoint_id = ? AND id < ? AND session_id = ? AND event_type = 'session.status'
        ORDER BY id LIMIT 1`,
      [delivery.endpointId, delivery.id, delivery.sessionId],
    );
    return row ? { nextAttemptAt: row.next_attempt_at === null ? null : Number(row.next_attempt_at) } : undefined;
  }

  async succeeded(delivery: DeliveryToSend, result: AttemptResult, now: number): Promise<void> {
    await poolQuery(
      this.db,
      `UPDATE webhook_deliveries SET status = 'succeeded', attempts = attempts + 1, response_status = ?, latency_ms = ?, error = NULL,
              last_attempt_at = ?, next_attempt_at = NULL, delivered_at = ?, updated_at = ?
        WHERE id = ? AND generation = ? AND ${OPEN}`,
      [result.status ?? null, result.latencyMs, now, now, now, delivery.id, delivery.generation],
    );
    if (delivery.failingSince !== null)
      await poolQuery(this.db, `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ?`, [delivery.endpointId]);
  }

  /**
   * Records a failed attempt: tried again at `nextAttemptAt`, or given up when that is null. Returns
   * the reason when this failure disabled the endpoint (all its attempts failed for disableAfterMs).
   */
  async failed(
    delivery: DeliveryToSend,
    result: AttemptResult,
    nextAttemptAt: number | null,
    now: number,
  ): Promise<string | undefined> {
    await poolQuery(
      this.db,
      `UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, response_status = ?, latency_ms = ?, error = ?,
              last_attempt_at = ?, next_attempt_at = ?, updated_at = ?
        WHERE id = ? AND generation = ? AND ${OPEN}`,
      [
        nextAttemptAt === null ? 'failed' : 'attempting',
        result.status ?? null,
        result.latencyMs,
        (result.error ?? 'failed').slice(0, 500),
        now,
        nextAttemptAt,
        now,
        delivery.id,
        delivery.generation,
      ],
    );
    await poolQuery(this.db, `UPDATE webhook_endpoints SET failing_since = ? WHERE id = ? AND failing_since IS NULL`, [
      now,
      delivery.endpointId,
    ]);
    const [endpoint] = await poolQuery<{ failing_since: number | string | null; enabled: number }>(
      this.db,
      `SELECT failing_since, enabled FROM webhook_endpoints WHERE id = ?`,
      [delivery.endpointId],
    );
    if (!endpoint || Number(endpoint.enabled) !== 1 || endpoint.failing_since === null) return undefined;
    const failingFor = now - Number(endpoint.failing_since);
    if (failingFor < this.disableAfterMs) return undefined;
    const reason = `every delivery attempt failed for ${Math.round(failingFor / 60_000)} min (last: ${(result.error ?? 'failed').slice(0, 200)}); re-enable it with PATCH {"enabled": true}`;
    return (await this.disable(delivery.endpointId, reason, now)) ? reason : undefined;
  }

  /** A delivery whose endpoint was disabled meanwhile is not attempted. */
  async abandon(delivery: DeliveryToSend, now: number): Promise<void> {
    await poolQuery(
      this.db,
      `UPDATE webhook_deliveries SET status = 'failed', error = 'endpoint disabled', next_attempt_at = NULL, updated_at = ? WHERE id = ? AND generation = ? AND ${OPEN}`,
      [now, delivery.id, delivery.generation],
    );
  }

  /** Disables the endpoint and gives up its open deliveries (redeliver them after re-enabling). */
  private async disable(endpointId: string, reason: string, now: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const result = await tx.query<{ affectedRows: number }>(
        `UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ? AND enabled = 1`,
        [reason.slice(0, 500), now, endpointId],
      );
      if (result.affectedRows !== 1) return false;
      await tx.query(
        `UPDATE webhook_deliveries SET status = 'failed', error = 'endpoint disabled', next_attempt_at = NULL, updated_at = ? WHERE endpoint_id = ? AND ${OPEN}`,
        [now, endpointId],
      );
      return true;
    });
  }
}
