/**
 * The naive way to store the same history sync: one upsert statement per contact, group and
 * membership (a round trip each), all in one transaction so only the round trips differ from the
 * batched ingestor, not the commits.
 */
import type { DataSource } from 'typeorm';
import type { HistorySet } from './history-payload.js';

export async function perRowIngest(db: DataSource, sessionId: string, history: HistorySet, at: number): Promise<void> {
  const dm = new Set<string>();
  for (const chat of history.chats) if (chat.id?.endsWith('@lid')) dm.add(chat.id);
  const qr = db.createQueryRunner();
  await qr.connect();
  try {
    await qr.startTransaction();
    for (const c of history.contacts) {
      const pn = c.phoneNumber ?? null;
      await qr.query(
        `INSERT INTO contacts (session_id, lid, phone_jid, phone_number, name, name_source, business_name, dm, first_seen_at, updated_at)
         VALUES (?, ?, ?, ?, ?, 'saved', ?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE phone_jid = VALUES(phone_jid), phone_number = VALUES(phone_number), name = COALESCE(VALUES(name), name),
           business_name = COALESCE(VALUES(business_name), business_name), dm = GREATEST(dm, VALUES(dm)), updated_at = VALUES(updated_at)`,
        [
          sessionId,
          c.id,
          pn,
          pn?.split('@')[0] ?? null,
          c.name ?? null,
          c.verifiedName ?? null,
          dm.has(c.id) ? 1 : 0,
          at,
          at,
        ],
      );
    }
    for (const chat of history.chats) {
      if (!chat.id?.endsWith('@g.us')) continue;
      await qr.query(
        `INSERT INTO wa_groups (session_id, jid, subject, updated_at) VALUES (?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE subject = COALESCE(VALUES(subject), subject)`,
        [sessionId, chat.id, chat.name ?? null, at],
      );
      for (const p of chat.participant ?? []) {
        const role = Number(p.rank) === 2 ? 'superadmin' : Number(p.rank) === 1 ? 'admin' : 'member';
        await qr.query(
          `INSERT INTO group_members (session_id, group_jid, contact_id, tag, role, last_seen)
           SELECT ?, ?, id, NULL, ?, ? FROM contacts WHERE session_id = ? AND lid = ?
           ON DUPLICATE KEY UPDATE role = VALUES(role), last_seen = GREATEST(last_seen, VALUES(last_seen))`,
          [sessionId, chat.id, role, at, sessionId, p.userJid],
        );
      }
    }
    await qr.commitTransaction();
  } catch (err) {
    await qr.rollbackTransaction().catch(() => undefined);
    throw err;
  } finally {
    await qr.release();
  }
}
