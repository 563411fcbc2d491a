import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The contact list walks one session's contacts in id order (keyset pagination). Without an index
 * that starts (session_id, id) the server either walks the whole table by primary key or sorts.
 * dm, name and phone_number ride along so that source and q filters are decided from the index
 * alone; the wide row is only read for the contacts that end up on the page.
 */
export class ContactListIndex1732600000000 implements MigrationInterface {
  name = 'ContactListIndex1732600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE contacts ADD KEY idx_contacts_session_list (session_id, id, dm, name, phone_number)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE contacts DROP KEY idx_contacts_session_list');
  }
}
