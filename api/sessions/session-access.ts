import type { DataSource } from 'typeorm';
import { poolQuery } from '../../shared/db/pool-query.js';
import { AppError } from '../../shared/errors.js';
import { TurnBatch, type Waiter } from '../../shared/turn-batch.js';
import type { PushedCache } from '../cache/pushed-cache.js';
import { includesOrganization, type OrganizationScope } from '../auth/organization-scope.js';

export interface OwnedSession {
  id: string;
  organizationId: string;
}

export interface CurrentSession extends OwnedSession {
  status: string;
}

interface SessionRow {
  id: string;
  organization_id: string;
  status: string;
}

const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Ids per `IN (…)` list. */
const MAX_BATCH = 100;

const notFound = () => new AppError('not_found', 'session not found');

/**
 * Resolves a session for a caller. Another organization's session answers exactly like a missing
 * one, so ids cannot be probed across tenants.
 *
 * Ownership is served from a PushedCache when it holds the session (its deletion reaches the
 * cache before or with any later request); otherwise lookups that arrive in the same turn of the
 * event loop go to MySQL as one `WHERE id IN (…)` query.
 */
export class SessionAccess {
  private readonly lookups = new TurnBatch<string, SessionRow | undefined>((batch) => this.flush(batch));

  constructor(
    private readonly db: DataSource,
    private readonly ownership: PushedCache<string>,
  ) {}

  /** The session if it is in the caller's scope; enough for every route that does not read its status. */
  async require(scope: OrganizationScope, sessionId: string): Promise<OwnedSession> {
    // No session can have such an id, so it is simply not found (and never reaches MySQL).
    if (!SESSION_ID.test(sessionId)) throw notFound();
    const owner = this.ownership.get(sessionId) ?? (await this.lookup(sessionId))?.organization_id;
    if (!includesOrganization(scope, owner)) throw notFound();
    return { id: sessionId, organizationId: owner! };
  }

  /** Always read from MySQL, for the routes that act on the session's current status. */
  async requireCurrent(scope: OrganizationScope, sessionId: string): Promise<CurrentSession> {
    if (!SESSION_ID.test(sessionId)) throw notFound();
    const row = await this.lookup(sessionId);
    if (!row || !includesOrganization(scope, row.organization_id)) throw notFound();
    return { id: row.id, organizationId: row.organization_id, status: row.status };
  }

  /** Called by the process that deleted the session, before it answers; other processes learn it from the control channel. */
  forget(sessionId: string): void {
    this.ownership.forget(sessionId);
  }

  private lookup(sessionId: string): Promise<SessionRow | undefined> {
    const epoch = this.ownership.epoch();
    return this.lookups.add(sessionId).then((row) => {
      if (row) this.ownership.remember(epoch, row.id, row.organization_id);
      return row;
    });
  }

  private flush(batch: Map<string, Waiter<SessionRow | undefined>[]>): void {
    const ids = [...batch.keys()];
    for (let i = 0; i < ids.length; i += MAX_BATCH) {
      const chunk = ids.slice(i, i + MAX_BATCH);
      poolQuery<SessionRow>(
        this.db,
        `SELECT id, organization_id, status FROM wa_sessions WHERE id IN (${chunk.map(() => '?').join(', ')})`,
        chunk,
      ).then(
        (rows) => {
          const byId = new Map(rows.map((row) => [row.id, row]));
          for (const id of chunk) for (const w of batch.get(id)!) w.resolve(byId.get(id));
        },
        (err: unknown) => {
          for (const id of chunk) for (const w of batch.get(id)!) w.reject(err);
        },
      );
    }
  }
}
