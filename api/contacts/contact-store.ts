import type { DataSource } from 'typeorm';
import { poolQuery } from '../../shared/db/pool-query.js';
import { phoneToJid } from '../../shared/jid.js';
import { nameGrams } from '../../shared/search/name-grams.js';
import type { ContactDetail, ContactSummary } from './contact-schemas.js';

export interface ContactListFilter {
  source: 'dm' | 'group' | undefined;
  group: string | undefined;
  q: string | undefined;
}

export interface ContactIdentity {
  lid: string | null;
  phoneNumber: string | null;
  name: string | null;
}

export interface ContactListPage {
  rows: ContactSummary[];
  lastId: number | undefined;
  hasMore: boolean;
}

interface SummaryRow {
  id: number | string;
  lid: string | null;
  name: string | null;
  phone_number: string | null;
  business_name: string | null;
  dm: number;
}

interface DetailRow extends SummaryRow {
  phone_jid: string | null;
  first_seen_at: number | string;
  updated_at: number | string;
}

interface MembershipRow {
  group_jid: string;
  subject: string | null;
  role: 'member' | 'admin' | 'superadmin';
  tag: string | null;
  last_seen: number | string;
}

// A scalar subquery rather than EXISTS: MariaDB rewrites EXISTS into IN and materialises every
// membership row of the table for each page; this form stays a per-row index probe on both servers.
const IN_ANY_GROUP = '(SELECT 1 FROM group_members gm_any WHERE gm_any.contact_id = c.id LIMIT 1) IS NOT NULL';
/** Enough to narrow any real name to a handful of candidates; each one more is a join. */
const MAX_SEARCH_GRAMS = 4;
const SUMMARY_COLUMNS = 'c.id, c.lid, c.name, c.phone_number, c.business_name, c.dm';

/** `%` and `_` in a search term match themselves, not LIKE wildcards. */
export function likeContains(term: string): string {
  return `%${term.replace(/[|%_]/g, (ch) => `|${ch}`)}%`;
}

/** Digits of a term that looks like a phone number ("+62 812-34"), or undefined. */
function phoneDigits(term: string): string | undefined {
  if (!/^\+?[\d\s().-]+$/.test(term)) return undefined;
  const digits = term.replace(/\D/g, '');
  return digits.length > 0 ? digits : undefined;
}

/**
 * The trigrams a search walks: none for a phone-like term (it may match a phone number, which has
 * no trigrams stored) or a term under three characters; otherwise up to MAX_SEARCH_GRAMS of them,
 * spread over the term.
 */
function searchGrams(term: string | undefined): string[] {
  if (term === undefined || term === '' || phoneDigits(term) !== undefined) return [];
  const grams = [...nameGrams(term)];
  if (grams.length <= MAX_SEARCH_GRAMS) return grams;
  return Array.from(
    { length: MAX_SEARCH_GRAMS },
    (_, i) => grams[Math.round((i * (grams.length - 1)) / (MAX_SEARCH_GRAMS - 1))]!,
  );
}

/** Stored contact queries, straight SQL: keyset pagination on contacts.id, no OFFSET anywhere. */
export class ContactStore {
  constructor(private readonly db: DataSource) {}

  async list(sessionId: string, filter: ContactListFilter, afterId: number, limit: number): Promise<ContactListPage> {
    const where: string[] = [];
    const args: unknown[] = [];
    let from: string;
    let order: string;
    const grams = filter.group === undefined ? searchGrams(filter.q) : [];
    if (filter.group !== undefined) {
      // Walk the group's membership index in contact-id order, then join the contact rows.
      from = 'group_members gm JOIN contacts c ON c.id = gm.contact_id';
      where.push('gm.session_id = ?', 'gm.group_jid = ?', 'gm.contact_id > ?');
      args.push(sessionId, filter.group, afterId);
      order = 'gm.contact_id';
    } else if (grams.length > 0) {
      // Only contacts holding every one of these trigrams can match; the optimizer starts from the
      // rarest (it estimates each gram's rows from the index), and LIKE below still decides.
      from = grams
        .map((_, i) =>
          i === 0
            ? 'contact_name_grams g0'
            : `JOIN contact_name_grams g${i} ON g${i}.session_id = g0.session_id AND g${i}.gram = ? AND g${i}.contact_id = g0.contact_id`,
        )
        .join(' ');
      from += ' JOIN contacts c ON c.id = g0.contact_id';
      args.push(...grams.slice(1));
      where.push('g0.session_id = ?', 'g0.gram = ?', 'g0.contact_id > ?');
      args.push(sessionId, grams[0], afterId);
      order = 'g0.contact_id';
    } else {
      // Forced: left to itself the optimizer may take a ref on session_id alone and step through
      // every earlier contact to reach the cursor, so page 2,000 would cost 2,000 times page 1.
      // Direct chats alone seek (session_id, dm, id); a search needs the names in the list index.
      const onlyDirectChats = filter.source === 'dm' && (filter.q ?? '') === '';
      from = `contacts c FORCE INDEX (${onlyDirectChats ? 'idx_contacts_session_dm' : 'idx_contacts_session_list'})`;
      where.push('c.session_id = ?', 'c.id > ?');
      args.push(sessionId, afterId);
      order = 'c.id';
    }
    if (filter.source === 'dm') where.push('c.dm = 1');
    else if (filter.source === 'group' && filter.group === undefined) where.push(IN_ANY_GROUP);
    else if (filter.source === undefined && filter.group === undefined) where.push(`(c.dm = 1 OR ${IN_ANY_GROUP})`);
    if (filter.q !== undefined && filter.q !== '') {
      const digits = phoneDigits(filter.q);
      // Phone numbers are stored as ASCII digits, so only a phone-like term can match one; and
      // comparing that ascii column with a non-ASCII term is a MySQL collation error, not a miss.
      if (digits !== undefined) {
        where.push(`(c.name LIKE ? ESCAPE '|' OR c.phone_number LIKE ? ESCAPE '|')`);
        args.push(likeContains(filter.q), likeContains(digits));
      } else {
        where.push(`c.name LIKE ? ESCAPE '|'`);
        args.push(likeContains(filter.q));
      }
    }
    args.push(limit + 1);
    const rows = await poolQuery<SummaryRow>(
      this.db,
      `SELECT ${SUMMARY_COLUMNS} FROM ${from} WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT ?`,
      args,
    );
    const hasMore = rows.length > limit;
    const page = hasMore ? rows.slice(0, limit) : rows;
    const reportedSource = filter.source ?? (filter.group !== undefined ? 'group' : undefined);
    return {
      rows: page.map((r) => ({
        lid: r.lid,
        name: r.name,
        phoneNumber: r.phone_number,
        businessName: r.business_name,
        source: reportedSource ?? (Number(r.dm) === 1 ? 'dm' : 'group'),
      })),
      lastId: page.length > 0 ? Number(page[page.length - 1]!.id) : undefined,
      hasMore,
    };
  }

