import type { MigrationInterface, QueryRunner } from 'typeorm';

const ASCII = 'CHARACTER SET ascii COLLATE ascii_bin';

/**
 * Secrets the gateway generates for itself when none is configured (the job signing key), so a
 * default install is safe without extra settings. Rows are created by the processes on first use.
 */
export class GatewaySecrets1733000000000 implements MigrationInterface {
  name = 'GatewaySecrets1733000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE gateway_secrets (
      name VARCHAR(64) ${ASCII} NOT NULL,
      value VARCHAR(128) ${ASCII} NOT NULL,
      created_at BIGINT NOT NULL,
      PRIMARY KEY (name)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS gateway_secrets');
  }
}
