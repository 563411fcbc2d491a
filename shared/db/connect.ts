import type { DataSource } from 'typeorm';
import type { Logger } from '../logger.js';

/**
 * Opens the pool, retrying in the background until MySQL answers. Until then queries fail with
 * a not-connected error that the API maps to 503, so the process comes up and heals by itself.
 */
export function connectWithRetry(
  db: DataSource,
  logger: Logger,
  onConnected?: () => Promise<void>,
): { ready: Promise<void>; stop: () => void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const ready = new Promise<void>((resolve) => {
    const attempt = async (delayMs: number) => {
      if (stopped) return;
      try {
        await db.initialize();
        await onConnected?.();
        logger.info('connected to MySQL');
        resolve();
      } catch (err) {
        if (db.isInitialized) await db.destroy().catch(() => undefined);
        logger.warn({ err: (err as Error).message }, `MySQL not reachable, retrying in ${delayMs} ms`);
        timer = setTimeout(() => void attempt(Math.min(delayMs * 2, 10_000)), delayMs);
      }
    };
    void attempt(500);
  });
  return {
    ready,
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

export async function mysqlReachable(db: DataSource, ms: number): Promise<boolean> {
  if (!db.isInitialized) return false;
  try {
    await Promise.race([
      db.query('SELECT 1'),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms)),
    ]);
    return true;
  } catch {
    return false;
  }
}
