import type { DataSource } from 'typeorm';
import { poolQuery } from '../../shared/db/pool-query.js';
import { AppError } from '../../shared/errors.js';

export interface OwnedSession {
  id: string;
  organizationId: string;
  status: string;
}

/**
 * Resolves a session for a caller. Another organization's session answers exactly like a missing
 * one, so ids cannot be probed across tenants.
 */
export class SessionAccess {
  constructor(private readonly db: DataSource) {}

  async require(organizationId: string, sessionId: string): Promise<OwnedSession> {
    const [row] = await poolQuery<{ id: string; organization_id: string; status: string }>(
      this.db,
      'SELECT id, organization_id, status FROM wa_sessions WHERE id = ?',
      [sessionId],
    );
    if (!row || row.organization_id !== organizationId) throw new AppError('not_found', 'session not found');
    return { id: row.id, organizationId: row.organization_id, status: row.status };
  }
}
