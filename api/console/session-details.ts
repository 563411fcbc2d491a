import type { DataSource } from 'typeorm';

/** What the console shows of a session beyond the API's view of it. */
export interface SessionDetail {
  organizationId: string;
  storedContacts: number;
  /** Why the session is in its status, when the worker recorded it (columns status_reason / status_since). */
  statusReason: string | null;
  statusSince: number | null;
}

/**
 * Per-session facts for the console: its organization, how many contacts are stored for it and,
 * where the schema has them, the recorded reason for its status and since when. Reading every
 * column (`s.*`) keeps this working on a schema with or without the reason columns.
 */
export class SessionDetails {
  constructor(private readonly db: DataSource) {}

  /** Without `counts` the stored contacts are not counted (0): a page polled every second does not need them. */
  async of(
    sessionIds: readonly string[],
    options: { counts: boolean } = { counts: true },
  ): Promise<Map<string, SessionDetail>> {
    const found = new Map<string, SessionDetail>();
    if (sessionIds.length === 0) return found;
    const count = options.counts ? '(SELECT COUNT(*) FROM contacts c WHERE c.session_id = s.id)' : '0';
    const rows = await this.db.query<Record<string, unknown>[]>(
      `SELECT s.*, ${count} AS stored_contacts FROM wa_sessions s WHERE s.id IN (${sessionIds.map(() => '?').join(', ')})`,
      [...sessionIds],
    );
    for (const row of rows) {
      found.set(String(row['id']), {
        organizationId: String(row['organization_id']),
        storedContacts: Number(row['stored_contacts']),
        statusReason:
          typeof row['status_reason'] === 'string' && row['status_reason'] !== '' ? row['status_reason'] : null,
        statusSince:
          row['status_since'] === null || row['status_since'] === undefined ? null : Number(row['status_since']),
      });
    }
    return found;
  }
}
