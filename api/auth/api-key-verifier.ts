import type { DataSource } from 'typeorm';
import type { ApiKey } from '../../shared/db/entities/api-key.js';
import { poolQuery } from '../../shared/db/pool-query.js';
import { capabilityList, nullableEpochMs } from '../../shared/db/transformers.js';
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { PushedCache } from '../cache/pushed-cache.js';
import { parseApiKeyToken, secretMatches } from './api-key-tokens.js';
import type { Principal } from './principal.js';

export type VerifiableKey = Pick<ApiKey, 'id' | 'organizationId' | 'secretHash' | 'capabilities' | 'revokedAt'>;

interface ApiKeyRow {
  id: string;
  organization_id: string;
  secret_hash: string;
  capabilities: string;
  revoked_at: number | string | null;
}

const toVerifiableKey = (r: ApiKeyRow): VerifiableKey => ({
  id: r.id,
  organizationId: r.organization_id,
  secretHash: r.secret_hash,
  capabilities: capabilityList.from(r.capabilities),
  revokedAt: nullableEpochMs.from(r.revoked_at),
});

/**
 * Verifies API key tokens against the hashed secrets in MySQL. A key's row is remembered while
 * revocations are known to reach this process (see PushedCache), so a busy key costs no read per
 * request either. Usage times are collected in memory and written in one batch per interval, so it
 * costs no write per request.
 */
export class ApiKeyVerifier {
  private readonly inFlight = new Map<string, Promise<VerifiableKey | null>>();
  private readonly pendingTouches = new Map<string, number>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly cache: PushedCache<VerifiableKey>,
    private readonly touchIntervalMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.flushTimer = setInterval(() => void this.flushTouches(), this.touchIntervalMs);
    this.flushTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.flushTimer) clearInterval(this.flushTimer);
    await this.flushTouches();
  }

  async verify(token: string): Promise<Principal> {
    const parsed = parseApiKeyToken(token);
    if (!parsed) throw new AppError('unauthorized', 'malformed API key');
    const row = await this.load(parsed.keyId);
    if (!row || !secretMatches(parsed.secret, row.secretHash)) throw new AppError('unauthorized', 'invalid API key');
    if (row.revokedAt !== null) throw new AppError('unauthorized', 'API key has been revoked');
    this.pendingTouches.set(row.id, Date.now());
    return {
      kind: 'api_key',
      subject: row.id,
      organizationId: row.organizationId,
      capabilities: new Set(row.capabilities),
    };
  }

  /** Whether verifying this token would need no MySQL read: its key's row is held in memory. */
  holds(token: string): boolean {
    const parsed = parseApiKeyToken(token);
    return parsed !== undefined && this.cache.get(parsed.keyId) !== undefined;
  }

  private load(keyId: string): Promise<VerifiableKey | null> {
    const cached = this.cache.get(keyId);
    if (cached) return Promise.resolve(cached);
    // Requests for one key while its lookup is in flight share that lookup: a busy key costs one
    // query per round trip instead of one per request. A request may so use a row read up to one
    // query round trip before it arrived: a revocation takes hold within that, not later.
    let lookup = this.inFlight.get(keyId);
    if (!lookup) {
      lookup = this.query(keyId).finally(() => this.inFlight.delete(keyId));
      this.inFlight.set(keyId, lookup);
    }
    return lookup;
  }

  private async query(keyId: string): Promise<VerifiableKey | null> {
    const epoch = this.cache.epoch();
    // Straight on the pool: this runs on every request while the cache is off or not trusted.
    const [found] = await poolQuery<ApiKeyRow>(
      this.dataSource,
      'SELECT id, organization_id, secret_hash, capabilities, revoked_at FROM api_keys WHERE id = ?',
      [keyId],
    );
    const row = found ? toVerifiableKey(found) : null;
    if (row) this.cache.remember(epoch, keyId, row);
    return row;
  }

  async flushTouches(): Promise<void> {
    if (this.pendingTouches.size === 0) return;
    const touches = [...this.pendingTouches];
    this.pendingTouches.clear();
    try {
      for (const [id, at] of touches) {
        await this.dataSource.query(
          'UPDATE api_keys SET last_used_at = GREATEST(COALESCE(last_used_at, 0), ?) WHERE id = ?',
          [at, id],
        );
      }
    } catch (err) {
      this.logger.warn({ err }, 'could not record API key usage; will retry');
      for (const [id, at] of touches) if (!this.pendingTouches.has(id)) this.pendingTouches.set(id, at);
    }
  }
}
