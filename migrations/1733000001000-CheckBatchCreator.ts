import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Who created a check batch (`api_key:<key id>` or `jwt:<subject>`), so its creator may cancel it
 * without the `send` capability. Batches created before this migration have none: only `send`
 * callers cancel them.
 */
export class CheckBatchCreator1733000001000 implements MigrationInterface {
  name = 'CheckBatchCreator1733000001000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'ALTER TABLE check_batches ADD COLUMN created_by VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE check_batches DROP COLUMN created_by');
  }
}