  async get(sessionId: string, lid: string): Promise<ContactDetail | undefined> {
    return this.detail(sessionId, 'lid', lid);
  }

  /** The contact stored with this phone number (E.164 digits): what get-one answers for them, found by the unique (session, phone JID) index. */
  async getByPhone(sessionId: string, digits: string): Promise<ContactDetail | undefined> {
    return this.detail(sessionId, 'phone_jid', phoneToJid(digits));
  }

  /**
   * The identities stored for these LIDs and phone numbers (E.164 digits), each found through its
   * unique index: by LID, and by phone number. Unknown ones are absent from the maps.
   */
  async identities(
    sessionId: string,
    lids: string[],
    phones: string[],
  ): Promise<{ byLid: Map<string, ContactIdentity>; byPhone: Map<string, ContactIdentity> }> {
    const byLid = new Map<string, ContactIdentity>();
    const byPhone = new Map<string, ContactIdentity>();
    const read = async (column: 'lid' | 'phone_jid', values: string[]) => {
      if (values.length === 0) return;
      const rows = await poolQuery<{ lid: string | null; phone_number: string | null; name: string | null }>(
        this.db,
        `SELECT c.lid, c.phone_number, c.name FROM contacts c WHERE c.session_id = ? AND c.${column} IN (${values.map(() => '?').join(', ')})`,
        [sessionId, ...values],
      );
      for (const row of rows) {
        const identity = { lid: row.lid, phoneNumber: row.phone_number, name: row.name };
        if (row.lid !== null) byLid.set(row.lid, identity);
        if (row.phone_number !== null) byPhone.set(row.phone_number, identity);
      }
    };
    await read('lid', [...new Set(lids)]);
    await read('phone_jid', [...new Set(phones)].map(phoneToJid));
    return { byLid, byPhone };
  }

  private async detail(
    sessionId: string,
    column: 'lid' | 'phone_jid',
    value: string,
  ): Promise<ContactDetail | undefined> {
    // Stored ids are ASCII; a non-ASCII value cannot match, and MySQL refuses to compare it with the ascii column.
    if (!/^[\x20-\x7e]+$/.test(value)) return undefined;
    const [row] = await poolQuery<DetailRow>(
      this.db,
      `SELECT ${SUMMARY_COLUMNS}, c.phone_jid, c.first_seen_at, c.updated_at FROM contacts c WHERE c.session_id = ? AND c.${column} = ?`,
      [sessionId, value],
    );
    if (!row) return undefined;
    const memberships = await poolQuery<MembershipRow>(
      this.db,
      `SELECT gm.group_jid, g.subject, gm.role, gm.tag, gm.last_seen
         FROM group_members gm JOIN wa_groups g ON g.session_id = gm.session_id AND g.jid = gm.group_jid
        WHERE gm.contact_id = ? ORDER BY gm.last_seen DESC, gm.group_jid`,
      [row.id],
    );
    return {
      dm: Number(row.dm) === 1,
      groups: memberships.map((m) => ({
        jid: m.group_jid,
        name: m.subject,
        role: m.role,
        tag: m.tag,
        lastSeen: Number(m.last_seen),
      })),
      identity: {
        id: Number(row.id),
        lid: row.lid,
        name: row.name,
        businessName: row.business_name,
        phoneJid: row.phone_jid,
        phoneNumber: row.phone_number,
        firstSeenAt: Number(row.first_seen_at),
        updatedAt: Number(row.updated_at),
      },
    };
  }
}
