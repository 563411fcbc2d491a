import type { MigrationInterface, QueryRunner } from 'typeorm';

const ASCII = 'CHARACTER SET ascii COLLATE ascii_bin';
const TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci';

/**
 * Bulk checks at scale (issue 17):
 * - check_answers: WhatsApp's latest answer about each number, per organization, so a number
 *   checked recently is answered without asking again (the answer cache).
 * - check_batch_sessions: the sessions a batch is checked through (one for the per-session route,
 *   several for a pool), with what each did and what it waits for. A batch now belongs to an
 *   organization; session_id stays set for batches created on a session's route, and is NULL for
 *   pooled ones.
 * - check_batch_numbers: which rows were answered from the cache, the form WhatsApp knows a number
 *   by, why an entry is invalid, how many of a number's forms were asked, and the claim a session
 *   holds on a row while it asks about it (which session, a token per chunk, until when).
 * Waiting is now per session; whether a whole batch waits is derived from its sessions.
 */
export class CheckAnswersAndPools1733300000000 implements MigrationInterface {
  name = 'CheckAnswersAndPools1733300000000';

  async up(q: QueryRunner): Promise<void> {
    // checked_at serves pruning answers past every useful age.
    await q.query(`CREATE TABLE check_answers (
      organization_id VARCHAR(64) ${ASCII} NOT NULL,
      phone VARCHAR(15) ${ASCII} NOT NULL,
      on_whatsapp TINYINT(1) NOT NULL,
      jid VARCHAR(64) ${ASCII} NULL,
      lid VARCHAR(64) ${ASCII} NULL,
      matched_as VARCHAR(15) ${ASCII} NULL,
      checked_at BIGINT NOT NULL,
      PRIMARY KEY (organization_id, phone),
      KEY idx_check_answers_checked (checked_at),
      CONSTRAINT fk_check_answers_org FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE
    ) ${TABLE_OPTIONS}`);

    await q.query(`ALTER TABLE check_batches
      ADD COLUMN organization_id VARCHAR(64) ${ASCII} NULL AFTER id,
      ADD COLUMN cached INT UNSIGNED NOT NULL DEFAULT 0 AFTER invalid,
      MODIFY session_id VARCHAR(40) ${ASCII} NULL`);
    await q.query(
      `UPDATE check_batches b JOIN wa_sessions s ON s.id = b.session_id SET b.organization_id = s.organization_id`,
    );
    await q.query(`ALTER TABLE check_batches
      MODIFY organization_id VARCHAR(64) ${ASCII} NOT NULL,
      ADD KEY idx_check_batches_org (organization_id, id),
      ADD CONSTRAINT fk_check_batches_org FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE`);

    await q.query(`CREATE TABLE check_batch_sessions (
      batch_id VARCHAR(40) ${ASCII} NOT NULL,
      session_id VARCHAR(40) ${ASCII} NOT NULL,
      position SMALLINT UNSIGNED NOT NULL,
      checked INT UNSIGNED NOT NULL DEFAULT 0,
      queries INT UNSIGNED NOT NULL DEFAULT 0,
      waiting_for VARCHAR(16) ${ASCII} NULL,
      resumes_at BIGINT NULL,
      updated_at BIGINT NOT NULL,
      PRIMARY KEY (batch_id, session_id),
      KEY idx_check_batch_sessions_session (session_id),
      CONSTRAINT fk_check_batch_sessions_batch FOREIGN KEY (batch_id) REFERENCES check_batches (id) ON DELETE CASCADE,
      CONSTRAINT fk_check_batch_sessions_session FOREIGN KEY (session_id) REFERENCES wa_sessions (id) ON DELETE CASCADE
    ) ${TABLE_OPTIONS}`);
    await q.query(`INSERT INTO check_batch_sessions (batch_id, session_id, position, checked, queries, waiting_for, updated_at)
      SELECT id, session_id, 0, on_whatsapp + not_on_whatsapp, 0, IF(waiting_for_session = 1, 'session', NULL), updated_at FROM check_batches`);
    await q.query(`ALTER TABLE check_batches DROP COLUMN waiting_for_session`);

    await q.query(`ALTER TABLE check_batch_numbers
      ADD COLUMN cached TINYINT(1) NOT NULL DEFAULT 0,
      ADD COLUMN matched_as VARCHAR(15) ${ASCII} NULL,
      ADD COLUMN reason VARCHAR(32) ${ASCII} NULL,
      ADD COLUMN tried TINYINT UNSIGNED NOT NULL DEFAULT 0,
      ADD COLUMN claimed_by VARCHAR(40) ${ASCII} NULL,
      ADD COLUMN claim_token VARCHAR(32) ${ASCII} NULL,
      ADD COLUMN claim_until BIGINT NULL`);
    await q.query(`UPDATE check_batch_numbers SET reason = 'not_a_number' WHERE status = 'invalid'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE check_batch_numbers DROP COLUMN cached, DROP COLUMN matched_as, DROP COLUMN reason, DROP COLUMN tried, DROP COLUMN claimed_by, DROP COLUMN claim_token, DROP COLUMN claim_until`,
    );
    await q.query(
      `ALTER TABLE check_batches ADD COLUMN waiting_for_session TINYINT(1) NOT NULL DEFAULT 0 AFTER status`,
    );
    await q.query(
      `UPDATE check_batches b JOIN check_batch_sessions m ON m.batch_id = b.id AND m.session_id = b.session_id SET b.waiting_for_session = (m.waiting_for = 'session')`,
    );
    await q.query('DROP TABLE check_batch_sessions');
    // Pooled batches have no single session to belong to.
    await q.query('DELETE FROM check_batches WHERE session_id IS NULL');
    await q.query(
      `ALTER TABLE check_batches DROP FOREIGN KEY fk_check_batches_org, DROP KEY idx_check_batches_org, DROP COLUMN organization_id, DROP COLUMN cached, MODIFY session_id VARCHAR(40) ${ASCII} NOT NULL`,
    );
    await q.query('DROP TABLE check_answers');
  }
}
