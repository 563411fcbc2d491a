import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Where contacts.name came from: 'saved' (the account's address book) or 'push' (the name the
 * person set for themselves). Ingestion needs it across events: a push name arriving after an
 * address-book name must not replace it, while a newer push name does replace an older one.
 * NULL for rows written before the column existed; they count as push names.
 */
export class ContactNameSource1732700000000 implements MigrationInterface {
  name = 'ContactNameSource1732700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'ALTER TABLE contacts ADD COLUMN name_source VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NULL AFTER name',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE contacts DROP COLUMN name_source');
  }
}
