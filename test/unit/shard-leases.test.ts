import assert from 'node:assert/strict';
import { RedisKeys } from '../../shared/redis-keys.js';
import { ShardLeases, type ShardOwner } from '../../worker/shards/shard-leases.js';
import { asRedis, silentLogger } from './fakes.js';

/**
 * The few Redis commands the leases use, in memory, on the (stubbed) Date.now clock: string keys
 * with a TTL, one sorted set of worker heartbeats and one hash of shard counts.
 */
class FakeLeaseRedis {
  readonly strings = new Map<string, { value: string; expiresAt: number }>();
  readonly zset = new Map<string, number>();
  readonly hash = new Map<string, string>();
  failing = false;

  private live(key: string) {
    const entry = this.strings.get(key);
    if (entry && entry.expiresAt <= Date.now()) this.strings.delete(key);
    return this.strings.get(key);
  }

  async set(key: string, value: string, _px: 'PX', ttl: number, _nx: 'NX') {
    if (this.failing) throw new Error('Connection is closed.');
    if (this.live(key)) return null;
    this.strings.set(key, { value, expiresAt: Date.now() + ttl });
    return 'OK';
  }

  /** The three lease scripts: claim (under the next epoch), renew and release. */
  async eval(script: string, numKeys: number, ...args: (string | number)[]) {
    if (this.failing) throw new Error('Connection is closed.');
    const [key, ...rest] = args.map(String) as [string, ...string[]];
    const entry = this.live(key);
    if (script.includes('pexpire')) {
      const [epochKey, owner, ttl, workerId] = rest as [string, string, string, string];
      if (entry?.value === owner) {
        entry.expiresAt = Date.now() + Number(ttl);
        return 1;
      }
      if (entry) return 0;
      return this.grant(key, epochKey, workerId, Number(ttl));
    }
    if (script.includes('incr')) {
      const [epochKey, workerId, ttl] = rest as [string, string, string];
      if (entry && entry.value.slice(entry.value.indexOf(':') + 1) !== workerId) return null;
      return this.grant(key, epochKey, workerId, Number(ttl));
    }
    assert.equal(numKeys, 1);
    const [owner] = rest;
    if (!entry || entry.value !== owner) return 0;
    this.strings.delete(key);
    return 1;
  }

  private grant(key: string, epochKey: string, workerId: string, ttl: number) {
    const epoch = Number(this.strings.get(epochKey)?.value ?? 0) + 1;
    this.strings.set(epochKey, { value: String(epoch), expiresAt: Infinity });
    const value = `${epoch}:${workerId}`;
    this.strings.set(key, { value, expiresAt: Date.now() + ttl });
    return value;
  }

  multi() {
    const steps: (() => void)[] = [];
    const chain = {
      zadd: (_k: string, score: number, member: string) => (steps.push(() => this.zset.set(member, score)), chain),
      zremrangebyscore: (_k: string, _min: string, max: number) => (
        steps.push(() => [...this.zset].forEach(([m, s]) => s <= max && this.zset.delete(m))),
        chain
      ),
      hset: (_k: string, field: string, value: number) => (
        steps.push(() => this.hash.set(field, String(value))),
        chain
      ),
      exec: async () => {
        if (this.failing) throw new Error('Connection is closed.');
        steps.forEach((step) => step());
        return [];
      },
    };
    return chain;
  }

  async zrangebyscore(_k: string, min: number) {
    return [...this.zset].filter(([, s]) => s >= min).map(([m]) => m);
  }

  async hmget(_k: string, ...fields: string[]) {
    return fields.map((f) => this.hash.get(f) ?? null);
  }

  async zrem(_k: string, member: string) {
    return this.zset.delete(member) ? 1 : 0;
  }

  async hdel(_k: string, field: string) {
    return this.hash.delete(field) ? 1 : 0;
  }
}

class RecordingOwner implements ShardOwner {
  readonly running = new Set<number>();
  released: number[] = [];
  async acquire(shard: number) {
    assert.ok(!this.running.has(shard), `shard ${shard} acquired twice`);
    this.running.add(shard);
  }
  async release(shard: number) {
    this.running.delete(shard);
    this.released.push(shard);
  }
}

const keys = new RedisKeys('unit', 64);
const realNow = Date.now;
let clock = 1_000_000;

