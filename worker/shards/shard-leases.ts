import type { RedisClient } from '../../shared/redis.js';
import type { Logger } from '../../shared/logger.js';
import type { RedisKeys } from '../../shared/redis-keys.js';
import { within } from '../../shared/within.js';

export interface ShardOwner {
  /** Start consuming the shard's queues and connecting its sessions, under the lease `lease` (shared/shard-lease). */
  acquire(shard: number, lease: string): Promise<void>;
  /** Stop both; must finish before the lease is given up so no two processes hold one connection. */
  release(shard: number): Promise<void>;
}

export interface ShardLeaseOptions {
  workerId: string;
  shardCount: number;
  leaseTtlMs: number;
}

/**
 * A free shard, or one whose lease names this worker id (left by this worker's previous run, which
 * is dead: a worker id is one process at a time), is granted under the next epoch.
 */
const CLAIM = `
local current = redis.call('get', KEYS[1])
if current then
  local at = string.find(current, ':', 1, true)
  if not at or string.sub(current, at + 1) ~= ARGV[1] then return false end
end
local value = redis.call('incr', KEYS[2]) .. ':' .. ARGV[1]
redis.call('set', KEYS[1], value, 'PX', ARGV[2])
return value`;
/**
 * Renews our lease (1), or says another worker holds the shard (0). A lease that is simply gone
 * (a Redis failover lost its last writes, or it lapsed while the renewal was on its way) is
 * granted again under the next epoch: nobody else holds it, and this worker never stopped acting
 * within the fence, so taking it back moves nothing.
 */
const RENEW = `
local current = redis.call('get', KEYS[1])
if current == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
if current then return 0 end
local value = redis.call('incr', KEYS[2]) .. ':' .. ARGV[3]
redis.call('set', KEYS[1], value, 'PX', ARGV[2])
return value`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/** A lease not renewed for this share of its TTL is fenced here, before it can expire in Redis. */
const FENCE_AT = 0.6;
/**
 * For this many lease TTLs after Redis answers again, a worker that fenced shards takes back only
 * those, and nobody gives shards up for balance: every worker fenced at once (a Redis failover)
 * and the roster is rebuilding, so balancing on it would move sessions that need not move.
 */
const STICKY_TTLS = 3;

/**
 * Claims shards with renewed Redis leases and balances them across live workers: every worker
 * aims for ⌈shards / workers⌉ and one at that ceiling gives a shard up while another is below
 * ⌊shards / workers⌋, so a joining worker gets its share without anyone restarting.
 *
 * Each grant carries a new epoch. A lease that could not be renewed for most of its TTL is fenced
 * locally (shard stopped, `leaseOf` answers nothing) before it can expire in Redis, and writes for
 * the shard present the lease they were made under, so a takeover never overlaps with this worker
 * still acting on the shard.
 */
