import { isCluster, type RedisClient } from '../../shared/redis.js';

/** Deletes every key matching `pattern` (SCAN, never KEYS), on every master of a Cluster: what a test run or bench leaves behind. */
export async function deleteKeysMatching(redis: RedisClient, pattern: string): Promise<number> {
  const nodes = isCluster(redis) ? redis.nodes('master') : [redis];
  let deleted = 0;
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      // One by one: on a Cluster the keys of one node still lie in many slots.
      for (const key of keys) deleted += await node.del(key);
    } while (cursor !== '0');
  }
  return deleted;
}
