import type { DataSource } from 'typeorm';
import { StoreUnavailableError } from './unavailable.js';

interface CallbackPool {
  query(sql: string, values: unknown[], callback: (err: Error | null, rows: unknown) => void): void;
}

/**
 * Runs one statement straight on the DataSource's mysql2 pool. `DataSource.query` costs a query
 * runner, a promise wrapper with a stack capture, and event broadcasts per call: about 15 % of the
 * api's CPU on the contact list (bench/contacts). The rows are the same raw rows `DataSource.query`
 * returns, and errors are mysql2's own, codes intact, so an unreachable server still answers 503.
 */
export function poolQuery<T>(db: DataSource, sql: string, values: unknown[]): Promise<T[]> {
  const pool = db.isInitialized ? (db.driver as unknown as { pool?: CallbackPool }).pool : undefined;
  if (!pool) return Promise.reject(new StoreUnavailableError('not connected to MySQL yet'));
  return new Promise((resolve, reject) =>
    pool.query(sql, values, (err, rows) => (err ? reject(err) : resolve(rows as T[]))),
  );
}
