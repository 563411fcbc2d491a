import { shardOf } from './shards.js';

/**
 * Every Redis key and queue name, in one place. Everything of one shard (its queues, lease, the
 * presence and budget of its sessions) shares the hash tag `{shard-<n>}`, so on Redis Cluster it
 * lives in one slot: a script may touch any of it, and the shards spread over the masters.
 */
export class RedisKeys {
  constructor(
    readonly prefix: string,
    readonly shardCount: number,
  ) {}

  /** The part of every key of the shard that Redis Cluster hashes. */
  shardPrefix(shard: number): string {
    return `${this.prefix}:{shard-${shard}}`;
  }

  private sessionPrefix(sessionId: string): string {
    return this.shardPrefix(shardOf(sessionId, this.shardCount));
  }

  /** BullMQ prefix for a shard's live queue: its keys are `<prefix>:{shard-<n>}:live:…`. */
  liveQueuePrefix(shard: number): string {
    return this.shardPrefix(shard);
  }

  readonly liveQueueName = 'live';

  /** BullMQ prefix for a shard's bulk-check queue: batches follow the shard lease like live jobs. */
  batchQueuePrefix(shard: number): string {
    return this.shardPrefix(shard);
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
    return `${this.sessionPrefix(sessionId)}:batch-rate:${sessionId}`;
  }

  /** Written by the owning worker, with a TTL, while the session's WhatsApp connection is open. */
  presence(sessionId: string): string {
    return `${this.sessionPrefix(sessionId)}:presence:${sessionId}`;
  }

  /**
   * Written, with the presence key's TTL, when a connected session leaves its worker for another:
   * the releasing owner hands the shard over, or the next owner finds a dead worker's presence.
   * Until the new owner connects the session, a live call hears 503 (retry) rather than 501.
   */
  handover(sessionId: string): string {
    return `${this.sessionPrefix(sessionId)}:handover:${sessionId}`;
  }

  /** `<epoch>:<workerId>` of the shard's owner (shared/shard-lease), with a TTL its owner renews. */
  lease(shard: number): string {
    return `${this.shardPrefix(shard)}:lease`;
  }

  /** Counts the shard's leases ever granted: each grant's epoch is one more than the last. */
  leaseEpoch(shard: number): string {
    return `${this.shardPrefix(shard)}:lease-epoch`;
  }

  /** Sorted set of live worker ids scored by their last heartbeat (epoch ms). */
  workers(): string {
    return `${this.prefix}:{workers}`;
  }

  /** How many shards each live worker holds (hash), beside `workers()` in the same slot. */
  workerShardCounts(): string {
    return `${this.prefix}:{workers}:shards`;
  }

  /** Present, with a short TTL, while the worker is alive: a dead worker's leases may be taken at once. */
  workerAlive(workerId: string): string {
    return `${this.prefix}:{workers}:alive:${workerId}`;
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
