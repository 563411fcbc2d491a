import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { poolQuery } from './pool-query.js';

/**
 * A secret the gateway's processes share without configuration: the first process to ask creates
 * it (INSERT IGNORE, so processes starting together agree on one), every other reads it back.
 * Returned as base64url of 32 random bytes.
 */
export async function storedSecret(db: DataSource, name: string): Promise<string> {
  await poolQuery(db, 'INSERT IGNORE INTO gateway_secrets (name, value, created_at) VALUES (?, ?, ?)', [
    name,
    randomBytes(32).toString('base64url'),
    Date.now(),
  ]);
  const [row] = await poolQuery<{ value: string }>(db, 'SELECT value FROM gateway_secrets WHERE name = ?', [name]);
  if (!row) throw new Error(`stored secret ${name} vanished right after it was written`);
  return row.value;
}
