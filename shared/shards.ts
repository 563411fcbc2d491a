import { createHash } from 'node:crypto';

/** Stable across processes, releases and platforms: the first 4 bytes of SHA-1, unsigned. */
export function stableHash(value: string): number {
  return createHash('sha1').update(value).digest().readUInt32BE(0);
}

export function shardOf(sessionId: string, shardCount: number): number {
  return stableHash(sessionId) % shardCount;
}
