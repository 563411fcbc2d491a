import assert from 'node:assert/strict';
import type { IngestOp } from '../../worker/ingest/ingest-ops.js';
import { planIngest, referencedIds, type StoredContact } from '../../worker/ingest/ingest-plan.js';

const LID = '111@lid';
const LID2 = '222@lid';
const PN = '15550001111@s.whatsapp.net';

function row(id: number, fields: Partial<StoredContact>): StoredContact {
  return {
    id,
    lid: null,
    phoneJid: null,
    name: null,
    nameSource: null,
    businessName: null,
    dm: false,
    firstSeenAt: 1_000,
    updatedAt: 1_000,
    ...fields,
  };
}

function plan(stored: StoredContact[], ...ops: IngestOp[]) {
  return planIngest(stored, [{ at: 5_000, ops }]);
}

describe('unit: ingestion planning', () => {
  describe('merging a phone-only row into its LID row', () => {
    it('keeps the address-book name of the phone row over the push name of the LID row', () => {
      const stored = [
        row(1, { lid: LID, name: 'ally', nameSource: 'push' }),
        row(2, { phoneJid: PN, name: 'Alice (book)', nameSource: 'saved' }),
      ];
      const { contacts, merges } = plan(stored, { kind: 'mapping', lid: LID, pn: PN });
      assert.deepEqual(merges, [{ from: 2, into: 1 }]);
      assert.equal(contacts.length, 1);
      assert.deepEqual(
        { id: contacts[0]!.id, name: contacts[0]!.name, source: contacts[0]!.nameSource },
        { id: 1, name: 'Alice (book)', source: 'saved' },
      );
    });

    it("keeps the LID row's name when both are push names, or both are saved", () => {
      const push = plan(
        [
          row(1, { lid: LID, name: 'lid push', nameSource: 'push' }),
          row(2, { phoneJid: PN, name: 'pn push', nameSource: 'push' }),
        ],
        { kind: 'mapping', lid: LID, pn: PN },
      );
      assert.equal(push.contacts[0]!.name, 'lid push');
      const saved = plan(
        [
          row(1, { lid: LID, name: 'lid saved', nameSource: 'saved' }),
          row(2, { phoneJid: PN, name: 'pn saved', nameSource: 'saved' }),
        ],
        { kind: 'mapping', lid: LID, pn: PN },
      );
      assert.equal(saved.contacts[0]!.name, 'lid saved');
    });

    it('takes the phone row name when the LID row has none', () => {
      const { contacts } = plan([row(1, { lid: LID }), row(2, { phoneJid: PN, name: 'pn push', nameSource: 'push' })], {
        kind: 'mapping',
        lid: LID,
        pn: PN,
      });
      assert.deepEqual([contacts[0]!.name, contacts[0]!.nameSource], ['pn push', 'push']);
    });

    it('keeps the earliest first sighting and dm if either had it, on the stored LID row with both ids', () => {
      const stored = [
        row(1, { lid: LID, firstSeenAt: 3_000 }),
        row(2, { phoneJid: PN, firstSeenAt: 2_000, dm: true, businessName: 'Shop' }),
      ];
      const [kept] = plan(stored, { kind: 'mapping', lid: LID, pn: PN }).contacts;
      assert.deepEqual(
        {
          id: kept!.id,
          lid: kept!.lid,
          pn: kept!.pn,
          firstSeenAt: kept!.firstSeenAt,
          dm: kept!.dm,
          businessName: kept!.businessName,
        },
        { id: 1, lid: LID, pn: PN, firstSeenAt: 2_000, dm: true, businessName: 'Shop' },
      );
    });

    it('keeps the stored phone row when the LID person is new in this batch, so row ids stay stable', () => {
      const { contacts, merges } = plan(
        [row(7, { phoneJid: PN, name: 'Book', nameSource: 'saved' })],
        { kind: 'person', person: { lid: LID }, pushName: 'push' },
        { kind: 'mapping', lid: LID, pn: PN },
      );
      assert.deepEqual(merges, []);
      assert.deepEqual(
        contacts.map((c) => [c.id, c.lid, c.pn, c.name]),
        [[7, LID, PN, 'Book']],
      );
    });
  });

  it('moves a phone number to the LID the latest mapping names, releasing it from the old row', () => {
    const { contacts, phoneReleases } = plan([row(1, { lid: LID, phoneJid: PN })], {
      kind: 'mapping',
      lid: LID2,
      pn: PN,
    });
    assert.deepEqual(phoneReleases, [1]);
    const byLid = new Map(contacts.map((c) => [c.lid, c.pn]));
    assert.deepEqual([byLid.get(LID), byLid.get(LID2)], [null, PN]);
  });

  it('never changes the LID of a row', () => {
    const { contacts } = plan([row(1, { lid: LID, phoneJid: PN })], { kind: 'mapping', lid: LID2, pn: PN });
    assert.ok(contacts.some((c) => c.id === 1 && c.lid === LID));
  });

  it('does not create a row for a mapping learned by a look-up of our own', () => {
    assert.deepEqual(plan([], { kind: 'mapping', lid: LID, pn: PN, onlyKnown: true }).contacts, []);
    assert.equal(
      plan([row(1, { phoneJid: PN })], { kind: 'mapping', lid: LID, pn: PN, onlyKnown: true }).contacts[0]?.lid,
      LID,
    );
  });

  it('lets no push name replace an address-book name, and a saved name replace a push name', () => {
    const kept = plan([row(1, { lid: LID, name: 'Book', nameSource: 'saved' })], {
      kind: 'person',
      person: { lid: LID },
      pushName: 'push',
    });
    assert.deepEqual(kept.contacts, [], 'nothing changed, nothing to write');
    const replaced = plan([row(1, { lid: LID, name: 'push', nameSource: 'push' })], {
      kind: 'person',
      person: { lid: LID },
      savedName: 'Book',
    });
    assert.deepEqual(
      [replaced.contacts[0]!.name, replaced.contacts[0]!.nameSource, replaced.contacts[0]!.updatedAt],
      ['Book', 'saved', 5_000],
    );
  });

  it('writes only rows that changed', () => {
    const stored = [row(1, { lid: LID, name: 'same', nameSource: 'push' })];
    assert.deepEqual(plan(stored, { kind: 'person', person: { lid: LID }, pushName: 'same' }).contacts, []);
  });

  it('ends the membership of everyone a complete member list leaves out, keeping tags of those who stay', () => {
    const G = 'g@g.us';
    const result = planIngest(
      [],
      [
        {
          at: 1,
          ops: [
            { kind: 'member', group: G, person: { lid: LID }, change: { present: true, tag: 'ops' } },
            { kind: 'member', group: G, person: { lid: LID2 }, change: { present: true } },
          ],
        },
        { at: 2, ops: [{ kind: 'members-snapshot', group: G, members: [{ person: { lid: LID }, role: 'admin' }] }] },
      ],
    );
    const [membership] = result.memberships;
    assert.equal(membership!.replace, true);
    assert.deepEqual(
      membership!.leaving.map((p) => p.lid),
      [LID2],
    );
    assert.deepEqual(
      membership!.staying.map((s) => [s.person.lid, s.role, s.tag, s.lastSeen]),
      [[LID, 'admin', 'ops', 2]],
    );
  });

  it('lists every id a batch mentions, to load their rows first', () => {
    const ids = referencedIds([
      {
        at: 1,
        ops: [
          { kind: 'mapping', lid: LID, pn: PN },
          { kind: 'members-snapshot', group: 'g@g.us', members: [{ person: { lid: LID2 }, role: 'member' }] },
        ],
      },
    ]);
    assert.deepEqual([[...ids.lids].sort(), [...ids.pns]], [[LID, LID2], [PN]]);
  });
});
