import type { Redis } from 'ioredis';
import { createLogger } from '../../shared/logger.js';

/** A logger that writes nothing: unit tests assert on behaviour, not on log lines. */
export const silentLogger = createLogger('silent', 'unit-test');

/** Typed access to a fake standing in for an ioredis client: only the methods the code under test calls exist. */
export function asRedis(fake: object): Redis {
  return fake as unknown as Redis;
}

/** Resolves after `ms` of real time (the code under test reads Date.now and setTimeout). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
