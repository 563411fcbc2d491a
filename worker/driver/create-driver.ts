import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import type { Config } from '../../shared/config.js';
import type { Logger } from '../../shared/logger.js';
import type { RedisKeys } from '../../shared/redis-keys.js';
import { BaileysDriver } from './baileys/baileys-driver.js';
import type { WhatsAppDriver } from './driver.js';
import { createSimDriver } from './sim/sim-driver.js';

export interface DriverDeps {
  db: DataSource;
  redis: Redis;
  keys: RedisKeys;
  logger: Logger;
}

export async function createDriver(config: Config, deps: DriverDeps): Promise<WhatsAppDriver> {
  if (config.driver.kind === 'sim') {
    return createSimDriver({ worldPath: config.driver.simWorld, redis: deps.redis, prefix: deps.keys.prefix, logger: deps.logger.child({ driver: 'sim' }) });
  }
  return new BaileysDriver({
    db: deps.db,
    logger: deps.logger.child({ driver: 'baileys' }),
    ...(config.driver.waWebSocketUrl ? { waWebSocketUrl: config.driver.waWebSocketUrl } : {}),
  });
}
