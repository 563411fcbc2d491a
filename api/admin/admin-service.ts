import type { DataSource } from 'typeorm';
import { mintApiKeyToken } from '../auth/api-key-tokens.js';
import type { Capability } from '../../shared/capabilities.js';
import { ApiKey } from '../../shared/db/entities/api-key.js';
import { Organization } from '../../shared/db/entities/organization.js';
import { WaSession } from '../../shared/db/entities/wa-session.js';
import { apiKeyRevokedMessage, type Announce } from '../../shared/control-messages.js';
import { AppError } from '../../shared/errors.js';
import { isOrganizationId, newOrganizationId, newSessionId } from '../../shared/ids.js';

/**
 * Administrative writes used by the CLI and by tests: organizations, API keys, session records.
 * Without `announce` a revocation is not pushed to running api processes, which then refuse the
 * key only once their cached row expires (API_KEY_CACHE_MS).
 */
export class AdminService {
  constructor(
    private readonly db: DataSource,
    private readonly announce?: Announce,
  ) {}

  async createOrganization(name: string, id: string = newOrganizationId()): Promise<Organization> {
    if (!isOrganizationId(id))
      throw new AppError('validation_error', 'organization id must be 1-64 of [A-Za-z0-9._:-]');
    const repo = this.db.getRepository(Organization);
    if (await repo.existsBy({ id })) throw new AppError('conflict', `organization ${id} already exists`);
    return repo.save(repo.create({ id, name, createdAt: Date.now() }));
  }

  async createApiKey(
    organizationId: string,
    name: string,
    capabilities: Capability[],
  ): Promise<{ key: ApiKey; token: string }> {
    await this.requireOrganization(organizationId);
    const minted = mintApiKeyToken();
    const repo = this.db.getRepository(ApiKey);
    const key = await repo.save(
      repo.create({
        id: minted.keyId,
        organizationId,
        name,
        secretHash: minted.secretHash,
        capabilities,
        createdAt: Date.now(),
        lastUsedAt: null,
        revokedAt: null,
      }),
    );
    return { key, token: minted.token };
  }

  async listApiKeys(organizationId: string): Promise<ApiKey[]> {
    return this.db.getRepository(ApiKey).find({ where: { organizationId }, order: { createdAt: 'ASC' } });
  }

  /** Rejects after the row is written when the announcement fails: the key is revoked, but running api processes may not know yet. */
  async revokeApiKey(keyId: string): Promise<ApiKey> {
    const repo = this.db.getRepository(ApiKey);
    const key = await repo.findOneBy({ id: keyId });
    if (!key) throw new AppError('not_found', `API key ${keyId} not found`);
    if (key.revokedAt === null) {
      key.revokedAt = Date.now();
      await repo.update({ id: keyId }, { revokedAt: key.revokedAt });
    }
    // Announced again for a key revoked earlier: running it twice is how an operator retries a lost announcement.
    if (this.announce)
      await this.announce(apiKeyRevokedMessage(keyId)).catch((err: Error) =>
        Promise.reject(new RevocationNotAnnounced(key, err)),
      );
    return key;
  }

  async createSession(organizationId: string, name: string | null, id: string = newSessionId()): Promise<WaSession> {
    await this.requireOrganization(organizationId);
    if (!/^sess_[A-Za-z0-9_-]{1,59}$/.test(id))
      throw new AppError('validation_error', 'session id must look like sess_<letters, digits, _ or ->');
    const repo = this.db.getRepository(WaSession);
    if (await repo.existsBy({ id })) throw new AppError('conflict', `session ${id} already exists`);
    const now = Date.now();
    return repo.save(
      repo.create({
        id,
        organizationId,
        name,
        status: 'pairing',
        statusReason: null,
        statusSince: now,
        nextRetryAt: null,
        phoneJid: null,
        lid: null,
        createdAt: now,
        updatedAt: now,
        lastConnectedAt: null,
      }),
    );
  }

  private async requireOrganization(id: string): Promise<void> {
    if (!(await this.db.getRepository(Organization).existsBy({ id })))
      throw new AppError('not_found', `organization ${id} not found`);
  }
}

/** The key is revoked in MySQL, but running api processes could not be told. */
export class RevocationNotAnnounced extends Error {
  constructor(
    readonly key: ApiKey,
    cause: Error,
  ) {
    super(`API key ${key.id} is revoked, but running api processes could not be told (${cause.message})`);
  }
}
