import type { RedisClient } from '../../shared/redis.js';
import type { DataSource } from 'typeorm';
import { poolQuery } from '../../shared/db/pool-query.js';
import type { Logger } from '../../shared/logger.js';
import {
  WEBHOOK_DELIVERY_JOB,
  WEBHOOK_JOB_OPTIONS,
  webhookJobId,
  type WebhookJobData,
  type WebhookQueue,
} from '../../shared/webhooks/delivery-queue.js';

export interface OutboxRelayOptions {
  /** Deliveries of one endpoint in the queue at once. */
  inFlight: number;
  intervalMs: number;
  retentionMs: number;
  workerId: string;
}

interface QueuedRow {
  id: number | string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  generation: number;
}

/** Endpoints served per pass; the rest are served by the next passes. */
const ENDPOINTS_PER_PASS = 200;
/** A pass holds the relay lock this long at most; a relay killed mid-pass frees it after that. */
const LOCK_MS = 5_000;
/** A busy lock is asked for again this soon, so the delivery that just ended is replaced quickly. */
const BUSY_RETRY_MS = 20;
const SWEEP_EVERY_MS = 60_000;
/** An attempting delivery untouched this long whose job is gone from Redis is queued again. */
const ORPHAN_AFTER_MS = 60_000;
const RETENTION_EVERY_MS = 3_600_000;
const RETENTION_BATCH = 1_000;

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * Moves deliveries from the MySQL outbox to the BullMQ queue, at most `inFlight` per endpoint: the
 * rest wait in MySQL, so a dead receiver's backlog costs rows, not queue entries, and one
 * endpoint can never hold more than its share of the dispatchers. Every worker runs a relay; a
 * Redis lock lets one pass run at a time, so the per-endpoint bound holds across workers.
 *
 * A job is added before its row is marked `attempting`: a relay killed in between leaves the row
 * `queued`, and the next pass adds the same job id again (a no-op while the job exists; a job
 * whose delivery already ended does nothing). The sweep re-queues deliveries whose job Redis lost.
 */
export class OutboxRelay {
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private lastSweep = 0;
  private lastRetention = 0;

  constructor(
    private readonly db: DataSource,
    private readonly redis: RedisClient,
    private readonly lockKey: string,
    private readonly queue: WebhookQueue,
    private readonly options: OutboxRelayOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.nudge(), this.options.intervalMs);
  }

  /** Something may be waiting in the outbox: relay soon (calls within a few ms are one pass). */
  nudge(delayMs = 5): void {
    if (this.stopped || this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      void this.run();
    }, delayMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearTimeout(this.soon);
    await this.running;
  }

  private async run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass().finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        this.nudge(0);
      }
    });
    await this.running;
  }

  private async pass(): Promise<void> {
    const token = `${this.options.workerId}:${process.hrtime.bigint()}`;
    try {
      if ((await this.redis.set(this.lockKey, token, 'PX', LOCK_MS, 'NX')) !== 'OK') {
        this.nudge(BUSY_RETRY_MS);
        return;
      }
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'webhook relay: Redis unreachable');
      return;
    }
    try {
      while (!this.stopped && (await this.relayOnce()) > 0);
      const now = Date.now();
      if (now - this.lastSweep >= SWEEP_EVERY_MS) {
        this.lastSweep = now;
        await this.requeueOrphans(now);
      }
      if (now - this.lastRetention >= RETENTION_EVERY_MS) {
        this.lastRetention = now;
        await this.dropExpired(now);
      }
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'webhook relay pass failed; retrying at the next one');
    } finally {
      await this.redis.eval(RELEASE, 1, this.lockKey, token).catch(() => undefined);
    }
  }

  /** Queues what fits into each endpoint's window; returns how many deliveries it queued. */
  private async relayOnce(): Promise<number> {
    const waiting = await poolQuery<{ endpoint_id: string }>(
      this.db,
      `SELECT endpoint_id FROM webhook_deliveries WHERE status = 'queued' GROUP BY endpoint_id LIMIT ${ENDPOINTS_PER_PASS}`,
      [],
    );
    if (waiting.length === 0) return 0;
    const endpoints = waiting.map((w) => w.endpoint_id);
    const busy = await poolQuery<{ endpoint_id: string; n: number | string }>(
      this.db,
      `SELECT endpoint_id, COUNT(*) AS n FROM webhook_deliveries WHERE status = 'attempting' AND endpoint_id IN (${endpoints.map(() => '?').join(', ')}) GROUP BY endpoint_id`,
      endpoints,
    );
    const inFlight = new Map(busy.map((b) => [b.endpoint_id, Number(b.n)]));
    const room = endpoints
      .map((id) => [id, this.options.inFlight - (inFlight.get(id) ?? 0)] as const)
      .filter(([, free]) => free > 0);
    if (room.length === 0) return 0;
    const rows = await poolQuery<QueuedRow>(
      this.db,
      room
        .map(
          () =>
            `(SELECT id, endpoint_id, event_id, event_type, generation FROM webhook_deliveries WHERE status = 'queued' AND endpoint_id = ? ORDER BY id LIMIT ?)`,
        )
        .join(' UNION ALL '),
      room.flatMap(([id, free]) => [id, free]),
    );
    if (rows.length === 0) return 0;
    await this.queue.addBulk(
      rows.map((row) => {
        const data: WebhookJobData = {
          deliveryId: Number(row.id),
          generation: Number(row.generation),
          endpointId: row.endpoint_id,
          eventId: row.event_id,
          eventType: row.event_type,
        };
        return {
          name: WEBHOOK_DELIVERY_JOB,
          data,
          opts: { ...WEBHOOK_JOB_OPTIONS, jobId: webhookJobId(data.deliveryId, data.generation) },
        };
      }),
    );
    const now = Date.now();
    await poolQuery(
      this.db,
      `UPDATE webhook_deliveries SET status = 'attempting', updated_at = ? WHERE status = 'queued' AND id IN (${rows.map(() => '?').join(', ')})`,
      [now, ...rows.map((r) => r.id)],
    );
    return rows.length;
  }

  /** Deliveries marked attempting whose job is no longer in Redis (lost with Redis' data) go back to the outbox. */
  private async requeueOrphans(now: number): Promise<void> {
    const rows = await poolQuery<{ id: number | string; generation: number; updated_at: number | string }>(
      this.db,
      `SELECT id, generation, updated_at FROM webhook_deliveries WHERE status = 'attempting' ORDER BY id LIMIT 1000`,
      [],
    );
    for (const row of rows) {
      if (now - Number(row.updated_at) < ORPHAN_AFTER_MS) continue;
      const state = await this.queue.getJobState(webhookJobId(Number(row.id), Number(row.generation)));
      if (state !== 'unknown') continue;
      await poolQuery(
        this.db,
        `UPDATE webhook_deliveries SET status = 'queued', updated_at = ? WHERE id = ? AND generation = ? AND status = 'attempting'`,
        [now, row.id, row.generation],
      );
      this.logger.warn({ deliveryId: row.id }, 'webhook delivery had lost its job; queued it again');
    }
  }

  /** Events older than the retention go, with their deliveries. */
  private async dropExpired(now: number): Promise<void> {
    for (;;) {
      const result = await this.db.query<{ affectedRows?: number }>(
        `DELETE FROM webhook_events WHERE created_at < ? ORDER BY created_at LIMIT ${RETENTION_BATCH}`,
        [now - this.options.retentionMs],
      );
      if ((result.affectedRows ?? 0) < RETENTION_BATCH || this.stopped) return;
    }
  }
}
