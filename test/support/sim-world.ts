import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SimWorldInput } from '../../worker/driver/sim/world.js';
import { testEnv } from './hooks.js';
import { REPO_ROOT, waitFor, type GatewayProcess } from './processes.js';
import { RedisKeys } from '../../shared/redis-keys.js';
import { parseLease } from '../../shared/shard-lease.js';
import { shardOf } from '../../shared/shards.js';

/** Writes a sim world file for worker processes of this run and returns its path. */
export function writeSimWorld(name: string, world: SimWorldInput): string {
  const dir = path.join(REPO_ROOT, '.run', 'test-worlds');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${testEnv.runId}-${name}.json`);
  writeFileSync(file, JSON.stringify(world, null, 2));
  return file;
}

/**
 * Online on the worker holding its shard: a presence key left by a worker that died or handed the
 * shard over says nothing until the next owner has taken the session up.
 */
export async function isOnline(sessionId: string): Promise<boolean> {
  const { keys, redis } = testEnv;
  const [presence, lease] = await Promise.all([
    redis.get(keys.presence(sessionId)),
    redis.get(keys.lease(shardOf(sessionId, keys.shardCount))),
  ]);
  return presence !== null && parseLease(lease)?.workerId === presence;
}

export async function waitUntilOnline(sessionIds: string[], timeoutMs = 20_000): Promise<void> {
  await waitFor(
    async () => (await Promise.all(sessionIds.map(isOnline))).every(Boolean),
    `sessions ${sessionIds.join(', ')} to come online`,
    timeoutMs,
  );
}

/** Which worker holds each shard's lease right now: worker id → shard count. */
export async function leaseHolders(shardCount = 16): Promise<Map<string, number>> {
  const holders = await testEnv.leaseHolders(shardCount);
  const counts = new Map<string, number>();
  for (const holder of holders) if (holder) counts.set(holder, (counts.get(holder) ?? 0) + 1);
  return counts;
}

let phoneCounter = 0;
/** A distinct E.164 number (digits) per call within a run: a valid German mobile number (+49 151 and 8 digits), so bulk checks take it as valid. */
export function newPhone(): string {
  phoneCounter++;
  return `49151${String(Date.now() % 1e5).padStart(5, '0')}${String(phoneCounter).padStart(3, '0')}`;
}

/**
 * Kills a scenario's workers and frees every shard lease and worker registration they held, so the
 * next scenario starts from free shards instead of waiting out the lease TTL.
 */
export async function killWorkersAndFreeShards(workers: GatewayProcess[], shardCount = 16): Promise<void> {
  await Promise.all(workers.map((w) => w.stop('SIGKILL')));
  const keys = new RedisKeys(testEnv.redisPrefix, shardCount);
  for (const key of [
    ...Array.from({ length: shardCount }, (_, i) => keys.lease(i)),
    keys.workers(),
    keys.workerShardCounts(),
  ])
    await testEnv.redis.del(key);
}
