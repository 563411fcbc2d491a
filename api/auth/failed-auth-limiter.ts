import type { RedisClient } from '../../shared/redis.js';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { within } from '../../shared/within.js';

const WINDOW_SECONDS = 60;
const REDIS_BUDGET_MS = 250;
/** Past this many blocked clients, expired blocks are swept out on the next block. */
const SWEEP_AT = 10_000;

/**
 * Failed token checks per client address, counted in Redis so every api process shares the count
 * (AUTH_FAILURES_PER_MINUTE). Once a client is over the limit, until the window ends, a token of
 * it that would need a MySQL read is refused with 429 before the read, so guessing keys costs the
 * gateway nothing. Only a failure touches Redis; the block itself is held in each process's
 * memory, learnt the first time that process sees the client fail over the limit. While Redis is
 * unreachable failures are not counted (and that is logged once): tokens must keep working.
 */
export class FailedAuthLimiter {
  private readonly limiter: RateLimiterRedis | undefined;
  private readonly blockedUntil = new Map<string, number>();
  private failingOpen = false;

  constructor(
    redis: RedisClient,
    keyPrefix: string,
    private readonly perMinute: number,
    private readonly logger: Logger,
  ) {
    this.limiter =
      perMinute > 0
        ? new RateLimiterRedis({
            storeClient: redis,
            keyPrefix,
            points: perMinute,
            duration: WINDOW_SECONDS,
            rejectIfRedisNotReady: true,
          })
        : undefined;
  }

  /** The 429 to answer while the client is blocked; undefined when it is not. */
  refusal(client: string): AppError | undefined {
    const until = this.blockedUntil.get(client);
    if (until === undefined) return undefined;
    const ms = until - Date.now();
    if (ms <= 0) return void this.blockedUntil.delete(client);
    const retryAfterSeconds = Math.max(1, Math.ceil(ms / 1000));
    return new AppError(
      'rate_limited',
      `too many failed authentications from this client (${this.perMinute} a minute); retry in ${retryAfterSeconds} s`,
      { retryAfterSeconds },
    );
  }

  async failed(client: string): Promise<void> {
    if (!this.limiter) return;
    try {
      const count = await within(this.limiter.consume(client), REDIS_BUDGET_MS);
      this.recovered();
      // That was the last failure allowed this window: the next attempt is refused.
      if (count.consumedPoints >= this.perMinute) this.block(client, Date.now() + count.msBeforeNext);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        this.recovered();
        this.block(client, Date.now() + err.msBeforeNext);
        return;
      }
      if (!this.failingOpen)
        this.logger.warn(
          { err: (err as Error).message },
          'failed-authentication limiter cannot reach Redis; failures are not counted',
        );
      this.failingOpen = true;
    }
  }

  private block(client: string, until: number): void {
    if (this.blockedUntil.size >= SWEEP_AT) {
      const now = Date.now();
      for (const [key, at] of this.blockedUntil) if (at <= now) this.blockedUntil.delete(key);
    }
    this.blockedUntil.set(client, until);
  }

  private recovered(): void {
    if (this.failingOpen) this.logger.info('failed-authentication limiter reaches Redis again');
    this.failingOpen = false;
  }
}
