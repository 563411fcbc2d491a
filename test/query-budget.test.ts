import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { RedisKeys } from '../shared/redis-keys.js';
import { SessionRateLimiter, type BudgetGrant } from '../worker/batches/session-rate-limiter.js';
import { testEnv } from './support/hooks.js';

/** How long a chunk must wait for its budget: 0 when granted at once. */
const waitOf = (grant: BudgetGrant) => (grant.kind === 'granted' ? 0 : grant.waitMs);
const keys = () => new RedisKeys(`${testEnv.redisPrefix}:qb${randomBytes(4).toString('hex')}`, 16);

describe("live queries counted against a session's bulk-check budget (item 6)", () => {
  it('charges queries already made without waiting, and the next chunk waits for them', async () => {
    const limiter = new SessionRateLimiter(testEnv.redis, keys(), 60, 50);
    // Two live checks with a LID look-up each: four queries, taken even from a full bucket.
    for (let i = 0; i < 2; i++) await limiter.charge('sess_a', 2);
    const wait = waitOf(await limiter.take('sess_a', 50));
    assert.ok(wait > 3_000 && wait <= 4_000, `the chunk waits for the 4 numbers the live checks used, got ${wait} ms`);
  });

  it('lets the bucket go into debt, so a burst of live calls delays the batches accordingly', async () => {
    const limiter = new SessionRateLimiter(testEnv.redis, keys(), 60, 50);
    await limiter.charge('sess_a', 80);
    const wait = waitOf(await limiter.take('sess_a', 50));
    assert.ok(wait > 79_000 && wait <= 80_000, `30 numbers of debt plus a 50-number chunk at 60/min, got ${wait} ms`);
  });

  it('charges nothing when the limit is lifted (0), and only the session it names', async () => {
    const k = keys();
    await new SessionRateLimiter(testEnv.redis, k, 0, 50).charge('sess_a', 500);
    const limiter = new SessionRateLimiter(testEnv.redis, k, 60, 50);
    assert.equal(waitOf(await limiter.take('sess_a', 50)), 0);
    await limiter.charge('sess_b', 50);
    assert.equal(waitOf(await limiter.take('sess_c', 50)), 0);
  });
});
