/**
 * Writes a batch of ingest operations in one transaction: loads the stored contacts the batch
 * mentions, plans the result (ingest-plan.ts), then writes it with multi-row statements of at most
 * `chunkSize` rows each, and keeps the name trigram index (shared/search) in step in the same
 * transaction. Every write is an upsert or a targeted delete, so replaying a batch leaves the same
 * rows.
 *
 * One writer per session at a time (the session queue and shard ownership guarantee it), so the
 * rows read at the start stay valid for the transaction without locking them.
 */
import type { DataSource, QueryRunner } from 'typeorm';
import { phoneOfJid } from '../../shared/jid.js';
import type { Role, TimedOps } from './ingest-ops.js';
import {
  planIngest,
  referencedIds,
  type IngestPlan,
  type MembershipPlan,
  type Person,
  type StoredContact,
} from './ingest-plan.js';
import { chunks, list, tuples } from './sql-chunks.js';
import { applyNameChanges, type NameChange } from '../../shared/search/contact-name-grams.js';
import { contactChanges, type ContactEvents } from './contact-events.js';

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
    private readonly events: ContactEvents | undefined = undefined,
  ) {}

  async write(sessionId: string, batch: TimedOps[]): Promise<WriteCounts> {
    const qr = this.db.createQueryRunner();
    try {
      await qr.connect();
      await qr.startTransaction();
      const counts = await new BatchWrite(qr, sessionId, this.chunkSize, this.events).run(batch);
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
    private readonly events: ContactEvents | undefined,
  ) {}

  async run(batch: TimedOps[]): Promise<WriteCounts> {
    const { lids, pns } = referencedIds(batch);
    const stored = await this.loadContacts([...lids], [...pns]);
    const plan = planIngest(stored, batch);
    await this.mergeRows(plan.merges);
    await this.releasePhones(plan.phoneReleases);
    await this.upsertContacts(plan.contacts);
    await this.learnNewIds(plan.contacts.filter((p) => p.id === undefined));
    await applyNameChanges((sql, params) => this.query(sql, params), this.sessionId, nameChanges(plan, stored));
    await this.upsertGroups(plan.groups);
    await this.writeMemberships(plan.memberships);
    // Last, so the session's event counter is locked only for the moment before commit.
    if (this.events)
      await this.events.contactsChanged((sql, params) => this.query(sql, params), this.sessionId, contactChanges(plan));
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
      await this.query(`DELETE FROM contacts WHERE session_id = ? AND id IN (${list(from.length)})`, [
        this.sessionId,
        ...from,
      ]);
      this.counts.merged += part.length;
    }
  }

  private async releasePhones(ids: number[]): Promise<void> {
    for (const part of chunks(ids, this.chunkSize)) {
      await this.query(
        `UPDATE contacts SET phone_jid = NULL, phone_number = NULL WHERE session_id = ? AND id IN (${list(part.length)})`,
        [this.sessionId, ...part],
      );
    }
  }

  private async upsertContacts(people: Person[]): Promise<void> {
    for (const part of chunks(people, this.chunkSize)) {
      const params: unknown[] = [];
      for (const p of part) {
        const phone = p.pn === null ? null : (phoneOfJid(p.pn) ?? null);
        params.push(
          p.id ?? null,
          this.sessionId,
          p.lid,
          p.pn,
          phone,
          p.name,
          p.nameSource,
          p.businessName,
          p.dm ? 1 : 0,
          p.firstSeenAt,
          p.updatedAt,
        );
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
    for (const [column, wanted] of [
      ['lid', byLid],
      ['phone_jid', byPn],
    ] as const) {
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
    const ending = new Map<string, Set<number>>();
    for (const plan of plans) if (plan.leaving.length > 0) ending.set(plan.group, new Set(plan.leaving.map(idOf)));
    for (const [group, gone] of await this.leaversOfReplacedGroups(plans.filter((p) => p.replace))) {
      const set = ending.get(group) ?? new Set<number>();
      for (const id of gone) set.add(id);
      ending.set(group, set);
    }
    await this.deleteMemberships(ending);

    // Rows differ in which columns they know; each shape gets its own statement. Sorted in primary
    // key order so InnoDB appends rather than splitting pages all over the index.
    const shapes = new Map<string, [string, number, string | null, Role | undefined, number][]>();
    for (const plan of plans) {
      for (const m of plan.staying) {
        const shape = `${m.role !== undefined ? 'role' : ''}|${m.tag !== undefined ? 'tag' : ''}`;
        let rows = shapes.get(shape);
        if (!rows) shapes.set(shape, (rows = []));
        rows.push([plan.group, idOf(m.person), m.tag ?? null, m.role, m.lastSeen]);
      }
    }
    for (const [shape, rows] of shapes) {
      rows.sort((a, b) => (a[0] === b[0] ? a[1] - b[1] : a[0] < b[0] ? -1 : 1));
      const [role, tag] = shape.split('|');
      const updates = [
        role ? 'role = VALUES(role)' : '',
        tag ? 'tag = VALUES(tag)' : '',
        'last_seen = GREATEST(last_seen, VALUES(last_seen))',
      ].filter(Boolean);
      for (const part of chunks(rows, this.chunkSize)) {
        await this.query(
          `INSERT INTO group_members (session_id, group_jid, contact_id, tag, role, last_seen) VALUES ${tuples(part.length, 6)}
           ON DUPLICATE KEY UPDATE ${updates.join(', ')}`,
          part.flatMap(([group, contactId, tagValue, roleValue, lastSeen]) => [
            this.sessionId,
            group,
            contactId,
            tagValue,
            roleValue ?? 'member',
            lastSeen,
          ]),
        );
        this.counts.memberships += part.length;
      }
    }
  }

  /** Stored members of fully listed groups who are not on the list, read in a few statements. */
  private async leaversOfReplacedGroups(plans: MembershipPlan[]): Promise<Map<string, number[]>> {
    const leavers = new Map<string, number[]>();
    const staying = new Map(plans.map((p) => [p.group, new Set(p.staying.map((m) => idOf(m.person)))]));
    // Cut the group list so each read returns roughly a few chunks of rows.
    const batches: string[][] = [[]];
    let expected = 0;
    for (const plan of plans) {
      if (expected > this.chunkSize * 4) {
        batches.push([]);
        expected = 0;
      }
      batches[batches.length - 1]!.push(plan.group);
      expected += plan.staying.length;
    }
    for (const groupJids of batches.filter((b) => b.length > 0)) {
      const rows = await this.query<{ group_jid: string; contact_id: number | string }[]>(
        `SELECT group_jid, contact_id FROM group_members WHERE session_id = ? AND group_jid IN (${list(groupJids.length)})`,
        [this.sessionId, ...groupJids],
      );
      for (const row of rows) {
        const id = Number(row.contact_id);
        if (staying.get(row.group_jid)?.has(id)) continue;
        let gone = leavers.get(row.group_jid);
        if (!gone) leavers.set(row.group_jid, (gone = []));
        gone.push(id);
      }
    }
    return leavers;
  }

  /** Deletes (group, contact) memberships, several groups per statement. */
  private async deleteMemberships(ending: Map<string, Set<number>>): Promise<void> {
    let clauses: string[] = [];
    let params: unknown[] = [];
    let rows = 0;
    const flush = async () => {
      if (clauses.length === 0) return;
      const result = await this.query<Affected>(
        `DELETE FROM group_members WHERE session_id = ? AND (${clauses.join(' OR ')})`,
        [this.sessionId, ...params],
      );
      this.counts.removedMemberships += result.affectedRows ?? 0;
      clauses = [];
      params = [];
      rows = 0;
    };
    for (const [group, ids] of ending) {
      for (const part of chunks([...ids], this.chunkSize)) {
        if (rows + part.length > this.chunkSize) await flush();
        clauses.push(`(group_jid = ? AND contact_id IN (${list(part.length)}))`);
        params.push(group, ...part);
        rows += part.length;
      }
    }
    await flush();
  }
}

/** What each written or folded row's name was before this batch and is after it (the upsert keeps a stored name over a missing one). */
function nameChanges(plan: IngestPlan, stored: StoredContact[]): NameChange[] {
  const storedById = new Map(stored.map((row) => [row.id, row]));
  const changes: NameChange[] = plan.contacts.map((p) => ({
    contactId: p.id!,
    before: p.stored?.name ?? null,
    after: p.name ?? p.stored?.name ?? null,
  }));
  for (const merge of plan.merges)
    changes.push({ contactId: merge.from, before: storedById.get(merge.from)?.name ?? null, after: null });
  return changes;
}

function idOf(person: Person): number {
  const id = person.current.id;
  if (id === undefined) throw new Error('membership of a contact without a row id');
  return id;
}

function toStored(row: ContactRow): StoredContact {
  const source = row.name_source === 'saved' || row.name_source === 'push' ? row.name_source : null;
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
