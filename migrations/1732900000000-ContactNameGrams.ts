import type { MigrationInterface, QueryRunner } from 'typeorm';
import { applyNameChanges } from '../shared/search/contact-name-grams.js';

const ASCII = 'CHARACTER SET ascii COLLATE ascii_bin';
const BACKFILL_BATCH = 5_000;

/**
 * The trigram index of contact names (shared/search/name-grams.ts): a `q` search starts from the
 * contacts that hold the term's trigrams instead of walking every contact of the session. One row
 * per (session, trigram, contact); `gram` compares bytes, because the folding already applied the
 * collation. Existing names are indexed here, session by session, a batch at a time.
 */
export class ContactNameGrams1732900000000 implements MigrationInterface {
  name = 'ContactNameGrams1732900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE contact_name_grams (
      session_id VARCHAR(40) ${ASCII} NOT NULL,
      gram VARCHAR(3) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      contact_id BIGINT UNSIGNED NOT NULL,
      PRIMARY KEY (session_id, gram, contact_id),
      CONSTRAINT fk_contact_name_grams_session FOREIGN KEY (session_id) REFERENCES wa_sessions (id) ON DELETE CASCADE
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);

    // Session by session in id order: each batch appends to the session's part of the index.
    const sessions = (await q.query('SELECT id FROM wa_sessions ORDER BY id')) as { id: string }[];
    for (const { id: sessionId } of sessions) {
      let afterId = 0;
      for (;;) {
        const rows = (await q.query(
          `SELECT id, name FROM contacts WHERE session_id = ? AND id > ? AND name IS NOT NULL ORDER BY id LIMIT ${BACKFILL_BATCH}`,
          [sessionId, afterId],
        )) as { id: number | string; name: string }[];
        if (rows.length === 0) break;
        await applyNameChanges(
          (sql, params) => q.query(sql, params),
          sessionId,
          rows.map((row) => ({ contactId: Number(row.id), before: null, after: row.name })),
        );
        afterId = Number(rows[rows.length - 1]!.id);
      }
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE contact_name_grams');
  }
}
