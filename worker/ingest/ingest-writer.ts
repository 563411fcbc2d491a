/**
 * Writes a batch of ingest operations in one transaction: loads the stored contacts the batch
 * mentions, plans the result (ingest-plan.ts), then writes it with multi-row statements of at most
 * `chunkSize` rows each. Every write is an upsert or a targeted delete, so replaying a batch leaves
 * the same rows.
 *
 * One writer per session at a time (the session queue and shard ownership guarantee it), so the
 * rows read at the start stay valid for the transaction without locking them.
 */
import type { DataSource, QueryRunner } from 'typeorm';
import { phoneOfJid } from '../../shared/jid.js';
import type { TimedOps } from './ingest-ops.js';
import { planIngest, referencedIds, type IngestPlan, type MembershipPlan, type NameSource, type Person, type StoredContact } from './ingest-plan.js';
import { chunks, list, tuples } from './sql-chunks.js';

export interface WriteCounts {
  contacts: number;
  groups: number;
  memberships: number;
  merged: number;
  removedMemberships: number;
}

interface ContactRow {
  id: number | string;
  lid: string | null;
  phone_jid: string | null;
  name: string | null;
  name_source: string | null;
  business_name: string | null;
  dm: number;
  first_seen_at: number | string;
  updated_at: number | string;
}

interface Affected {
  affectedRows?: number;
}

const CONTACT_COLUMNS = 'id, lid, phone_jid, name, name_source, business_name, dm, first_seen_at, updated_at';

export class IngestWriter {
  constructor(
    private readonly db: DataSource,
    private readonly chunkSize: number,
  ) {}

  async write(sessionId: string, batch: TimedOps[]): Promise<WriteCounts> {
    const qr = this.db.createQueryRunner();
    try {
      await qr.connect();
      await qr.startTransaction();
      const counts = await new BatchWrite(qr, sessionId, this.chunkSize).run(batch);
      await qr.commitTransaction();
      return counts;
    } catch (err) {
      if (qr.isTransactionActive) await qr.rollbackTransaction().catch(() => undefined);
      throw err;
    } finally {
      await qr.release();
    }
  }
}

class BatchWrite {
  private readonly counts: WriteCounts = { contacts: 0, groups: 0, memberships: 0, merged: 0, removedMemberships: 0 };

  constructor(
    private readonly qr: QueryRunner,
    private readonly sessionId: string,
    private readonly chunkSize: number,
  ) {}

  async run(batch: TimedOps[]): Promise<WriteCounts> {
    const { lids, pns } = referencedIds(batch);
    const plan = planIngest(await this.loadContacts([...lids], [...pns]), batch);
    await this.mergeRows(plan.merges);
    await this.releasePhones(plan.phoneReleases);
    await this.upsertContacts(plan.contacts);
    await this.learnNewIds(plan.contacts.filter((p) => p.id === undefined));
    await this.upsertGroups(plan.groups);
    await this.writeMemberships(plan.memberships);
    return this.counts;
  }

  private query<T>(sql: string, params: unknown[]): Promise<T> {
    return this.qr.query(sql, params) as Promise<T>;
  }

  private async loadContacts(lids: string[], pns: string[]): Promise<StoredContact[]> {
    const rows = new Map<number, StoredContact>();
    const load = async (column: 'lid' | 'phone_jid', values: string[]) => {
      for (const part of chunks(values, this.chunkSize)) {
        const found = await this.query<ContactRow[]>(
          `SELECT ${CONTACT_COLUMNS} FROM contacts WHERE session_id = ? AND ${column} IN (${list(part.length)})`,
          [this.sessionId, ...part],
        );
        for (const row of found) rows.set(Number(row.id), toStored(row));
      }
    };
    await load('lid', lids);
    await load('phone_jid', pns);
    return [...rows.values()];
  }

