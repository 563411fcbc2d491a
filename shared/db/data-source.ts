import 'reflect-metadata';
import { DataSource } from 'typeorm';
import type { Config } from '../config.js';
import { MIGRATIONS } from '../../migrations/index.js';
import { ApiKey } from './entities/api-key.js';
import { Organization } from './entities/organization.js';
import { WaSession } from './entities/wa-session.js';

export const ENTITIES = [Organization, ApiKey, WaSession];

export function createDataSource(db: Config['db']): DataSource {
  return new DataSource({
    type: 'mysql',
    url: db.url,
    charset: 'utf8mb4_unicode_520_ci',
    timezone: 'Z',
    poolSize: db.poolSize,
    connectTimeout: db.connectTimeoutMs,
    supportBigNumbers: true,
    bigNumberStrings: false,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    extra: { enableKeepAlive: true, maxIdle: db.poolSize, idleTimeout: 60_000 },
  });
}

/** Creates the database named in the URL when it does not exist yet (fresh machines, per-run test databases). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`database name must be [A-Za-z0-9_]+, got "${name}"`);
  const server = new URL(url);
  server.pathname = '/';
  const { createConnection } = await import('mysql2/promise');
  const conn = await createConnection({ uri: server.toString() });
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci`);
  } finally {
    await conn.end();
  }
}
