import type { Redis } from 'ioredis';
import type { RedisKeys } from '../../shared/redis-keys.js';

/**
 * Refills the bucket by the time since its last use (Redis' own clock, so every worker agrees),
 * then takes `cost` tokens when there are enough. Returns 0 when taken, else the milliseconds
 * until there will be enough (nothing is taken then).
 */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= cost then tokens = tokens - cost else wait = math.ceil((cost - tokens) / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate) + 1000)
return wait
`;

/**
 * Takes `cost` tokens whether or not there are enough, so the bucket may go into debt: a query made
 * outside a batch (a live check, its LID look-up) is counted, and the session's batches wait the
 * longer for it. The key lives until the debt is repaid and the bucket full again.
 */
const CHARGE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate) - cost
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 1000)
return 0
`;

/**
 * Paces a session's bulk checks with a token bucket in Redis, so the limit holds for the session
 * whichever worker runs its batches (and across several batches of one session). The bucket holds
 * one chunk: the first chunk goes at once, after that numbers flow at `perMinute`.
 */
export class SessionRateLimiter {
  private readonly perMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    /** Numbers per minute; 0 = unlimited. */
    private readonly perMinute: number,
    private readonly capacity: number,
  ) {
    this.perMs = perMinute / 60_000;
  }

  /** Takes `count` numbers' worth of budget; returns 0 when granted, else how long to wait before asking again. */
  async take(sessionId: string, count: number): Promise<number> {
    if (this.perMinute <= 0) return 0;
    const cost = Math.min(count, this.capacity);
    const wait = await this.redis.eval(TAKE, 1, this.keys.batchRateBucket(sessionId), String(this.perMs), String(this.capacity), String(cost));
    return Number(wait);
  }

  /** Counts `count` numbers' worth of queries already made (never waits); the session's batches then wait for them. */
  async charge(sessionId: string, count: number): Promise<void> {
    if (this.perMinute <= 0 || count <= 0) return;
    await this.redis.eval(CHARGE, 1, this.keys.batchRateBucket(sessionId), String(this.perMs), String(this.capacity), String(count));
  }
}
