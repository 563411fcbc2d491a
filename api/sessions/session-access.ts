import type { DataSource } from 'typeorm';
import { poolQuery } from '../../shared/db/pool-query.js';
import { AppError } from '../../shared/errors.js';
import { TurnBatch, type Waiter } from '../../shared/turn-batch.js';

export interface OwnedSession {
  id: string;
  organizationId: string;
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

/**
 * Resolves a session for a caller. Another organization's session answers exactly like a missing
 * one, so ids cannot be probed across tenants.
 *
 * Lookups that arrive in the same turn of the event loop go to MySQL as one `WHERE id IN (…)`
 * query: under load that is one statement for many requests instead of one each.
 */
export class SessionAccess {
  private readonly lookups = new TurnBatch<string, SessionRow | undefined>((batch) => this.flush(batch));

  constructor(private readonly db: DataSource) {}

  async require(organizationId: string, sessionId: string): Promise<OwnedSession> {
    // No session can have such an id, so it is simply not found (and never reaches MySQL).
    if (!SESSION_ID.test(sessionId)) throw new AppError('not_found', 'session not found');
    const row = await this.lookups.add(sessionId);
    if (!row || row.organization_id !== organizationId) throw new AppError('not_found', 'session not found');
    return { id: row.id, organizationId: row.organization_id, status: row.status };
  }

  private flush(batch: Map<string, Waiter<SessionRow | undefined>[]>): void {
    const ids = [...batch.keys()];
    for (let i = 0; i < ids.length; i += MAX_BATCH) {
      const chunk = ids.slice(i, i + MAX_BATCH);
      poolQuery<SessionRow>(this.db, `SELECT id, organization_id, status FROM wa_sessions WHERE id IN (${chunk.map(() => '?').join(', ')})`, chunk).then(
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
