import type { RedisClient } from '../../shared/redis.js';
import type { RedisKeys } from '../../shared/redis-keys.js';

const DAY_MS = 86_400_000;

/**
 * One session's bulk-check budget in one Redis hash, on Redis' own clock so every worker agrees:
 * a token bucket refilled by the time since its last use (the per-minute pace) and the numbers
 * asked on the current UTC day (the daily cap). Grants up to `want` numbers: fewer when only part
 * of the day's allowance is left; none, with how long to wait and why, when the day's allowance is
 * spent or the bucket holds too few tokens.
 * Returns { granted, waitMs, reason ('' | 'pace' | 'daily_limit'), resumesAt (epoch ms, 0 unless daily_limit) }.
 */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local dailyLimit = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'day', 'used')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
local day = math.floor(now / ${DAY_MS})
local used = tonumber(state[4]) or 0
if tonumber(state[3]) ~= day then used = 0 end
if rate > 0 then tokens = math.min(capacity, tokens + math.max(0, now - at) * rate) end
local dayEnd = (day + 1) * ${DAY_MS}
local ttl = dayEnd - now + 60000
if rate > 0 then ttl = math.max(ttl, math.ceil(capacity / rate) + 1000) end
local function save()
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now, 'day', day, 'used', used)
  redis.call('PEXPIRE', KEYS[1], ttl)
end
local cost = want
if dailyLimit > 0 then
  if used >= dailyLimit then
    save()
    return {0, dayEnd - now, 'daily_limit', dayEnd}
  end
  cost = math.min(cost, dailyLimit - used)
end
if rate > 0 then
  if tokens < cost then
    save()
    return {0, math.ceil((cost - tokens) / rate), 'pace', 0}
  end
  tokens = tokens - cost
end
used = used + cost
save()
return {cost, 0, '', 0}
`;

/** Gives back numbers granted but not asked (a chunk came out smaller than its grant). */
const REFUND = `
local state = redis.call('HMGET', KEYS[1], 'tokens', 'used')
local count = tonumber(ARGV[1])
if state[1] then redis.call('HSET', KEYS[1], 'tokens', tostring(math.min(tonumber(ARGV[2]), tonumber(state[1]) + count))) end
if state[2] then redis.call('HSET', KEYS[1], 'used', math.max(0, tonumber(state[2]) - count)) end
return 1
`;

/** Numbers granted, or why none were and how long until asking again makes sense. */
export type BudgetGrant =
  | { kind: 'granted'; count: number }
  | { kind: 'pace'; waitMs: number }
  | { kind: 'daily_limit'; waitMs: number; resumesAt: number };

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
-- Never shorter than the key already lives: it also carries the day's count for BATCH_DAILY_LIMIT.
redis.call('PEXPIRE', KEYS[1], math.max(redis.call('PTTL', KEYS[1]), math.ceil((capacity - tokens) / rate) + 1000))
return 0
`;

/**
 * Paces a session's bulk checks, whichever worker runs them and however many batches or pools
 * use the session at once. The bucket holds one chunk: the first chunk goes at once, after that
 * numbers flow at `perMinute`; `dailyLimit` caps the numbers asked per UTC day. Only numbers
 * actually asked of WhatsApp are taken: answers from the cache never come here.
 */
export class SessionRateLimiter {
  private readonly perMs: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    /** Numbers per minute; 0 = unlimited. */
    private readonly perMinute: number,
    private readonly capacity: number,
    /** Numbers per UTC day; 0 = no daily cap. */
    private readonly dailyLimit = 0,
  ) {
    this.perMs = perMinute / 60_000;
  }

  /** Asks for up to `count` numbers' worth of budget (at most one chunk). */
  async take(sessionId: string, count: number): Promise<BudgetGrant> {
    const want = Math.min(count, this.capacity);
    if (this.perMinute <= 0 && this.dailyLimit <= 0) return { kind: 'granted', count: want };
    const [granted, waitMs, reason, resumesAt] = (await this.redis.eval(
      TAKE,
      1,
      this.keys.batchRateBucket(sessionId),
      String(this.perMinute <= 0 ? 0 : this.perMs),
      String(this.capacity),
      String(want),
      String(this.dailyLimit),
    )) as [number, number, string, number];
    if (Number(granted) > 0) return { kind: 'granted', count: Number(granted) };
    if (reason === 'daily_limit') return { kind: 'daily_limit', waitMs: Number(waitMs), resumesAt: Number(resumesAt) };
    return { kind: 'pace', waitMs: Number(waitMs) };
  }

  async refund(sessionId: string, count: number): Promise<void> {
    if (count <= 0 || (this.perMinute <= 0 && this.dailyLimit <= 0)) return;
    await this.redis.eval(REFUND, 1, this.keys.batchRateBucket(sessionId), String(count), String(this.capacity));
  }

  /** Counts `count` numbers' worth of queries already made (never waits); the session's batches then wait for them. */
  async charge(sessionId: string, count: number): Promise<void> {
    if (this.perMinute <= 0 || count <= 0) return;
    await this.redis.eval(
      CHARGE,
      1,
      this.keys.batchRateBucket(sessionId),
      String(this.perMs),
      String(this.capacity),
      String(count),
    );
  }
}
