import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Why a session is in its status, since when, and when its worker tries to connect next: the
 * worker knows (`timedOut (408)`, attempt 5, next try in 11 s) and the session view shows it.
 * Existing rows get their last change as the start of their status.
 */
export class SessionStatusReason1733100000000 implements MigrationInterface {
  name = 'SessionStatusReason1733100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE wa_sessions
      ADD COLUMN status_reason VARCHAR(255) NULL AFTER status,
      ADD COLUMN status_since BIGINT NULL AFTER status_reason,
      ADD COLUMN next_retry_at BIGINT NULL AFTER status_since`);
    await q.query('UPDATE wa_sessions SET status_since = updated_at');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      'ALTER TABLE wa_sessions DROP COLUMN next_retry_at, DROP COLUMN status_since, DROP COLUMN status_reason',
    );
  }
}
