import type { Request, RequestHandler, Response } from 'express';
import type { RedisClient } from '../../shared/redis.js';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { TurnBatch, type Waiter } from '../../shared/turn-batch.js';
import { within } from '../../shared/within.js';
import { principalOf } from '../auth/authenticate.js';
import { setAdmission } from './admission.js';

const WINDOW_SECONDS = 60;
/** A request never waits longer than this on the limiter; past it, it is let through. */
const REDIS_BUDGET_MS = 250;

/**
 * Requests per minute per organization, counted in Redis so every api instance draws on the same
 * budget (a fixed window that starts with the organization's first request). Runs after
 * authentication and hands the verdict on as the request's admission (see admission.ts) instead of
 * holding the request for it. While Redis is unreachable requests are let through: stored
 * endpoints must keep working without Redis, and the limit guards capacity, not access.
 */
export function organizationRateLimit(
  redis: RedisClient,
  keyPrefix: string,
  perMinute: number,
  logger: Logger,
): RequestHandler {
  if (perMinute <= 0) return (_req, _res, next) => next();
  const limiter = new TurnBatchedLimiter(
    new RateLimiterRedis({
      storeClient: redis,
      keyPrefix,
      points: perMinute,
      duration: WINDOW_SECONDS,
      rejectIfRedisNotReady: true,
    }),
    perMinute,
  );
  const policy = `${perMinute};w=${WINDOW_SECONDS}`;
  let failingOpen = false;

  const admit = async (req: Request, res: Response, organizationId: string): Promise<void> => {
    let verdict: RateLimiterRes;
    try {
      verdict = await within(limiter.consume(organizationId), REDIS_BUDGET_MS);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        setRateLimitHeaders(res, perMinute, policy, err);
        const retryAfterSeconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
        throw new AppError(
          'rate_limited',
          `this organization exceeded ${perMinute} requests per minute; retry in ${retryAfterSeconds} s`,
          {
            limit: perMinute,
            windowSeconds: WINDOW_SECONDS,
            retryAfterSeconds,
          },
        );
      }
      // One line per outage, not one per request.
      if (!failingOpen)
        logger.warn(
          { err: (err as Error).message, reqId: req.id },
          'rate limiter cannot reach Redis; letting requests through unlimited',
        );
      failingOpen = true;
      return;
    }
    if (failingOpen) logger.info({ reqId: req.id }, 'rate limiter reaches Redis again; limiting resumed');
    failingOpen = false;
    setRateLimitHeaders(res, perMinute, policy, verdict);
  };

  return (req, res, next) => {
    setAdmission(res, admit(req, res, principalOf(res.locals).organizationId));
    next();
  };
}

/**
 * Requests of one organization that arrive in the same turn of the event loop consume their
 * points in one Redis call (`consume(org, n)`), and the verdicts are handed out in arrival order:
 * exactly what n separate calls at that moment would answer, for one round trip instead of n.
 */
class TurnBatchedLimiter {
  private readonly consumptions = new TurnBatch<string, RateLimiterRes>((batch) => this.flush(batch));

  constructor(
    private readonly limiter: RateLimiterRedis,
    private readonly points: number,
  ) {}

  consume(key: string): Promise<RateLimiterRes> {
    return this.consumptions.add(key);
  }

  private flush(batch: Map<string, Waiter<RateLimiterRes>[]>): void {
    for (const [key, waiters] of batch) {
      this.limiter.consume(key, waiters.length).then(
        (verdict) => this.settle(waiters, verdict),
        (err: unknown) => {
          if (err instanceof RateLimiterRes) this.settle(waiters, err);
          else for (const w of waiters) w.reject(err);
        },
      );
    }
  }

  /** `verdict` counts all of `waiters`: the first ones fit under the limit, the rest are refused. */
  private settle(waiters: Waiter<RateLimiterRes>[], verdict: RateLimiterRes): void {
    const consumedBefore = verdict.consumedPoints - waiters.length;
    waiters.forEach((w, i) => {
      const consumed = consumedBefore + i + 1;
      const own = new RateLimiterRes(
        Math.max(0, this.points - consumed),
        verdict.msBeforeNext,
        consumed,
        verdict.isFirstInDuration && i === 0,
      );
      if (consumed <= this.points) w.resolve(own);
      else w.reject(own);
    });
  }
}

/** The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers, the widely deployed form). */
function setRateLimitHeaders(res: Response, limit: number, policy: string, verdict: RateLimiterRes): void {
  res.setHeader('RateLimit-Limit', String(limit));
  res.setHeader('RateLimit-Remaining', String(verdict.remainingPoints));
  res.setHeader('RateLimit-Reset', String(Math.max(0, Math.ceil(verdict.msBeforeNext / 1000))));
  res.setHeader('RateLimit-Policy', policy);
}
