import { randomBytes } from 'node:crypto';
import type { Capability } from '../../shared/capabilities.js';
import { applyNameChanges } from '../../shared/search/contact-name-grams.js';
import { testEnv } from './hooks.js';

export interface Tenant {
  organizationId: string;
  sessionId: string;
  /** API key tokens by the capability set they carry. */
  tokens: { read: string; send: string; manage: string; all: string; none: string };
  keyIds: Record<'read' | 'send' | 'manage' | 'all' | 'none', string>;
}

const uniq = () => randomBytes(5).toString('hex');

/** A fresh organization with one session and an API key per capability set: no test shares data. */
export async function newTenant(options: { sessionId?: string } = {}): Promise<Tenant> {
  const org = await testEnv.admin.createOrganization(`Org ${uniq()}`, `org_${uniq()}`);
  const session = await testEnv.admin.createSession(org.id, 'test session', options.sessionId);
  const sets: Record<keyof Tenant['tokens'], Capability[]> = {
    read: ['read'],
    send: ['send'],
    manage: ['manage'],
    all: ['read', 'send', 'manage'],
    none: [],
  };
  const tokens = {} as Tenant['tokens'];
  const keyIds = {} as Tenant['keyIds'];
  for (const [name, caps] of Object.entries(sets) as [keyof Tenant['tokens'], Capability[]][]) {
    const { key, token } = await testEnv.admin.createApiKey(org.id, name, caps);
    tokens[name] = token;
    keyIds[name] = key.id;
  }
  return { organizationId: org.id, sessionId: session.id, tokens, keyIds };
}

export async function newSession(organizationId: string): Promise<string> {
  return (await testEnv.admin.createSession(organizationId, null)).id;
}

export interface ContactSeed {
  lid?: string | null;
  phone?: string | null;
  name?: string | null;
  businessName?: string | null;
  dm?: boolean;
  firstSeenAt?: number;
  updatedAt?: number;
  groups?: {
    jid: string;
    subject?: string;
    role?: 'member' | 'admin' | 'superadmin';
    tag?: string | null;
    lastSeen?: number;
  }[];
}

let lidCounter = 100_000_000 + Math.floor(Math.random() * 1_000_000);
export const newLid = () => `${++lidCounter}${uniq().replace(/\D/g, '').slice(0, 4)}@lid`;

/** Inserts stored contacts (with their name trigrams and group memberships) directly, as ingestion would have. Returns their ids. */
export async function seedContacts(sessionId: string, seeds: ContactSeed[]): Promise<number[]> {
  const ids: number[] = [];
  const now = Date.now();
  for (const seed of seeds) {
    const phone = seed.phone ?? null;
    const result = (await testEnv.db.query(
      `INSERT INTO contacts (session_id, lid, phone_jid, phone_number, name, business_name, dm, first_seen_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        sessionId,
        seed.lid === undefined ? newLid() : seed.lid,
        phone ? `${phone}@s.whatsapp.net` : null,
        phone,
        seed.name ?? null,
        seed.businessName ?? null,
        seed.dm ? 1 : 0,
        seed.firstSeenAt ?? now,
        seed.updatedAt ?? now,
      ],
    )) as { insertId: number };
    ids.push(Number(result.insertId));
    await applyNameChanges((sql, params) => testEnv.db.query(sql, params), sessionId, [
      { contactId: Number(result.insertId), before: null, after: seed.name ?? null },
    ]);
    for (const group of seed.groups ?? []) {
      await testEnv.db.query(
        `INSERT INTO wa_groups (session_id, jid, subject, updated_at) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE subject = COALESCE(VALUES(subject), subject)`,
        [sessionId, group.jid, group.subject ?? null, now],
      );
      await testEnv.db.query(
        `INSERT INTO group_members (session_id, group_jid, contact_id, tag, role, last_seen) VALUES (?, ?, ?, ?, ?, ?)`,
        [sessionId, group.jid, result.insertId, group.tag ?? null, group.role ?? 'member', group.lastSeen ?? now],
      );
    }
  }
  return ids;
}
