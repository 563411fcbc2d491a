import type { RedisClient } from '../../shared/redis.js';
import type { DataSource } from 'typeorm';
import type { Config } from '../../shared/config.js';
import type { Logger } from '../../shared/logger.js';
import type { RedisKeys } from '../../shared/redis-keys.js';
import { BaileysDriver } from './baileys/baileys-driver.js';
import type { ConnectionObserver } from './baileys/baileys-connection.js';
import { WaVersionSource } from './baileys/wa-version.js';
import type { WhatsAppDriver } from './driver.js';
import { createSimDriver } from './sim/sim-driver.js';

export interface DriverDeps {
  db: DataSource;
  redis: RedisClient;
  /** Opens a subscriber connection (the sim's control channel). */
  subscriber: () => RedisClient;
  keys: RedisKeys;
  logger: Logger;
  /** Told how many numbers each live query asks WhatsApp about, per session (its rate budget). */
  countQueries?: (sessionId: string, numbers: number) => void;
  observer?: ConnectionObserver;
}

export async function createDriver(config: Config, deps: DriverDeps): Promise<WhatsAppDriver> {
  if (config.driver.kind === 'sim') {
    return createSimDriver({
      worldPath: config.driver.simWorld,
      redis: deps.redis,
      subscriber: deps.subscriber,
      prefix: deps.keys.prefix,
      logger: deps.logger.child({ driver: 'sim' }),
    });
  }
  const wa = config.whatsapp;
  const logger = deps.logger.child({ driver: 'baileys' });
  const version = new WaVersionSource({
    configured: wa.version,
    fetch: wa.fetchVersion,
    fetchTimeoutMs: wa.fetchVersionTimeoutMs,
    logger,
  });
  await version.init();
  logger.info(
    { ...version.describe(), browserName: wa.browserName },
    'WhatsApp Web version and device name the sessions announce',
  );
  return new BaileysDriver({
    db: deps.db,
    logger,
    browserName: wa.browserName,
    version,
    syncFullHistory: wa.syncFullHistory,
    ...(wa.webSocketUrl ? { waWebSocketUrl: wa.webSocketUrl } : {}),
    connectTimeoutMs: wa.connectTimeoutMs,
    queryTimeoutMs: wa.queryTimeoutMs,
    versionRejectedRetryMs: wa.versionRejectedRetryMs,
    ...(deps.countQueries ? { countQueries: deps.countQueries } : {}),
    ...(deps.observer ? { observer: deps.observer } : {}),
  });
}
