import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { makeEventBuffer, type BaileysEventMap, type GroupParticipant } from '@whiskeysockets/baileys';
import { pino } from 'pino';
import { DataSource, type Logger as TypeOrmLogger } from 'typeorm';
import { createDataSource } from '../shared/db/data-source.js';
import { ContactIngestor } from '../worker/ingest/contact-ingestor.js';
import { GRAM_ROWS_PER_STATEMENT } from '../shared/search/contact-name-grams.js';
import { nameGrams } from '../shared/search/name-grams.js';
import { newTenant } from './support/fixtures.js';
import { get } from './support/http.js';
import { testEnv } from './support/hooks.js';

type Events = BaileysEventMap;

const lid = (n: number) => `${205227043110000 + n}@lid`;
const pn = (n: number) => `49151000${String(n).padStart(5, '0')}@s.whatsapp.net`;
const digits = (n: number) => pn(n).split('@')[0]!;
const group = (n: number) => `1203630000000000${String(n).padStart(2, '0')}@g.us`;

const member = (
  id: string,
  admin: GroupParticipant['admin'] = null,
  extra: Partial<GroupParticipant> = {},
): GroupParticipant => ({ id, admin, ...extra });

const metadata = (jid: string, subject: string, participants: GroupParticipant[]) => ({
  id: jid,
  subject,
  owner: undefined,
  participants,
});

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A session being ingested through Baileys' own event emitter, on a clock the test controls. */
interface Ingesting {
  sessionId: string;
  ev: ReturnType<typeof makeEventBuffer>;
  ingestor: ContactIngestor;
  clock: { now: number };
  logs: LogLine[];
  emit<K extends keyof Events>(name: K, payload: Events[K]): Promise<void>;
  /** Emits a payload that does not match Baileys' types. */
  emitRaw(name: keyof Events, payload: unknown): Promise<void>;
  flush(): Promise<void>;
}

async function ingesting(sessionId?: string): Promise<Ingesting> {
  if (sessionId === undefined) {
    const org = await testEnv.admin.createOrganization('Ingest org', `org_${randomBytes(5).toString('hex')}`);
    sessionId = (await testEnv.admin.createSession(org.id, null)).id;
  }
  const logs: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const clock = { now: 1_719_662_400_000 };
  const ingestor = new ContactIngestor(testEnv.db, logger, { now: () => clock.now, chunkSize: 500 });
  const ev = makeEventBuffer(pino({ level: 'silent' }));
  const handle = ingestor.attach(sessionId, ev);
  return {
    sessionId,
    ev,
    ingestor,
    clock,
    logs,
    async emit(name, payload) {
      ev.emit(name, payload);
      await handle.flush();
    },
    async emitRaw(name, payload) {
      ev.emit(name, payload as never);
      await handle.flush();
    },
    flush: () => handle.flush(),
  };
}

interface ContactRow {
  id: number;
  lid: string | null;
  phone_jid: string | null;
  phone_number: string | null;
  name: string | null;
  business_name: string | null;
  dm: number;
  first_seen_at: number;
  updated_at: number;
}

async function contacts(sessionId: string): Promise<ContactRow[]> {
  const rows = (await testEnv.db.query(
    `SELECT id, lid, phone_jid, phone_number, name, business_name, dm, first_seen_at, updated_at
       FROM contacts WHERE session_id = ? ORDER BY id`,
    [sessionId],
  )) as ContactRow[];
  return rows.map((r) => ({
    ...r,
    id: Number(r.id),
    dm: Number(r.dm),
    first_seen_at: Number(r.first_seen_at),
    updated_at: Number(r.updated_at),
  }));
}

async function contactByLid(sessionId: string, l: string): Promise<ContactRow | undefined> {
  return (await contacts(sessionId)).find((c) => c.lid === l);
}

interface MemberRow {
  group_jid: string;
  lid: string | null;
  phone_jid: string | null;
  role: string;
  tag: string | null;
  last_seen: number;
}

async function members(sessionId: string, groupJid?: string): Promise<MemberRow[]> {
  const rows = (await testEnv.db.query(
    `SELECT gm.group_jid, c.lid, c.phone_jid, gm.role, gm.tag, gm.last_seen
       FROM group_members gm JOIN contacts c ON c.id = gm.contact_id
      WHERE gm.session_id = ? ${groupJid ? 'AND gm.group_jid = ?' : ''}
      ORDER BY gm.group_jid, c.lid, c.phone_jid`,
    groupJid ? [sessionId, groupJid] : [sessionId],
  )) as MemberRow[];
  return rows.map((r) => ({ ...r, last_seen: Number(r.last_seen) }));
}

async function groups(sessionId: string): Promise<{ jid: string; subject: string | null; updated_at: number }[]> {
  const rows = (await testEnv.db.query(
    `SELECT jid, subject, updated_at FROM wa_groups WHERE session_id = ? ORDER BY jid`,
    [sessionId],
  )) as {
    jid: string;
    subject: string | null;
    updated_at: number | string;
  }[];
  return rows.map((r) => ({ ...r, updated_at: Number(r.updated_at) }));
}

/** Everything ingestion stored for a session, without row ids, for comparing two sessions. */
async function storedState(sessionId: string) {
  return {
    contacts: (await contacts(sessionId)).map(({ id: _id, ...rest }) => rest),
    members: await members(sessionId),
    groups: await groups(sessionId),
  };
}

const warnings = (logs: LogLine[]) => logs.filter((l) => l.level === 40);

