import { getMany, type RedisClient } from '../../shared/redis.js';
import type { DataSource } from 'typeorm';
import type { RedisKeys } from '../../shared/redis-keys.js';
import { shardOf } from '../../shared/shards.js';
import type { WatchedQueue } from '../queues/watched-queues.js';
import { parseLease } from '../../shared/shard-lease.js';

export interface QueueDepth {
  waiting: number;
  active: number;
  delayed: number;
}

export interface ShardState {
  shard: number;
  /** The worker holding the shard's lease, if any. */
  holder: string | null;
  leaseExpiresAt: number | null;
  sessions: number;
  online: number;
  live: { queue: WatchedQueue; depth: QueueDepth | undefined } | undefined;
  batch: { queue: WatchedQueue; depth: QueueDepth | undefined } | undefined;
}

export interface WorkerState {
  id: string;
  /** The worker's last heartbeat (its lease tick); undefined for a lease holder no longer registered. */
  lastHeartbeat: number | undefined;
  shards: number[];
  sessions: number;
  online: number;
  /** The soonest expiry among its leases: when a dead worker's first shard is taken over. */
  nextLeaseExpiry: number | null;
}

/** Presence keys read per MGET. */
const PRESENCE_CHUNK = 500;
const STATES = ['waiting', 'active', 'delayed'] as const;

/**
 * Which worker holds which shard and session, read from what the workers themselves write to
 * Redis (the workers sorted set, shard leases, presence keys) and from MySQL's session list; the
 * api asks no worker anything.
 */
export class FleetStatus {
  constructor(
    private readonly db: DataSource,
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly shardCount: number,
    private readonly queues: readonly WatchedQueue[],
  ) {}

  /** For each session, the worker it is connected on, else the worker holding its shard (null: none). */
  async workersOf(sessionIds: readonly string[]): Promise<Map<string, string | null>> {
    const result = new Map<string, string | null>();
    if (sessionIds.length === 0) return result;
    const [holders, present] = await Promise.all([
      this.leaseHolders(),
      getMany(
        this.redis,
        sessionIds.map((id) => this.keys.presence(id)),
      ),
    ]);
    sessionIds.forEach((id, i) => result.set(id, present[i] ?? holders[shardOf(id, this.shardCount)]?.holder ?? null));
    return result;
  }

  async snapshot(now = Date.now()): Promise<{ workers: WorkerState[]; shards: ShardState[] }> {
    const [registered, leases, sessions, depths] = await Promise.all([
      this.redis.zrange(this.keys.workers(), 0, -1, 'WITHSCORES'),
      this.leaseHolders(now),
      this.db.query<{ id: string }[]>(`SELECT id FROM wa_sessions WHERE status <> 'logged_out'`),
      Promise.all(this.queues.map((w) => w.queue.getJobCounts(...STATES).catch(() => undefined))),
    ]);
    const shards: ShardState[] = leases.map((lease, shard) => ({
      shard,
      ...lease,
      sessions: 0,
      online: 0,
      live: undefined,
      batch: undefined,
    }));
    this.queues.forEach((queue, i) => {
      if (queue.shard === undefined || queue.kind === 'webhooks' || !shards[queue.shard]) return;
      const counts = depths[i];
      const depth = counts && {
        waiting: counts['waiting'] ?? 0,
        active: counts['active'] ?? 0,
        delayed: counts['delayed'] ?? 0,
      };
      shards[queue.shard]![queue.kind] = { queue, depth };
    });

    const workers = new Map<string, WorkerState>();
    const workerOf = (id: string) => {
      let worker = workers.get(id);
      if (!worker)
        workers.set(
          id,
          (worker = { id, lastHeartbeat: undefined, shards: [], sessions: 0, online: 0, nextLeaseExpiry: null }),
        );
      return worker;
    };
    for (let i = 0; i + 1 < registered.length; i += 2)
      workerOf(registered[i]!).lastHeartbeat = Number(registered[i + 1]);
    for (const shard of shards) {
      if (!shard.holder) continue;
      const worker = workerOf(shard.holder);
      worker.shards.push(shard.shard);
      if (
        shard.leaseExpiresAt !== null &&
        (worker.nextLeaseExpiry === null || shard.leaseExpiresAt < worker.nextLeaseExpiry)
      )
        worker.nextLeaseExpiry = shard.leaseExpiresAt;
    }

    for (let i = 0; i < sessions.length; i += PRESENCE_CHUNK) {
      const chunk = sessions.slice(i, i + PRESENCE_CHUNK);
      const present = await getMany(
        this.redis,
        chunk.map((s) => this.keys.presence(s.id)),
      );
      chunk.forEach(({ id }, j) => {
        const shard = shards[shardOf(id, this.shardCount)]!;
        shard.sessions++;
        if (shard.holder) workerOf(shard.holder).sessions++;
        const onlineOn = present[j];
        if (onlineOn) {
          shard.online++;
          workerOf(onlineOn).online++;
        }
      });
    }
    return { workers: [...workers.values()].sort((a, b) => a.id.localeCompare(b.id)), shards };
  }

  private async leaseHolders(now = Date.now()): Promise<{ holder: string | null; leaseExpiresAt: number | null }[]> {
    // Each lease is in its shard's own slot: one command per key, never a cross-slot pipeline.
    const shards = Array.from({ length: this.shardCount }, (_, shard) => shard);
    const [values, ttls] = await Promise.all([
      getMany(
        this.redis,
        shards.map((shard) => this.keys.lease(shard)),
      ),
      Promise.all(shards.map((shard) => this.redis.pttl(this.keys.lease(shard)))),
    ]);
    return shards.map((shard) => {
      const holder = parseLease(values[shard])?.workerId ?? null;
      const ttl = ttls[shard]!;
      return { holder, leaseExpiresAt: holder !== null && ttl > 0 ? now + ttl : null };
    });
  }
}