  /** Moves each folded row's memberships to the row it became, then deletes the folded row. */
  private async mergeRows(merges: IngestPlan['merges']): Promise<void> {
    for (const part of chunks(merges, this.chunkSize)) {
      const cases = part.map(() => 'WHEN ? THEN ?').join(' ');
      const from = part.map((m) => m.from);
      // On a group both rows were in, the more recent sighting's role wins, and any tag is kept.
      await this.query(
        `INSERT INTO group_members (session_id, group_jid, contact_id, tag, role, last_seen)
         SELECT moved.session_id, moved.group_jid, CASE moved.contact_id ${cases} END, moved.tag, moved.role, moved.last_seen
           FROM group_members moved
          WHERE moved.session_id = ? AND moved.contact_id IN (${list(part.length)})
         ON DUPLICATE KEY UPDATE
           tag = IF(VALUES(last_seen) > group_members.last_seen, COALESCE(VALUES(tag), group_members.tag), COALESCE(group_members.tag, VALUES(tag))),
           role = IF(VALUES(last_seen) > group_members.last_seen, VALUES(role), group_members.role),
           last_seen = GREATEST(group_members.last_seen, VALUES(last_seen))`,
        [...part.flatMap((m) => [m.from, m.into]), this.sessionId, ...from],
      );
      await this.query(`DELETE FROM contacts WHERE session_id = ? AND id IN (${list(from.length)})`, [this.sessionId, ...from]);
      this.counts.merged += part.length;
    }
  }

  private async releasePhones(ids: number[]): Promise<void> {
    for (const part of chunks(ids, this.chunkSize)) {
      await this.query(`UPDATE contacts SET phone_jid = NULL, phone_number = NULL WHERE session_id = ? AND id IN (${list(part.length)})`, [this.sessionId, ...part]);
    }
  }

  private async upsertContacts(people: Person[]): Promise<void> {
    for (const part of chunks(people, this.chunkSize)) {
      const params: unknown[] = [];
      for (const p of part) {
        const phone = p.pn === null ? null : phoneOfJid(p.pn) ?? null;
        params.push(p.id ?? null, this.sessionId, p.lid, p.pn, phone, p.name, p.nameSource, p.businessName, p.dm ? 1 : 0, p.firstSeenAt, p.updatedAt);
      }
      await this.query(
        `INSERT INTO contacts (id, session_id, lid, phone_jid, phone_number, name, name_source, business_name, dm, first_seen_at, updated_at)
         VALUES ${tuples(part.length, 11)}
         ON DUPLICATE KEY UPDATE
           lid = VALUES(lid), phone_jid = VALUES(phone_jid), phone_number = VALUES(phone_number),
           name = COALESCE(VALUES(name), name), name_source = IF(VALUES(name) IS NULL, name_source, VALUES(name_source)),
           business_name = COALESCE(VALUES(business_name), business_name),
           dm = GREATEST(dm, VALUES(dm)), first_seen_at = LEAST(first_seen_at, VALUES(first_seen_at)),
           updated_at = VALUES(updated_at)`,
        params,
      );
      this.counts.contacts += part.length;
    }
  }

  /** Reads back the ids of rows this batch inserted (a multi-row upsert reports only one id). */
  private async learnNewIds(people: Person[]): Promise<void> {
    const byLid = new Map<string, Person>();
    const byPn = new Map<string, Person>();
    for (const p of people) {
      if (p.lid !== null) byLid.set(p.lid, p);
      else if (p.pn !== null) byPn.set(p.pn, p);
    }
    for (const [column, wanted] of [['lid', byLid], ['phone_jid', byPn]] as const) {
      for (const part of chunks([...wanted.keys()], this.chunkSize)) {
        const rows = await this.query<{ id: number | string; jid: string }[]>(
          `SELECT id, ${column} AS jid FROM contacts WHERE session_id = ? AND ${column} IN (${list(part.length)})`,
          [this.sessionId, ...part],
        );
        for (const row of rows) wanted.get(row.jid)!.id = Number(row.id);
      }
    }
    const missing = people.filter((p) => p.id === undefined);
    if (missing.length > 0) throw new Error(`ingestion lost track of ${missing.length} inserted contact(s)`);
  }