describe('Contact ingestion (worker → MySQL)', () => {
  describe('contacts.upsert and contacts.update', () => {
    it('stores an address-book contact under its LID with phone JID, phone digits, name and business name', async () => {
      const s = await ingesting();
      await s.emit('contacts.upsert', [
        { id: lid(1), phoneNumber: pn(1), name: 'Alice Anders', verifiedName: 'Acme Corp' },
      ]);
      const [row] = await contacts(s.sessionId);
      assert.deepEqual(
        {
          lid: row?.lid,
          phone_jid: row?.phone_jid,
          phone_number: row?.phone_number,
          name: row?.name,
          business_name: row?.business_name,
          dm: row?.dm,
        },
        {
          lid: lid(1),
          phone_jid: pn(1),
          phone_number: digits(1),
          name: 'Alice Anders',
          business_name: 'Acme Corp',
          dm: 0,
        },
      );
      assert.equal(row?.first_seen_at, s.clock.now);
    });

    it('keeps an address-book name over later push names, and never replaces a name with a blank or null', async () => {
      const s = await ingesting();
      await s.emit('contacts.upsert', [{ id: lid(1), name: 'Alice Anders' }]);
      await s.emit('contacts.update', [{ id: lid(1), notify: 'ali 🌸' }]);
      await s.emit('contacts.update', [{ id: lid(1), notify: '   ' }]);
      await s.emitRaw('contacts.update', [{ id: lid(1), name: null, notify: null }]);
      assert.equal((await contactByLid(s.sessionId, lid(1)))?.name, 'Alice Anders');
    });

    it('replaces an older push name with a newer one, and takes verifiedName as the business name', async () => {
      const s = await ingesting();
      await s.emit('contacts.update', [{ id: lid(2), notify: 'Bobby' }]);
      await s.emit('contacts.update', [{ id: lid(2), notify: 'Bob', verifiedName: 'Bob’s Bikes' }]);
      const row = await contactByLid(s.sessionId, lid(2));
      assert.equal(row?.name, 'Bob');
      assert.equal(row?.business_name, 'Bob’s Bikes');
    });

    it('lets an address-book name replace a push name', async () => {
      const s = await ingesting();
      await s.emit('contacts.update', [{ id: lid(3), notify: 'cc' }]);
      await s.emit('contacts.upsert', [{ id: lid(3), name: 'Carla Cruz' }]);
      assert.equal((await contactByLid(s.sessionId, lid(3)))?.name, 'Carla Cruz');
    });

    it('ignores a contacts.update that carries nothing stored (a picture change) for an unknown person', async () => {
      const s = await ingesting();
      await s.emit('contacts.update', [{ id: lid(4), imgUrl: 'changed' }]);
      assert.deepEqual(await contacts(s.sessionId), []);
    });

    it('does not store a username Baileys put in `name` as an address-book name', async () => {
      const s = await ingesting();
      // rc14 fills `name` with the username when there is no address-book name (history, contact sync).
      await s.emit('contacts.upsert', [
        { id: lid(7), name: 'quinn.climbs', username: 'quinn.climbs' },
        { id: lid(8), name: 'Rosa Ruiz', username: 'rosa' },
      ]);
      await s.emit('contacts.update', [{ id: lid(7), notify: 'Quinn' }]);
      const rows = await contacts(s.sessionId);
      assert.deepEqual(
        rows.map((r) => [r.lid, r.name]),
        [
          [lid(7), 'Quinn'],
          [lid(8), 'Rosa Ruiz'],
        ],
      );
    });

    it('cuts names longer than the column to 255 characters instead of failing the batch', async () => {
      const s = await ingesting();
      const long = '😀'.repeat(300);
      await s.emit('contacts.upsert', [
        { id: lid(5), name: long },
        { id: lid(6), name: 'Short' },
      ]);
      const rows = await contacts(s.sessionId);
      assert.equal(rows.length, 2);
      assert.equal(rows.find((r) => r.lid === lid(5))?.name, '😀'.repeat(255));
    });
  });

  describe('chats.upsert', () => {
    it('marks the person of a direct chat as dm whether the chat id is a LID or a phone JID', async () => {
      const s = await ingesting();
      await s.emit('chats.upsert', [
        { id: lid(1) },
        { id: pn(2) },
        { id: group(1), name: 'Climbers' },
        { id: 'status@broadcast' },
      ]);
      const rows = await contacts(s.sessionId);
      assert.deepEqual(
        rows.map((r) => [r.lid, r.phone_jid, r.dm]),
        [
          [lid(1), null, 1],
          [null, pn(2), 1],
        ],
      );
      assert.deepEqual(
        (await groups(s.sessionId)).map((g) => [g.jid, g.subject]),
        [[group(1), 'Climbers']],
      );
    });
  });

  describe('groups and participants', () => {
    it('stores members addressed by LID and by phone JID, with the role from admin', async () => {
      const s = await ingesting();
      await s.emit('groups.upsert', [
        metadata(group(1), 'Climbers', [
          member(lid(1), 'superadmin', { phoneNumber: pn(1) }),
          member(pn(2), 'admin', { lid: lid(2) }),
          member(pn(3)),
          member(lid(4)),
        ]),
      ]);
      assert.deepEqual(await members(s.sessionId), [
        { group_jid: group(1), lid: null, phone_jid: pn(3), role: 'member', tag: null, last_seen: s.clock.now },
        { group_jid: group(1), lid: lid(1), phone_jid: pn(1), role: 'superadmin', tag: null, last_seen: s.clock.now },
        { group_jid: group(1), lid: lid(2), phone_jid: pn(2), role: 'admin', tag: null, last_seen: s.clock.now },
        { group_jid: group(1), lid: lid(4), phone_jid: null, role: 'member', tag: null, last_seen: s.clock.now },
      ]);
      assert.deepEqual(
        (await groups(s.sessionId)).map((g) => g.subject),
        ['Climbers'],
      );
      assert.equal(
        (await contacts(s.sessionId)).every((c) => c.dm === 0),
        true,
      );
    });

    it('adds participants to a group it has not seen yet, stamping last_seen with the event time', async () => {
      const s = await ingesting();
      s.clock.now += 5_000;
      await s.emit('group-participants.update', {
        id: group(2),
        author: lid(9),
        participants: [member(lid(1)), member(pn(2))],
        action: 'add',
      });
      assert.deepEqual(
        (await members(s.sessionId)).map((m) => [m.group_jid, m.lid ?? m.phone_jid, m.role, m.last_seen]),
        [
          [group(2), pn(2), 'member', s.clock.now],
          [group(2), lid(1), 'member', s.clock.now],
        ],
      );
      assert.deepEqual(await groups(s.sessionId), [{ jid: group(2), subject: null, updated_at: s.clock.now }]);
    });

    it('promotes and demotes members', async () => {
      const s = await ingesting();
      await s.emit('groups.upsert', [
        metadata(group(1), 'Climbers', [member(lid(1)), member(lid(2)), member(lid(3), 'superadmin')]),
      ]);
      await s.emit('group-participants.update', {
        id: group(1),
        author: lid(3),
        participants: [member(lid(1)), member(lid(2))],
        action: 'promote',
      });
      const promoted = await members(s.sessionId);
      assert.deepEqual(
        promoted.map((m) => [m.lid, m.role]),
        [
          [lid(1), 'admin'],
          [lid(2), 'admin'],
          [lid(3), 'superadmin'],
        ],
      );
      await s.emit('group-participants.update', {
        id: group(1),
        author: lid(3),
        participants: [member(lid(2), 'admin')],
        action: 'demote',
      });
      const demoted = await members(s.sessionId);
      assert.deepEqual(
        demoted.map((m) => [m.lid, m.role]),
        [
          [lid(1), 'admin'],
          [lid(2), 'member'],
          [lid(3), 'superadmin'],
        ],
      );
    });

    it('removes a participant from the group only, and the group listing stops showing them', async () => {
      const t = await newTenant();
      const s = await ingesting(t.sessionId);
      await s.emit('groups.upsert', [
        metadata(group(1), 'Climbers', [member(lid(1)), member(lid(2))]),
        metadata(group(2), 'Family', [member(lid(1))]),
      ]);
      await s.emit('group-participants.update', {
        id: group(1),
        author: lid(2),
        participants: [member(lid(1))],
        action: 'remove',
      });
      assert.deepEqual(
        (await members(s.sessionId)).map((m) => [m.group_jid, m.lid]),
        [
          [group(1), lid(2)],
          [group(2), lid(1)],
        ],
      );
      const listing = await get(
        `/api/v1/sessions/${t.sessionId}/contacts?group=${encodeURIComponent(group(1))}`,
        t.tokens.read,
      );
      assert.equal(listing.status, 200, listing.text);
      assert.deepEqual(
        listing.body.data.map((c: { lid: string }) => c.lid),
        [lid(2)],
      );
      const detail = await get(`/api/v1/sessions/${t.sessionId}/contacts/${lid(1)}`, t.tokens.read);
      assert.deepEqual(
        detail.body.groups.map((g: { jid: string }) => g.jid),
        [group(2)],
      );
    });

    it('re-adds a removed participant without their old tag', async () => {
      const s = await ingesting();
      await s.emit('group-participants.update', {
        id: group(1),
        author: lid(9),
        participants: [member(lid(1))],
        action: 'add',
      });
      await s.emit('group.member-tag.update', { groupId: group(1), participant: lid(1), label: 'Captain' });
      await s.emit('group-participants.update', {
        id: group(1),
        author: lid(9),
        participants: [member(lid(1))],
        action: 'remove',
      });
      await s.emit('group-participants.update', {
        id: group(1),
        author: lid(9),
        participants: [member(lid(1))],
        action: 'add',
      });
      assert.deepEqual(
        (await members(s.sessionId)).map((m) => [m.lid, m.tag]),
        [[lid(1), null]],
      );
    });

    it('applies events in arrival order when they queue up behind a write', async () => {
      const s = await ingesting();
      const change = (action: Events['group-participants.update']['action'], id: string) =>
        s.ev.emit('group-participants.update', { id: group(1), author: lid(9), participants: [member(id)], action });
      change('add', lid(1));
      change('promote', lid(1));
      change('remove', lid(1));
      change('add', lid(1));
      change('add', lid(2));
      change('promote', lid(2));
      change('add', lid(3));
      change('remove', lid(3));
      await s.flush();
      assert.deepEqual(
        (await members(s.sessionId)).map((m) => [m.lid, m.role]),
        [
          [lid(1), 'member'],
          [lid(2), 'admin'],
        ],
      );
    });

    it('stores group member tags from member-tag updates, under the LID named with the phone', async () => {
      const s = await ingesting();
      await s.emit('groups.upsert', [metadata(group(1), 'Climbers', [member(pn(1), 'admin')])]);
      await s.emit('group.member-tag.update', {
        groupId: group(1),
        participant: lid(1),
        participantAlt: pn(1),
        label: 'Ali',
        messageTimestamp: 1719662400,
      });
      assert.deepEqual(await members(s.sessionId), [
        { group_jid: group(1), lid: lid(1), phone_jid: pn(1), role: 'admin', tag: 'Ali', last_seen: s.clock.now },
      ]);
    });

    it('changes a group subject on groups.update and keeps it when an update has none', async () => {
      const s = await ingesting();
      await s.emit('groups.upsert', [metadata(group(1), 'Climbers', [member(lid(1))])]);
      s.clock.now += 1_000;
      await s.emit('groups.update', [{ id: group(1), subject: 'Boulderers' }]);
      await s.emit('groups.update', [{ id: group(1), announce: true }]);
      await s.emit('group-participants.update', {
        id: group(1),
        author: lid(1),
        participants: [member(lid(2))],
        action: 'add',
      });
      assert.deepEqual(await groups(s.sessionId), [{ jid: group(1), subject: 'Boulderers', updated_at: s.clock.now }]);
      assert.equal((await members(s.sessionId)).length, 2);
    });

    it('treats a participant list in groups.update as the whole membership', async () => {
      const s = await ingesting();
      await s.emit('groups.upsert', [metadata(group(1), 'Climbers', [member(lid(1)), member(lid(2)), member(lid(3))])]);
      await s.emit('groups.update', [{ id: group(1), participants: [member(lid(1)), member(lid(3), 'admin')] }]);
      assert.deepEqual(
        (await members(s.sessionId)).map((m) => [m.lid, m.role]),
        [
          [lid(1), 'member'],
          [lid(3), 'admin'],
        ],
      );
    });
  });

  describe('ingestGroups (groupFetchAllParticipating)', () => {
    it('makes each listed group hold exactly its listed participants and leaves other groups alone', async () => {
      const s = await ingesting();
      await s.emit('groups.upsert', [
        metadata(group(1), 'Climbers', [member(lid(1)), member(lid(2)), member(lid(3))]),
        metadata(group(2), 'Family', [member(lid(1)), member(lid(4))]),
      ]);
      await s.emit('group.member-tag.update', { groupId: group(1), participant: lid(1), label: 'Ali' });
      await s.ingestor.ingestGroups(s.sessionId, {
        [group(1)]: metadata(group(1), 'Climbers 2025', [
          member(lid(1), 'superadmin'),
          member(pn(5), null, { lid: lid(5) }),
        ]),
      });
      assert.deepEqual(
        (await members(s.sessionId)).map((m) => [m.group_jid, m.lid, m.role, m.tag]),
        [
          [group(1), lid(1), 'superadmin', 'Ali'],
          [group(1), lid(5), 'member', null],
          [group(2), lid(1), 'member', null],
          [group(2), lid(4), 'member', null],
        ],
      );
      assert.deepEqual(
        (await groups(s.sessionId)).map((g) => g.subject),
        ['Climbers 2025', 'Family'],
      );
    });
  });

  describe('phone JID → LID merge', () => {
    it('folds a person known by phone JID into their LID row, keeping every membership, dm, the earliest first sighting and the best name', async () => {
      const t = await newTenant();
      const s = await ingesting(t.sessionId);
      const firstSeen = s.clock.now;
      await s.emit('groups.upsert', [
        metadata(group(1), 'Climbers', [member(pn(1), 'admin')]),
        metadata(group(2), 'Family', [member(pn(1))]),
      ]);
      await s.emit('chats.upsert', [{ id: pn(1) }]);
      await s.emit('contacts.update', [{ id: pn(1), notify: 'pat' }]);
      s.clock.now += 60_000;
      await s.emit('contacts.upsert', [{ id: lid(1), name: 'Patricia Park' }]);
      await s.emit('group.member-tag.update', { groupId: group(3), participant: lid(1), label: 'Trish' });
      assert.equal((await contacts(s.sessionId)).length, 2);

      s.clock.now += 60_000;
      await s.emit('lid-mapping.update', { lid: lid(1), pn: pn(1) });

      const rows = await contacts(s.sessionId);
      assert.equal(rows.length, 1);
      const res = await get(`/api/v1/sessions/${t.sessionId}/contacts/${lid(1)}`, t.tokens.read);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, {
        dm: true,
        groups: [
          { jid: group(3), name: null, role: 'member', tag: 'Trish', lastSeen: firstSeen + 60_000 },
          { jid: group(1), name: 'Climbers', role: 'admin', tag: null, lastSeen: firstSeen },
          { jid: group(2), name: 'Family', role: 'member', tag: null, lastSeen: firstSeen },
        ],
        identity: {
          id: rows[0]!.id,
          lid: lid(1),
          name: 'Patricia Park',
          businessName: null,
          phoneJid: pn(1),
          phoneNumber: digits(1),
          firstSeenAt: firstSeen,
          updatedAt: s.clock.now,
        },
      });
    });

    it('gives a phone-only row its LID when no LID row exists yet, keeping its id and push name', async () => {
      const s = await ingesting();
      await s.emit('contacts.update', [{ id: pn(1), notify: 'pat' }]);
      const [before] = await contacts(s.sessionId);
      await s.emit('lid-mapping.update', { lid: lid(1), pn: `${digits(1)}:3@s.whatsapp.net` });
      const [after] = await contacts(s.sessionId);
      assert.deepEqual([after?.id, after?.lid, after?.phone_jid, after?.name], [before?.id, lid(1), pn(1), 'pat']);
    });

    it('keeps the membership seen last when both rows were in the same group', async () => {
      const s = await ingesting();
      await s.emit('group-participants.update', {
        id: group(1),
        author: lid(9),
        participants: [member(pn(1))],
        action: 'add',
      });
      s.clock.now += 1_000;
      await s.emit('group-participants.update', {
        id: group(1),
        author: lid(9),
        participants: [member(lid(1), 'admin')],
        action: 'add',
      });
      await s.emit('lid-mapping.update', { lid: lid(1), pn: pn(1) });
      assert.deepEqual(await members(s.sessionId), [
        { group_jid: group(1), lid: lid(1), phone_jid: pn(1), role: 'admin', tag: null, last_seen: s.clock.now },
      ]);
    });

    const mappingSources: [string, (s: Ingesting) => Promise<void>][] = [
      [
        'a Contact with both id and phoneNumber',
        (s) => s.emit('contacts.upsert', [{ id: lid(1), phoneNumber: pn(1) }]),
      ],
      [
        'a Contact with a phone id and a lid',
        (s) => s.emit('contacts.update', [{ id: pn(1), lid: lid(1), notify: 'pat' }]),
      ],
      [
        'a participant with both ids',
        (s) =>
          s.emit('group-participants.update', {
            id: group(2),
            author: lid(9),
            participants: [member(lid(1), null, { phoneNumber: pn(1) })],
            action: 'add',
          }),
      ],
      [
        'history lidPnMappings',
        (s) =>
          s.emit('messaging-history.set', {
            chats: [],
            contacts: [],
            messages: [],
            lidPnMappings: [{ lid: lid(1), pn: pn(1) }],
          }),
      ],
      [
        "a history message key's participantAlt",
        (s) =>
          s.emit('messaging-history.set', {
            chats: [],
            contacts: [],
            messages: [
              {
                key: { remoteJid: group(1), participant: lid(1), participantAlt: pn(1), id: 'ABC', fromMe: false },
                messageTimestamp: 1719662400,
              },
            ],
          }),
      ],
      ['a direct chat with its other JID', (s) => s.emit('chats.upsert', [{ id: pn(1), lidJid: lid(1) }])],
    ];
    for (const [source, reveal] of mappingSources) {
      it(`merges when the mapping comes from ${source}`, async () => {
        const s = await ingesting();
        await s.emit('group-participants.update', {
          id: group(1),
          author: lid(9),
          participants: [member(pn(1))],
          action: 'add',
        });
        await s.emit('contacts.upsert', [{ id: lid(1), name: 'Patricia Park' }]);
        await reveal(s);
        const rows = await contacts(s.sessionId);
        assert.deepEqual(
          rows.map((r) => [r.lid, r.phone_jid, r.name]),
          [[lid(1), pn(1), 'Patricia Park']],
        );
        assert.deepEqual(
          (await members(s.sessionId, group(1))).map((m) => m.lid),
          [lid(1)],
        );
      });
    }

    it("merges on a mapping the driver's own look-up learned (lookup: true), which never creates a contact", async () => {
      const s = await ingesting();
      await s.emit('contacts.update', [{ id: pn(1), notify: 'pat' }]);
      await s.emit('contacts.upsert', [{ id: lid(1), name: 'Patricia Park' }]);
      // A number check learns mappings of numbers this session never saw: those are not people it knows.
      await s.emitRaw('lid-mapping.update', { lid: lid(1), pn: pn(1), lookup: true });
      await s.emitRaw('lid-mapping.update', { lid: lid(2), pn: pn(2), lookup: true });
      const rows = await contacts(s.sessionId);
      assert.deepEqual(
        rows.map((r) => [r.lid, r.phone_jid, r.name]),
        [[lid(1), pn(1), 'Patricia Park']],
      );
      // The same mapping from WhatsApp (a chat, the address book) is a person seen.
      await s.emit('lid-mapping.update', { lid: lid(2), pn: pn(2) });
      assert.deepEqual(
        (await contacts(s.sessionId)).map((r) => r.lid),
        [lid(1), lid(2)],
      );
    });

    it('gives a stored LID row its phone on a look-up mapping', async () => {
      const s = await ingesting();
      await s.emit('contacts.upsert', [{ id: lid(3), name: 'Quinn' }]);
      await s.emitRaw('lid-mapping.update', { lid: lid(3), pn: pn(3), lookup: true });
      assert.deepEqual(
        (await contacts(s.sessionId)).map((r) => [r.lid, r.phone_jid]),
        [[lid(3), pn(3)]],
      );
    });

    it('moves a phone number that a newer mapping gives to another LID', async () => {
      const s = await ingesting();
      await s.emit('contacts.upsert', [{ id: lid(1), phoneNumber: pn(1), name: 'Old owner' }]);
      await s.emit('lid-mapping.update', { lid: lid(2), pn: pn(1) });
      assert.deepEqual(
        (await contacts(s.sessionId)).map((r) => [r.lid, r.phone_jid, r.name]),
        [
          [lid(1), null, 'Old owner'],
          [lid(2), pn(1), null],
        ],
      );
    });
  });

  describe('the name trigram index', () => {
    /** Every stored name's trigrams and nothing else: what a `q` search relies on. */
    async function assertGramsMatchNames(sessionId: string): Promise<void> {
      const stored = (await testEnv.db.query('SELECT id, name FROM contacts WHERE session_id = ?', [sessionId])) as {
        id: number | string;
        name: string | null;
      }[];
      const expected = stored
        .flatMap((row) => [...nameGrams(row.name)].map((gram) => `${Number(row.id)} ${gram}`))
        .sort();
      const indexed = (await testEnv.db.query('SELECT contact_id, gram FROM contact_name_grams WHERE session_id = ?', [
        sessionId,
      ])) as { contact_id: number | string; gram: string }[];
      assert.deepEqual(indexed.map((row) => `${Number(row.contact_id)} ${row.gram}`).sort(), expected);
    }

    it('follows new names, renames, merges and replays', async () => {
      const t = await newTenant();
      const s = await ingesting(t.sessionId);
      await s.emit('contacts.upsert', [
        { id: lid(1), name: 'Bartholomew Kuswanto' },
        { id: lid(2), notify: 'Dewi' },
        { id: lid(3) },
      ]);
      await assertGramsMatchNames(s.sessionId);

      await s.emit('contacts.upsert', [{ id: lid(1), name: 'Zebediah Kuswanto' }]);
      await s.emit('contacts.update', [{ id: lid(3), notify: 'Ｓüßmann' }]);
      await assertGramsMatchNames(s.sessionId);
      const found = async (q: string) => {
        const res = await get(`/api/v1/sessions/${t.sessionId}/contacts?q=${encodeURIComponent(q)}`, t.tokens.read);
        assert.equal(res.status, 200, res.text);
        return (res.body.data as { lid: string }[]).map((c) => c.lid);
      };
      await s.emit('chats.upsert', [{ id: lid(1) }, { id: lid(3) }]);
      assert.deepEqual(await found('zebed'), [lid(1)]);
      assert.deepEqual(await found('bartho'), []);
      assert.deepEqual(await found('SÜßMA'), [lid(3)]);

      await s.emit('contacts.update', [{ id: pn(4), notify: 'Pat Phone' }]);
      await s.emit('contacts.upsert', [{ id: lid(4), name: 'Patricia Park' }]);
      await s.emit('lid-mapping.update', { lid: lid(4), pn: pn(4) });
      assert.equal((await contacts(s.sessionId)).length, 4);
      await assertGramsMatchNames(s.sessionId);

      await s.emit('contacts.upsert', [
        { id: lid(1), name: 'Zebediah Kuswanto' },
        { id: lid(4), name: 'Patricia Park' },
      ]);
      await assertGramsMatchNames(s.sessionId);
    });

    it('is deleted with its session', async () => {
      const t = await newTenant();
      const s = await ingesting(t.sessionId);
      await s.emit('contacts.upsert', [{ id: lid(1), name: 'Someone Searchable' }]);
      const count = async () =>
        Number(
          (
            (await testEnv.db.query('SELECT COUNT(*) AS n FROM contact_name_grams WHERE session_id = ?', [
              s.sessionId,
            ])) as { n: number | string }[]
          )[0]!.n,
        );
      assert.ok((await count()) > 0);
      await testEnv.db.query('DELETE FROM wa_sessions WHERE id = ?', [s.sessionId]);
      assert.equal(await count(), 0);
    });
  });

  describe('idempotency', () => {
    const script: [keyof Events, unknown][] = [
      [
        'contacts.upsert',
        [
          { id: lid(1), phoneNumber: pn(1), name: 'Alice' },
          { id: pn(2), name: 'Bob' },
        ],
      ],
      ['chats.upsert', [{ id: pn(2) }, { id: lid(1) }]],
      [
        'groups.upsert',
        [
          metadata(group(1), 'Climbers', [
            member(lid(1), 'superadmin'),
            member(pn(2)),
            member(pn(3), null, { lid: lid(3) }),
          ]),
        ],
      ],
      ['group-participants.update', { id: group(1), author: lid(1), participants: [member(pn(4))], action: 'add' }],
      ['group-participants.update', { id: group(1), author: lid(1), participants: [member(pn(2))], action: 'promote' }],
      ['group.member-tag.update', { groupId: group(1), participant: lid(3), label: 'Cee' }],
      ['lid-mapping.update', { lid: lid(2), pn: pn(2) }],
      ['group-participants.update', { id: group(1), author: lid(1), participants: [member(lid(3))], action: 'remove' }],
      ['contacts.update', [{ id: lid(2), notify: 'bobby', verifiedName: 'Bob Bikes' }]],
      ['groups.update', [{ id: group(2), subject: 'Family', participants: [member(lid(1)), member(lid(2), 'admin')] }]],
      [
        'messaging-history.set',
        {
          chats: [
            { id: lid(5), pnJid: pn(5) },
            { id: group(3), name: 'Book club', participant: [{ userJid: lid(1), rank: 1 }] },
          ],
          contacts: [{ id: lid(5), name: 'Eve' }],
          messages: [],
          lidPnMappings: [{ lid: lid(4), pn: pn(4) }],
        },
      ],
    ];

    it('replaying every event a second time leaves exactly the same rows', async () => {
      const s = await ingesting();
      for (const [name, payload] of script) await s.emitRaw(name, payload);
      const once = {
        contacts: await contacts(s.sessionId),
        members: await members(s.sessionId),
        groups: await groups(s.sessionId),
      };
      assert.equal(once.contacts.length, 5);
      for (const [name, payload] of script) await s.emitRaw(name, payload);
      const twice = {
        contacts: await contacts(s.sessionId),
        members: await members(s.sessionId),
        groups: await groups(s.sessionId),
      };
      assert.deepEqual(twice, once);
    });

    it('replaying every event an hour later changes nothing but when each named membership was last seen', async () => {
      const s = await ingesting();
      for (const [name, payload] of script) await s.emitRaw(name, payload);
      const first = {
        contacts: await contacts(s.sessionId),
        members: await members(s.sessionId),
        groups: await groups(s.sessionId),
      };
      const firstAt = s.clock.now;
      s.clock.now += 3_600_000;
      for (const [name, payload] of script) await s.emitRaw(name, payload);
      // A replay is a new sighting of the same facts: nobody is renamed, merged, re-dated or
      // re-created, no group changes; only the members the events name were seen again, now.
      assert.deepEqual(await contacts(s.sessionId), first.contacts);
      assert.deepEqual(await groups(s.sessionId), first.groups);
      const later = await members(s.sessionId);
      const withoutSeen = (rows: MemberRow[]) => rows.map(({ last_seen: _seen, ...rest }) => rest);
      assert.deepEqual(withoutSeen(later), withoutSeen(first.members));
      assert.ok(first.members.every((m) => m.last_seen === firstAt));
      assert.ok(
        later.every((m) => m.last_seen === firstAt || m.last_seen === s.clock.now),
        JSON.stringify(later),
      );
      assert.ok(
        later.some((m) => m.last_seen === s.clock.now),
        'the replay counts as a sighting',
      );
    });

    it('delivering each event twice in a row stores the same as delivering it once', async () => {
      const single = await ingesting();
      const doubled = await ingesting();
      for (const [name, payload] of script) {
        await single.emitRaw(name, payload);
        await doubled.emitRaw(name, payload);
        await doubled.emitRaw(name, payload);
      }
      assert.deepEqual(await storedState(doubled.sessionId), await storedState(single.sessionId));
    });
  });

  describe('malformed payloads', () => {
    it('logs and skips malformed payloads without crashing or touching stored data', async () => {
      const s = await ingesting();
      await s.emit('groups.upsert', [metadata(group(1), 'Climbers', [member(lid(1), 'admin'), member(lid(2))])]);
      await s.emit('contacts.upsert', [{ id: lid(1), name: 'Alice' }]);
      await s.emit('chats.upsert', [{ id: lid(2) }]);
      const before = await storedState(s.sessionId);
      s.clock.now += 1_000;

      const malformed: [keyof Events, unknown][] = [
        ['contacts.upsert', { not: 'a list' }],
        ['contacts.update', [null, 42, { id: 17 }, { id: 'garbage' }, { id: '12@s.whatsapp.net', notify: 'x' }]],
        ['chats.upsert', 'chats'],
        ['groups.upsert', [{ id: 'not-a-group', subject: 'x', participants: [] }]],
        ['groups.update', [{ id: group(1), participants: [member(lid(1)), { id: 'nonsense' }] }]],
        ['groups.update', [{ id: group(1), participants: [] }]],
        ['groups.update', [{ id: group(1), participants: 'everyone' }]],
        ['groups.update', [{ id: group(1), participants: [{ id: lid(1), admin: 'owner' }] }]],
        ['group-participants.update', { id: group(1), author: lid(1), participants: 'x', action: 'remove' }],
        [
          'group-participants.update',
          { id: group(1), author: lid(1), participants: [member(lid(1))], action: 'explode' },
        ],
        ['group-participants.update', { id: 'nope', author: lid(1), participants: [member(lid(1))], action: 'remove' }],
        ['group-participants.update', null],
        ['group.member-tag.update', { groupId: group(1), participant: 'someone', label: 'x' }],
        ['lid-mapping.update', { lid: 'x', pn: 5 }],
        ['messaging-history.set', null],
        ['messaging-history.set', { chats: 'no', contacts: 7, messages: null, lidPnMappings: [{ lid: 1 }] }],
      ];
      for (const [name, payload] of malformed) await s.emitRaw(name, payload);
      await s.ingestor.ingestGroups(s.sessionId, null as never);
      await s.ingestor.ingestGroups(s.sessionId, {
        [group(1)]: { id: group(1), subject: undefined, participants: [] },
      });

      assert.deepEqual(await storedState(s.sessionId), before);
      assert.ok(
        warnings(s.logs).length >= malformed.length,
        `expected a warning per malformed payload, got ${warnings(s.logs).length}`,
      );
      assert.ok(warnings(s.logs).every((w) => Array.isArray(w['problems']) && (w['problems'] as unknown[]).length > 0));

      await s.emit('group-participants.update', {
        id: group(1),
        author: lid(1),
        participants: [member(lid(3))],
        action: 'add',
      });
      assert.deepEqual(
        (await members(s.sessionId)).map((m) => m.lid),
        [lid(1), lid(2), lid(3)],
      );
    });

    it('keeps the readable entries of a list with broken ones', async () => {
      const s = await ingesting();
      await s.emitRaw('contacts.upsert', [{ id: lid(1), name: 'Alice' }, 'junk', { id: lid(2), name: 'Bob' }]);
      assert.deepEqual(
        (await contacts(s.sessionId)).map((r) => r.name),
        ['Alice', 'Bob'],
      );
      assert.equal(warnings(s.logs).length, 1);
    });

    it('logs and drops what cannot be written (a deleted session) and keeps serving other events', async () => {
      const s = await ingesting('sess_deleted_' + randomBytes(4).toString('hex'));
      await s.emit('contacts.upsert', [{ id: lid(1), name: 'Alice' }]);
      assert.ok(s.logs.some((l) => l.level === 50 && l.msg === 'could not ingest event, dropped it'));
      assert.deepEqual(await contacts(s.sessionId), []);
    });
  });

  describe('attach / detach', () => {
    it('stops ingesting after detach but writes what was already queued', async () => {
      const org = await testEnv.admin.createOrganization('Ingest org', `org_${randomBytes(5).toString('hex')}`);
      const sessionId = (await testEnv.admin.createSession(org.id, null)).id;
      const ingestor = new ContactIngestor(testEnv.db, pino({ level: 'silent' }));
      const ev = makeEventBuffer(pino({ level: 'silent' }));
      const handle = ingestor.attach(sessionId, ev);
      ev.emit('contacts.upsert', [{ id: lid(1), name: 'Alice' }]);
      handle.detach();
      ev.emit('contacts.upsert', [{ id: lid(2), name: 'Bob' }]);
      await handle.drain();
      await ingestor.drain();
      assert.deepEqual(
        (await contacts(sessionId)).map((r) => r.name),
        ['Alice'],
      );
    });

    it("keeps each session's people apart when sessions ingest at the same time", async () => {
      const a = await ingesting();
      const b = await ingesting();
      a.ev.emit('contacts.upsert', [{ id: lid(1), phoneNumber: pn(1), name: 'Alice' }]);
      b.ev.emit('contacts.upsert', [
        { id: lid(1), phoneNumber: pn(1), name: 'Alicia' },
        { id: lid(2), name: 'Bob' },
      ]);
      await Promise.all([a.flush(), b.flush()]);
      assert.deepEqual(
        (await contacts(a.sessionId)).map((r) => r.name),
        ['Alice'],
      );
      assert.deepEqual(
        (await contacts(b.sessionId)).map((r) => r.name),
        ['Alicia', 'Bob'],
      );
    });

    it('ingests what Baileys releases from its event buffer as one consolidated map', async () => {
      const s = await ingesting();
      s.ev.buffer();
      s.ev.emit('contacts.upsert', [{ id: lid(1), phoneNumber: pn(1), name: 'Alice' }]);
      s.ev.emit('chats.upsert', [{ id: lid(1) }]);
      s.ev.emit('groups.update', [
        { id: group(1), subject: 'Climbers', participants: [member(lid(1)), member(lid(2))] },
      ]);
      assert.deepEqual(await contacts(s.sessionId), []);
      s.ev.flush();
      await s.flush();
      assert.deepEqual(
        (await contacts(s.sessionId)).map((r) => [r.lid, r.dm]),
        [
          [lid(1), 1],
          [lid(2), 0],
        ],
      );
      assert.equal((await members(s.sessionId)).length, 2);
    });
  });

  describe('own account and observers', () => {
    it("never stores the session's own account, by LID or by phone", async () => {
      const s = await ingesting();
      s.ingestor.setOwnAccount(s.sessionId, { lid: lid(99), pn: pn(99) });
      await s.emit('groups.upsert', [
        metadata(group(1), 'Climbers', [member(lid(99), 'superadmin', { phoneNumber: pn(99) }), member(lid(1))]),
      ]);
      await s.emit('chats.upsert', [{ id: pn(99) }]);
      await s.emit('contacts.upsert', [{ id: lid(99), name: 'Me' }]);
      assert.deepEqual(
        (await contacts(s.sessionId)).map((r) => r.lid),
        [lid(1)],
      );
    });

    it('tells onWritten what each committed batch wrote', async () => {
      const org = await testEnv.admin.createOrganization('Ingest org', `org_${randomBytes(5).toString('hex')}`);
      const sessionId = (await testEnv.admin.createSession(org.id, null)).id;
      const written: Record<string, number>[] = [];
      const ingestor = new ContactIngestor(testEnv.db, pino({ level: 'silent' }), {
        onWritten: (counts) => void written.push({ ...counts }),
      });
      await ingestor.ingestGroups(sessionId, {
        [group(1)]: metadata(group(1), 'Climbers', [member(lid(1)), member(lid(2))]),
      });
      assert.deepEqual(written, [{ contacts: 2, groups: 1, memberships: 2, merged: 0, removedMemberships: 0 }]);
    });
  });

  describe('batching', () => {
    it('writes a 3,000-contact upsert in a handful of statements, not one per contact', async () => {
      let statements = 0;
      const counter: TypeOrmLogger = {
        logQuery: () => void statements++,
        logQueryError: () => undefined,
        logQuerySlow: () => undefined,
        logSchemaBuild: () => undefined,
        logMigration: () => undefined,
        log: () => undefined,
      };
      const counted = new DataSource({
        ...createDataSource({ url: testEnv.databaseUrl, poolSize: 2, connectTimeoutMs: 3000 }).options,
        logger: counter,
      });
      await counted.initialize();
      try {
        const org = await testEnv.admin.createOrganization('Ingest org', `org_${randomBytes(5).toString('hex')}`);
        const sessionId = (await testEnv.admin.createSession(org.id, null)).id;
        const ingestor = new ContactIngestor(counted, pino({ level: 'silent' }), { chunkSize: 1000 });
        const ev = makeEventBuffer(pino({ level: 'silent' }));
        const handle = ingestor.attach(sessionId, ev);
        const people = Array.from({ length: 3000 }, (_, i) => ({
          id: lid(1000 + i),
          phoneNumber: pn(1000 + i),
          name: `Person ${i}`,
        }));
        statements = 0;
        ev.emit('contacts.upsert', people);
        await handle.flush();
        assert.equal((await contacts(sessionId)).length, 3000);
        // 3 chunks each: load by LID, load by phone, upsert, read back ids; plus begin and commit,
        // and the names' trigrams in statements of GRAM_ROWS_PER_STATEMENT rows.
        const gramRows = people.reduce((n, p) => n + nameGrams(p.name).size, 0);
        assert.ok(
          statements <= 14 + Math.ceil(gramRows / GRAM_ROWS_PER_STATEMENT),
          `used ${statements} statements for ${gramRows} trigram rows`,
        );
      } finally {
        await counted.destroy();
      }
    });
  });

  describe('history sync and the stored API', () => {
    it('lists exactly the people of the synced direct chats and groups', async () => {
      const t = await newTenant();
      const s = await ingesting(t.sessionId);
      await s.emit('messaging-history.set', {
        chats: [
          { id: lid(1), pnJid: pn(1), unreadCount: 0 },
          { id: pn(2), unreadCount: 1 },
          {
            id: group(1),
            name: 'Climbers',
            participant: [
              { userJid: lid(1), rank: 2 },
              { userJid: lid(3), rank: 0, memberLabel: { label: 'Cee' } },
            ],
          },
          { id: 'status@broadcast' },
          { id: '120363999999999999@newsletter', name: 'News' },
        ],
        contacts: [
          { id: lid(1), name: 'Alice', phoneNumber: pn(1) },
          { id: pn(2), name: 'Bob' },
          { id: group(1), name: 'Climbers' },
          { id: lid(4), notify: 'Dora' },
        ],
        messages: [],
        lidPnMappings: [{ lid: lid(3), pn: pn(3) }],
        isLatest: true,
        progress: 100,
        syncType: 0,
      });
      const res = await get(`/api/v1/sessions/${t.sessionId}/contacts?limit=200`, t.tokens.read);
      assert.equal(res.status, 200, res.text);
      const byPhone = (a: { phoneNumber: string }, b: { phoneNumber: string }) =>
        a.phoneNumber.localeCompare(b.phoneNumber);
      assert.deepEqual(res.body.data.sort(byPhone), [
        { lid: lid(1), name: 'Alice', phoneNumber: digits(1), businessName: null, source: 'dm' },
        { lid: null, name: 'Bob', phoneNumber: digits(2), businessName: null, source: 'dm' },
        { lid: lid(3), name: null, phoneNumber: digits(3), businessName: null, source: 'group' },
      ]);
      assert.equal(res.body.nextCursor, '');
      const cee = await get(`/api/v1/sessions/${t.sessionId}/contacts/${lid(3)}`, t.tokens.read);
      assert.deepEqual(cee.body.groups, [
        { jid: group(1), name: 'Climbers', role: 'member', tag: 'Cee', lastSeen: s.clock.now },
      ]);
      const alice = await get(`/api/v1/sessions/${t.sessionId}/contacts/${lid(1)}`, t.tokens.read);
      assert.equal(alice.body.groups[0].role, 'superadmin');
    });
  });
});
