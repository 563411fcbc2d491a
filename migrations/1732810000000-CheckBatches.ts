import type { MigrationInterface, QueryRunner } from 'typeorm';

const ASCII = 'CHARACTER SET ascii COLLATE ascii_bin';
const TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci';

/**
 * Bulk number checks: one row per batch with its progress counters, one row per number with its
 * result. The numbers are the durable work list — a worker checks only `pending` rows — so a batch
 * survives any worker dying and resumes where it stopped.
 */
export class CheckBatches1732810000000 implements MigrationInterface {
  name = 'CheckBatches1732810000000';

  async up(q: QueryRunner): Promise<void> {
    // (status, session_id) finds the unfinished batches of the shards a worker takes over.
    await q.query(`CREATE TABLE check_batches (
      id VARCHAR(40) ${ASCII} NOT NULL,
      session_id VARCHAR(40) ${ASCII} NOT NULL,
      status VARCHAR(16) ${ASCII} NOT NULL,
      waiting_for_session TINYINT(1) NOT NULL DEFAULT 0,
      total INT UNSIGNED NOT NULL,
      done INT UNSIGNED NOT NULL DEFAULT 0,
      on_whatsapp INT UNSIGNED NOT NULL DEFAULT 0,
      not_on_whatsapp INT UNSIGNED NOT NULL DEFAULT 0,
      invalid INT UNSIGNED NOT NULL DEFAULT 0,
      error_code VARCHAR(32) ${ASCII} NULL,
      error_message VARCHAR(500) NULL,
      created_at BIGINT NOT NULL,
      started_at BIGINT NULL,
      finished_at BIGINT NULL,
      updated_at BIGINT NOT NULL,
      PRIMARY KEY (id),
      KEY idx_check_batches_session (session_id, created_at),
      KEY idx_check_batches_status (status, session_id),
      CONSTRAINT fk_check_batches_session FOREIGN KEY (session_id) REFERENCES wa_sessions (id) ON DELETE CASCADE
    ) ${TABLE_OPTIONS}`);

    // seq is the input order (results page by it); (batch_id, status, seq) serves both "next
    // pending chunk" and results filtered by status. normalized is NULL for invalid input; the api
    // de-duplicates before inserting, so no unique index has to be maintained on 50,000-row inserts.
    await q.query(`CREATE TABLE check_batch_numbers (
      batch_id VARCHAR(40) ${ASCII} NOT NULL,
      seq INT UNSIGNED NOT NULL,
      phone VARCHAR(64) NOT NULL,
      normalized VARCHAR(15) ${ASCII} NULL,
      status VARCHAR(16) ${ASCII} NOT NULL,
      jid VARCHAR(64) ${ASCII} NULL,
      lid VARCHAR(64) ${ASCII} NULL,
      checked_at BIGINT NULL,
      PRIMARY KEY (batch_id, seq),
      KEY idx_check_batch_numbers_status (batch_id, status, seq),
      CONSTRAINT fk_check_batch_numbers_batch FOREIGN KEY (batch_id) REFERENCES check_batches (id) ON DELETE CASCADE
    ) ${TABLE_OPTIONS}`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS check_batch_numbers');
    await q.query('DROP TABLE IF EXISTS check_batches');
  }
}