export class ShardLeases {
  private readonly owned = new Map<number, { value: string; renewedAt: number }>();
  /** Shards still being stopped here: not claimed again before that is done, or the stop would undo the start. */
  private readonly releasing = new Set<number>();
  private readonly tickMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private stopped = false;
  /** After giving a shard up for balance, don't claim for a moment, or we'd take it straight back. */
  private claimPausedUntil = 0;
  /** Shards fenced because Redis could not be reached: taken back first once it answers again. */
  private readonly fenced = new Set<number>();
  /** Until when only fenced shards are claimed (set once Redis answers again after a fence). */
  private stickyUntil: number | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly options: ShardLeaseOptions,
    private readonly owner: ShardOwner,
    private readonly logger: Logger,
  ) {
    // Renew well within the TTL, and look for free shards often enough that a dead worker's shard
    // is taken about a tick after its lease expired.
    this.tickMs = Math.min(2_000, Math.max(200, Math.floor(options.leaseTtlMs / 4)));
  }

  get shards(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }

  /** The lease this worker acts on the shard under, while it is sure nobody else holds it. */
  leaseOf(shard: number): string | undefined {
    const lease = this.owned.get(shard);
    if (!lease || Date.now() - lease.renewedAt > this.options.leaseTtlMs * FENCE_AT) return undefined;
    return lease.value;
  }

  start(): void {
    // Renewals run on their own clock: claiming a shard starts its sessions, which may take longer
    // than a lease lives, and the leases already held must not lapse meanwhile.
    const renewLoop = async () => {
      if (this.stopped) return;
      this.renewing = this.renewAll(Date.now()).catch((err: Error) =>
        this.logger.warn({ err: err.message }, 'shard lease renewal failed'),
      );
      await this.renewing;
      if (!this.stopped) this.renewTimer = setTimeout(() => void renewLoop(), this.tickMs);
    };
    void renewLoop();
    const loop = async () => {
      if (this.stopped) return;
      this.running = this.tick().catch((err: Error) => {
        // After a fence, the window in which only fenced shards are taken back starts from a tick
        // that went through whole (claims included), not from one that half reached Redis.
        this.stickyUntil = undefined;
        this.logger.warn({ err: err.message }, 'shard lease tick failed');
      });
      await this.running;
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.tickMs);
    };
    void loop();
  }

  /** Graceful hand-over: stop every shard, then release its lease at once (no waiting for the TTL). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.renewTimer) clearTimeout(this.renewTimer);
    await Promise.all([this.running, this.renewing]);
    await Promise.all(this.shards.map((shard) => this.giveUp(shard)));
    await this.redis.zrem(this.keys.workers(), this.options.workerId).catch(() => undefined);
    await this.redis.hdel(this.keys.workerShardCounts(), this.options.workerId).catch(() => undefined);
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    const { workerId, shardCount, leaseTtlMs } = this.options;
    await this.redis
      .multi()
      .zadd(this.keys.workers(), now, workerId)
      .zremrangebyscore(this.keys.workers(), '-inf', now - leaseTtlMs)
      .hset(this.keys.workerShardCounts(), workerId, this.owned.size)
      .exec();
    if (this.fenced.size > 0) {
      this.stickyUntil ??= now + STICKY_TTLS * leaseTtlMs;
      if (now < this.stickyUntil) return this.claimFree(this.fenced.size, [...this.fenced]);
      this.fenced.clear();
      this.stickyUntil = undefined;
    }
    const live = await this.redis.zrangebyscore(this.keys.workers(), now - leaseTtlMs, '+inf');
    const workers = Math.max(1, live.length);
    const floor = Math.floor(shardCount / workers);
    const ceil = Math.ceil(shardCount / workers);

    if (this.owned.size > ceil) {
      for (const shard of this.shards.slice(ceil)) await this.giveUp(shard);
      this.claimPausedUntil = Date.now() + 3 * this.tickMs;
      return;
    }
    if (this.owned.size === ceil && ceil > floor) {
      const others = live.filter((id) => id !== workerId);
      const counts = others.length > 0 ? await this.redis.hmget(this.keys.workerShardCounts(), ...others) : [];
      if (counts.some((c) => Number(c ?? 0) < floor)) {
        await this.giveUp(this.shards[this.shards.length - 1]!);
        this.claimPausedUntil = Date.now() + 3 * this.tickMs;
        return;
      }
    }
    if (this.owned.size < ceil && Date.now() >= this.claimPausedUntil) await this.claimFree(ceil - this.owned.size);
  }

  private async renewAll(now: number): Promise<void> {
    await Promise.all(
      [...this.owned].map(async ([shard, lease]) => {
        try {
          // Bounded by what is left of the fence window: a renewal stuck in a client that retries
          // through a failover must fence the shard as surely as one that fails.
          const left = this.options.leaseTtlMs * FENCE_AT - (Date.now() - lease.renewedAt);
          const renewed = await within(
            this.redis.eval(
              RENEW,
              2,
              this.keys.lease(shard),
              this.keys.leaseEpoch(shard),
              lease.value,
              this.options.leaseTtlMs,
              this.options.workerId,
            ),
            // A few ms past it: a timer may fire a millisecond before Date.now() shows the full wait.
            Math.max(1, left + 5),
          );
          if (this.owned.get(shard) !== lease) return;
          if (renewed === 1) lease.renewedAt = now;
          else if (typeof renewed === 'string') {
            this.logger.warn({ shard, lease: renewed, was: lease.value }, 'lease was gone from Redis; granted again');
            lease.value = renewed;
            lease.renewedAt = now;
          } else {
            this.logger.warn({ shard }, 'lease lost to another worker; stopping shard');
            await this.stopLocally(shard);
          }
        } catch (err) {
          if (this.owned.get(shard) === lease && Date.now() - lease.renewedAt >= this.options.leaseTtlMs * FENCE_AT) {
            this.logger.warn(
              { shard, err: (err as Error).message },
              'cannot renew lease; fencing shard before it expires',
            );
            this.fenced.add(shard);
            this.stickyUntil = undefined;
            await this.stopLocally(shard);
          }
        }
      }),
    );
  }

  /** Claims up to `wanted` free shards, in random order, of `among` (default: every shard). */
  private async claimFree(wanted: number, among?: number[]): Promise<void> {
    const candidates = (among ?? Array.from({ length: this.options.shardCount }, (_, i) => i)).filter(
      (s) => !this.owned.has(s) && !this.releasing.has(s),
    );
    for (let i = candidates.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!];
    }
    for (const shard of candidates) {
      if (wanted === 0 || this.stopped) return;
      const claimedAt = Date.now();
      const value = await this.redis.eval(
        CLAIM,
        2,
        this.keys.lease(shard),
        this.keys.leaseEpoch(shard),
        this.options.workerId,
        this.options.leaseTtlMs,
      );
      if (typeof value !== 'string') continue;
      this.owned.set(shard, { value, renewedAt: claimedAt });
      wanted--;
      try {
        await this.owner.acquire(shard, value);
        this.logger.info({ shard, lease: value }, 'shard acquired');
      } catch (err) {
        this.logger.error({ shard, err }, 'could not start shard; giving it back');
        await this.giveUp(shard);
      }
    }
  }

  private async stopLocally(shard: number): Promise<void> {
    this.owned.delete(shard);
    this.releasing.add(shard);
    try {
      await this.owner
        .release(shard)
        .catch((err: Error) => this.logger.error({ shard, err }, 'error while stopping shard'));
    } finally {
      this.releasing.delete(shard);
    }
  }

  private async giveUp(shard: number): Promise<void> {
    const value = this.owned.get(shard)?.value;
    await this.stopLocally(shard);
    if (value !== undefined) await this.redis.eval(RELEASE, 1, this.keys.lease(shard), value).catch(() => undefined);
    this.logger.info({ shard }, 'shard released');
  }
}
