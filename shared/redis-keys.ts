/**
 * Every Redis key and queue name, in one place. Keys that belong together share a hash tag
 * ({…}) so the layout also works on Redis Cluster.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** BullMQ prefix for a shard's live queue: its keys are `<prefix>:{live-<n>}:live:…`. */
  liveQueuePrefix(shard: number): string {
    return `${this.prefix}:{live-${shard}}`;
  }

  readonly liveQueueName = 'live';

  /** BullMQ prefix for a shard's bulk-check queue: batches follow the shard lease like live jobs. */
  batchQueuePrefix(shard: number): string {
    return `${this.prefix}:{batch-${shard}}`;
  }

  readonly batchQueueName = 'batch';

  /** BullMQ prefix of the webhook delivery queue, shared by all workers (deliveries follow no shard). */
  get webhookQueuePrefix(): string {
    return `${this.prefix}:{webhooks}`;
  }

  readonly webhookQueueName = 'webhooks';

  /** Held by the one worker relaying the webhook outbox to the queue at a time. */
  webhookRelayLock(): string {
    return `${this.prefix}:webhook-relay`;
  }

  /** Token bucket pacing a session's bulk number checks, shared by every worker. */
  batchRateBucket(sessionId: string): string {
    return `${this.prefix}:batch-rate:${sessionId}`;
  }

  /** Written by the owning worker, with a TTL, while the session's WhatsApp connection is open. */
  presence(sessionId: string): string {
    return `${this.prefix}:presence:${sessionId}`;
  }

  lease(shard: number): string {
    return `${this.prefix}:lease:${shard}`;
  }

  /** Sorted set of live worker ids scored by their last heartbeat (epoch ms). */
  workers(): string {
    return `${this.prefix}:workers`;
  }

  /** Latest pairing QR for a session (short TTL). */
  qr(sessionId: string): string {
    return `${this.prefix}:qr:${sessionId}`;
  }

  /**
   * Present while someone is pairing a session (asked for its QR code or a pairing code); it
   * expires after the pairing window, and an unpaired session nobody is pairing is then let go.
   */
  pairingWanted(sessionId: string): string {
    return `${this.prefix}:pairing:${sessionId}`;
  }

  /** Pub/sub channel the api uses to ask a session's owner for a command (pairing code, logout). */
  control(): string {
    return `${this.prefix}:control`;
  }

  rateLimit(scope: string): string {
    return `${this.prefix}:rl:${scope}`;
  }
}