  private async upsertGroups(groups: IngestPlan['groups']): Promise<void> {
    for (const part of chunks(groups, this.chunkSize)) {
      // updated_at moves only when the subject really changes; it is assigned before subject is.
      await this.query(
        `INSERT INTO wa_groups (session_id, jid, subject, updated_at) VALUES ${tuples(part.length, 4)}
         ON DUPLICATE KEY UPDATE
           updated_at = IF(VALUES(subject) IS NOT NULL AND NOT (subject <=> VALUES(subject)), VALUES(updated_at), updated_at),
           subject = COALESCE(VALUES(subject), subject)`,
        part.flatMap((g) => [this.sessionId, g.jid, g.subject, g.at]),
      );
      this.counts.groups += part.length;
    }
  }

  private async writeMemberships(plans: MembershipPlan[]): Promise<void> {
    for (const plan of plans) {
      if (plan.replace) {
        const keep = plan.staying.map((m) => idOf(m.person));
        const result = await this.query<Affected>(
          `DELETE FROM group_members WHERE session_id = ? AND group_jid = ?${keep.length > 0 ? ` AND contact_id NOT IN (${list(keep.length)})` : ''}`,
          [this.sessionId, plan.group, ...keep],
        );
        this.counts.removedMemberships += result.affectedRows ?? 0;
      }
      for (const part of chunks(plan.leaving, this.chunkSize)) {
        const result = await this.query<Affected>(
          `DELETE FROM group_members WHERE session_id = ? AND group_jid = ? AND contact_id IN (${list(part.length)})`,
          [this.sessionId, plan.group, ...part.map(idOf)],
        );
        this.counts.removedMemberships += result.affectedRows ?? 0;
      }
    }
    // Rows differ in which columns they know; each shape gets its own statement.
    const shapes = new Map<string, unknown[][]>();
    for (const plan of plans) {
      for (const m of plan.staying) {
        const shape = `${m.role !== undefined ? 'role' : ''}|${m.tag !== undefined ? 'tag' : ''}`;
        let rows = shapes.get(shape);
        if (!rows) shapes.set(shape, (rows = []));
        rows.push([this.sessionId, plan.group, idOf(m.person), m.tag ?? null, m.role ?? 'member', m.lastSeen]);
      }
    }
    for (const [shape, rows] of shapes) {
      const [role, tag] = shape.split('|');
      const updates = [role ? 'role = VALUES(role)' : '', tag ? 'tag = VALUES(tag)' : '', 'last_seen = GREATEST(last_seen, VALUES(last_seen))'].filter(Boolean);
      for (const part of chunks(rows, this.chunkSize)) {
        await this.query(
          `INSERT INTO group_members (session_id, group_jid, contact_id, tag, role, last_seen) VALUES ${tuples(part.length, 6)}
           ON DUPLICATE KEY UPDATE ${updates.join(', ')}`,
          part.flat(),
        );
        this.counts.memberships += part.length;
      }
    }
  }
}

function idOf(person: Person): number {
  const id = person.current.id;
  if (id === undefined) throw new Error('membership of a contact without a row id');
  return id;
}

function toStored(row: ContactRow): StoredContact {
  const source = row.name_source === 'saved' || row.name_source === 'push' ? (row.name_source as NameSource) : null;
  return {
    id: Number(row.id),
    lid: row.lid,
    phoneJid: row.phone_jid,
    name: row.name,
    nameSource: source,
    businessName: row.business_name,
    dm: Number(row.dm) === 1,
    firstSeenAt: Number(row.first_seen_at),
    updatedAt: Number(row.updated_at),
  };
}
