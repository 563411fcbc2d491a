import type { DataSource } from 'typeorm';
import { createDataSource, ensureDatabase } from '../../shared/db/data-source.js';

/** Drops and recreates a bench database (only ones named wag_bench_…), then applies the migrations. */
export async function freshDatabase(url: string): Promise<DataSource> {
  const name = new URL(url).pathname.replace(/^\//, '');
  if (!/^wag_bench_[A-Za-z0-9_]+$/.test(name))
    throw new Error(`refusing to drop "${name}": the bench database name must start with wag_bench_`);
  await ensureDatabase(url);
  const db = createDataSource({ url, poolSize: 4, connectTimeoutMs: 5000 });
  await db.initialize();
  await db.query(`DROP DATABASE \`${name}\``);
  await db.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci`);
  await db.destroy();
  const fresh = createDataSource({ url, poolSize: 4, connectTimeoutMs: 5000 });
  await fresh.initialize();
  await fresh.runMigrations({ transaction: 'each' });
  return fresh;
}
