import type { DataSource } from 'typeorm';
import type { SessionStatus } from '../../shared/db/entities/wa-session.js';
import { writeEvents } from '../../shared/webhooks/outbox.js';

/**
 * Marks a session logged out after the api logged it out, with its session.status event in the
 * same transaction (the worker records no change then: a logged-out session stays logged out).
 */
export async function recordLogout(db: DataSource, sessionId: string): Promise<void> {
  await db.transaction(async (tx) => {
    const [stored] = await tx.query<{ status: SessionStatus }[]>(
      'SELECT status FROM wa_sessions WHERE id = ? FOR UPDATE',
      [sessionId],
    );
    if (!stored || stored.status === 'logged_out') return;
    const now = Date.now();
    await tx.query(
      `UPDATE wa_sessions SET status = 'logged_out', status_reason = 'logged out through the API', status_since = ?, next_retry_at = NULL, updated_at = ? WHERE id = ?`,
      [now, now, sessionId],
    );
    await writeEvents((sql, params) => tx.query(sql, params), sessionId, [
      {
        type: 'session.status',
        data: { status: 'logged_out', previousStatus: stored.status, reason: 'logged out through the API' },
      },
    ]);
  });
}