function worker(redis: FakeLeaseRedis, workerId: string, shardCount: number, leaseTtlMs = 10_000) {
  const owner = new RecordingOwner();
  const leases = new ShardLeases(asRedis(redis), keys, { workerId, shardCount, leaseTtlMs }, owner, silentLogger);
  // One balancing round, without the timer loop: the rule is the arithmetic, not the schedule.
  // Renewal runs on its own timer in production; here it comes first in each round.
  const internals = leases as unknown as { tick(): Promise<void>; renewAll(now: number): Promise<void> };
  const tick = async () => {
    await internals.renewAll(Date.now());
    await internals.tick();
  };
  return { leases, owner, tick };
}

/** Lets every worker tick in turn, far enough apart that claim pauses run out, until nothing moves. */
async function settle(workers: ReturnType<typeof worker>[]) {
  for (let round = 0; round < 12; round++) {
    for (const w of workers) await w.tick();
    clock += 1_000;
  }
}

describe('unit: shard leases', () => {
  beforeEach(() => {
    clock = 1_000_000;
    Date.now = () => clock;
  });
  afterEach(() => {
    Date.now = realNow;
  });

  it('a worker alone takes every shard', async () => {
    const redis = new FakeLeaseRedis();
    const a = worker(redis, 'a', 4);
    await a.tick();
    assert.deepEqual(a.leases.shards, [0, 1, 2, 3]);
    assert.deepEqual([...a.owner.running].sort(), [0, 1, 2, 3]);
  });

  for (const [shards, workers] of [
    [4, 2],
    [5, 2],
    [3, 2],
    [16, 3],
    [2, 3],
  ] as const) {
    it(`${shards} shards over ${workers} workers end up each held once, the counts at most one apart`, async () => {
      const redis = new FakeLeaseRedis();
      const all = Array.from({ length: workers }, (_, i) => worker(redis, `w${i}`, shards));
      await all[0]!.tick();
      assert.equal(all[0]!.leases.shards.length, shards, 'the first worker took everything');
      await settle(all);
      const held = all.flatMap((w) => w.leases.shards).sort((x, y) => x - y);
      assert.deepEqual(
        held,
        Array.from({ length: shards }, (_, i) => i),
        'every shard held exactly once',
      );
      const counts = all.map((w) => w.leases.shards.length);
      assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `unbalanced: ${counts.join('/')}`);
      for (const w of all)
        assert.deepEqual(
          [...w.owner.running].sort((x, y) => x - y),
          w.leases.shards,
          'running shards follow the leases',
        );
    });
  }

  it('a worker that leaves hands its shards over at once, without waiting for the TTL', async () => {
    const redis = new FakeLeaseRedis();
    const a = worker(redis, 'a', 4);
    const b = worker(redis, 'b', 4);
    await settle([a, b]);
    await a.leases.stop();
    assert.deepEqual(a.owner.running.size, 0);
    await settle([b]);
    assert.deepEqual(b.leases.shards, [0, 1, 2, 3]);
  });

  it('stops a shard whose lease another worker now holds', async () => {
    const redis = new FakeLeaseRedis();
    const a = worker(redis, 'a', 2);
    await a.tick();
    redis.strings.set(keys.lease(1), { value: '99:intruder', expiresAt: clock + 10_000 });
    await a.tick();
    assert.deepEqual(a.leases.shards, [0]);
    assert.deepEqual(a.owner.released, [1]);
  });

  it('grants every claim under a new epoch, and lets a restarted worker of the same id take its own leases back at once', async () => {
    const redis = new FakeLeaseRedis();
    const first = worker(redis, 'a', 2);
    await first.tick();
    assert.deepEqual([first.leases.leaseOf(0), first.leases.leaseOf(1)], ['1:a', '1:a']);
    // The first run died without releasing: its leases are still live in Redis.
    const restarted = worker(redis, 'a', 2);
    await restarted.tick();
    assert.deepEqual(restarted.leases.shards, [0, 1]);
    assert.deepEqual([restarted.leases.leaseOf(0), restarted.leases.leaseOf(1)], ['2:a', '2:a']);
    const other = worker(redis, 'b', 2);
    await other.tick();
    assert.deepEqual(other.leases.shards, [], 'a live lease of another worker is never taken');
  });

  it('fences its shards before the lease can expire when Redis cannot be reached', async () => {
    const redis = new FakeLeaseRedis();
    const a = worker(redis, 'a', 2, 10_000);
    await a.tick();
    redis.failing = true;
    clock += 5_000;
    await a.tick().catch(() => undefined);
    assert.deepEqual(a.leases.shards, [0, 1], 'half the TTL without renewal is not yet a risk');
    clock += 1_500;
    await a.tick().catch(() => undefined);
    assert.deepEqual(a.leases.shards, [], 'past 60 % of the TTL another worker could soon take over');
    assert.deepEqual(a.owner.released.sort(), [0, 1]);
  });

  it('after a Redis outage that fenced every worker, each takes back its own shards and none moves', async () => {
    const redis = new FakeLeaseRedis();
    const [a, b] = [worker(redis, 'a', 16, 2_000), worker(redis, 'b', 16, 2_000)];
    await settle([a, b]);
    const before = { a: a.leases.shards, b: b.leases.shards };
    assert.deepEqual([before.a.length, before.b.length], [8, 8]);
    redis.failing = true;
    for (let i = 0; i < 3; i++) {
      clock += 1_000;
      await a.tick().catch(() => undefined);
      await b.tick().catch(() => undefined);
    }
    assert.deepEqual([a.leases.shards, b.leases.shards], [[], []], 'both fenced everything');
    // Redis is back (a failover): every lease and heartbeat has expired, and `a` answers first.
    redis.failing = false;
    clock += 1_000;
    const released = { a: a.owner.released.length, b: b.owner.released.length };
    await a.tick();
    assert.deepEqual(a.leases.shards, before.a, "a takes back its own shards, not b's");
    clock += 500;
    await b.tick();
    await settle([a, b]);
    assert.deepEqual({ a: a.leases.shards, b: b.leases.shards }, before, 'every shard is back with its owner');
    assert.deepEqual(
      { a: a.owner.released.length, b: b.owner.released.length },
      released,
      'no shard was given up for balance meanwhile',
    );
  });

  it('takes a lease back under a new epoch when Redis lost it (a failover), instead of stopping the shard', async () => {
    const redis = new FakeLeaseRedis();
    const a = worker(redis, 'a', 2, 10_000);
    await a.tick();
    assert.deepEqual([a.leases.leaseOf(0), a.leases.leaseOf(1)], ['1:a', '1:a']);
    redis.strings.delete(keys.lease(0));
    clock += 1_000;
    await a.tick();
    assert.deepEqual(a.leases.shards, [0, 1]);
    assert.deepEqual(a.owner.released, [], 'nothing stopped');
    assert.deepEqual([a.leases.leaseOf(0), a.leases.leaseOf(1)], ['2:a', '1:a']);
    assert.equal(redis.strings.get(keys.lease(0))?.value, '2:a');
  });

  it('fences a shard whose renewal hangs (a client retrying through a failover) as surely as one that fails', async () => {
    const redis = new FakeLeaseRedis();
    const a = worker(redis, 'a', 1, 1_000);
    await a.tick();
    const realEval = redis.eval.bind(redis);
    redis.eval = () => new Promise<never>(() => undefined);
    Date.now = realNow;
    const internals = a.leases as unknown as { owned: Map<number, { renewedAt: number }> };
    internals.owned.get(0)!.renewedAt = Date.now();
    await (a.leases as unknown as { renewAll(now: number): Promise<void> }).renewAll(Date.now());
    assert.deepEqual(a.leases.shards, [], 'fenced once 60 % of the TTL passed without an answer');
    assert.deepEqual(a.owner.released, [0]);
    redis.eval = realEval;
  });

  it('after a fence, leaves a shard its owner does not take back to the others once the sticky window ends', async () => {
    const redis = new FakeLeaseRedis();
    const [a, b] = [worker(redis, 'a', 4, 2_000), worker(redis, 'b', 4, 2_000)];
    await settle([a, b]);
    const ofB = b.leases.shards;
    redis.failing = true;
    for (let i = 0; i < 3; i++) {
      clock += 1_000;
      await a.tick().catch(() => undefined);
      await b.tick().catch(() => undefined);
    }
    redis.failing = false;
    clock += 1_000;
    // b never comes back; a reclaims its own, then the rest once the window is over.
    await a.tick();
    assert.equal(a.leases.shards.length, 2);
    clock += 6_500;
    await a.tick();
    await a.tick();
    assert.deepEqual(a.leases.shards, [0, 1, 2, 3], `a also holds ${ofB.join(', ')} now`);
  });
});
