import assert from 'node:assert/strict';
import { assertError, assertUnauthorized } from './support/assert-error.js';
import { newSession, newTenant, seedContacts, type ContactSeed, type Tenant } from './support/fixtures.js';
import { get } from './support/http.js';
import { likeContains } from '../api/contacts/contact-store.js';
import { seededRandom } from '../shared/seeded-random.js';
import { testEnv } from './support/hooks.js';

const G1 = '120363000000000001@g.us';
const G2 = '12345-67890@g.us';
const G_UNKNOWN = '120363999999999999@g.us';

const listPath = (sessionId: string, query: Record<string, string> = {}) => {
  const qs = new URLSearchParams(query).toString();
  return `/api/v1/sessions/${sessionId}/contacts${qs ? `?${qs}` : ''}`;
};

interface ContactItem {
  lid: string | null;
  name: string | null;
  phoneNumber: string | null;
  businessName: string | null;
  source: 'dm' | 'group';
}

async function listNames(t: Tenant, query: Record<string, string>): Promise<string[]> {
  const res = await get(listPath(t.sessionId, { limit: '200', ...query }), t.tokens.read);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.nextCursor, '');
  return (res.body.data as ContactItem[]).map((c) => c.name ?? '').sort();
}

/** Follows nextCursor to the end; `between` runs after each page (to change the data mid-walk). */
async function walk(t: Tenant, query: Record<string, string>, between?: (page: number) => Promise<void>) {
  const lids: string[] = [];
  const pageSizes: number[] = [];
  let cursor = '';
  do {
    const res = await get(listPath(t.sessionId, { ...query, ...(cursor ? { cursor } : {}) }), t.tokens.read);
    assert.equal(res.status, 200, res.text);
    assert.equal(typeof res.body.nextCursor, 'string');
    pageSizes.push(res.body.data.length);
    lids.push(...(res.body.data as ContactItem[]).map((c) => c.lid!));
    cursor = res.body.nextCursor;
    assert.ok(pageSizes.length < 1000, 'pagination does not terminate');
    if (cursor && between) await between(pageSizes.length);
  } while (cursor !== '');
  return { lids, pageSizes };
}

const dmContacts = (n: number, prefix: string): ContactSeed[] =>
  Array.from({ length: n }, (_, i) => ({
    name: `${prefix} ${String(i).padStart(3, '0')}`,
    phone: `4930${String(i).padStart(7, '0')}`,
    dm: true,
  }));

describe('GET /api/v1/sessions/{session}/contacts', () => {
  describe('filters', () => {
    let t: Tenant;

    before(async () => {
      t = await newTenant();
      await seedContacts(t.sessionId, [
        { name: 'Alice Anders', phone: '6281100000001', businessName: 'Acme Corp', dm: true },
        { name: 'Bob Alison', phone: '6281100000002', dm: true, groups: [{ jid: G1, subject: 'Climbers' }] },
        { name: 'Carol', phone: '4915100000003', groups: [{ jid: G1, subject: 'Climbers', role: 'admin' }] },
        { name: 'Natalia', phone: '4915100000004', groups: [{ jid: G2, subject: 'Family' }] },
        { name: 'Erin', phone: '6281100000005', dm: true, groups: [{ jid: G2, subject: 'Family' }] },
        { name: 'Grace', phone: null, groups: [{ jid: G1 }, { jid: G2 }] },
        // Stored (e.g. from an address-book sync) but neither a direct chat nor seen in a group.
        { name: 'Frank Alibi', phone: '6281100000007', dm: false },
      ]);
    });

    it('without filters returns every contact seen in a direct chat or a group, with its source', async () => {
      const res = await get(listPath(t.sessionId), t.tokens.read);
      assert.equal(res.status, 200);
      const sources = Object.fromEntries((res.body.data as ContactItem[]).map((c) => [c.name, c.source]));
      assert.deepEqual(sources, {
        'Alice Anders': 'dm',
        'Bob Alison': 'dm',
        Carol: 'group',
        Natalia: 'group',
        Erin: 'dm',
        Grace: 'group',
      });
      assert.equal(res.body.nextCursor, '');
    });

    it('source=dm keeps only people with a direct chat', async () => {
      assert.deepEqual(await listNames(t, { source: 'dm' }), ['Alice Anders', 'Bob Alison', 'Erin']);
      const res = await get(listPath(t.sessionId, { source: 'dm' }), t.tokens.read);
      assert.ok((res.body.data as ContactItem[]).every((c) => c.source === 'dm'));
    });

    it('source=group keeps only people seen in some group', async () => {
      assert.deepEqual(await listNames(t, { source: 'group' }), ['Bob Alison', 'Carol', 'Erin', 'Grace', 'Natalia']);
      const res = await get(listPath(t.sessionId, { source: 'group' }), t.tokens.read);
      assert.ok((res.body.data as ContactItem[]).every((c) => c.source === 'group'));
    });

    it('group={jid} keeps only members of that group', async () => {
      assert.deepEqual(await listNames(t, { group: G1 }), ['Bob Alison', 'Carol', 'Grace']);
      assert.deepEqual(await listNames(t, { group: G2 }), ['Erin', 'Grace', 'Natalia']);
    });

    it('reports source group for every member when filtered by group alone, even one with a direct chat', async () => {
      const res = await get(listPath(t.sessionId, { group: G1 }), t.tokens.read);
      assert.deepEqual(
        (res.body.data as ContactItem[]).map((c) => [c.name, c.source]),
        [
          ['Bob Alison', 'group'],
          ['Carol', 'group'],
          ['Grace', 'group'],
        ],
      );
    });

    it('reports source dm when filtered by source=dm and group together', async () => {
      const res = await get(listPath(t.sessionId, { source: 'dm', group: G1 }), t.tokens.read);
      assert.deepEqual(
        (res.body.data as ContactItem[]).map((c) => [c.name, c.source]),
        [['Bob Alison', 'dm']],
      );
    });

    it('group of a group nobody was seen in returns an empty last page', async () => {
      const res = await get(listPath(t.sessionId, { group: G_UNKNOWN }), t.tokens.read);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { data: [], nextCursor: '' });
    });

    it('q matches a substring of the name, case-insensitively', async () => {
      assert.deepEqual(await listNames(t, { q: 'ali' }), ['Alice Anders', 'Bob Alison', 'Natalia']);
      assert.deepEqual(await listNames(t, { q: 'ALI' }), ['Alice Anders', 'Bob Alison', 'Natalia']);
      assert.deepEqual(await listNames(t, { q: 'aNdErS' }), ['Alice Anders']);
    });

    it('q matches a substring of the phone number', async () => {
      assert.deepEqual(await listNames(t, { q: '81100' }), ['Alice Anders', 'Bob Alison', 'Erin']);
      assert.deepEqual(await listNames(t, { q: '00000003' }), ['Carol']);
    });

    it('q with no match returns an empty last page', async () => {
      const res = await get(listPath(t.sessionId, { q: 'nobody-has-this-name' }), t.tokens.read);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { data: [], nextCursor: '' });
    });

    it('an empty q does not filter', async () => {
      assert.deepEqual(await listNames(t, { q: '' }), await listNames(t, {}));
    });

    it('source=dm combined with group keeps group members who also have a direct chat', async () => {
      assert.deepEqual(await listNames(t, { source: 'dm', group: G1 }), ['Bob Alison']);
      assert.deepEqual(await listNames(t, { source: 'dm', group: G2 }), ['Erin']);
    });

    it('source=group combined with group is the group membership', async () => {
      assert.deepEqual(await listNames(t, { source: 'group', group: G2 }), ['Erin', 'Grace', 'Natalia']);
    });

    it('source combined with q applies both', async () => {
      assert.deepEqual(await listNames(t, { source: 'dm', q: 'ali' }), ['Alice Anders', 'Bob Alison']);
      assert.deepEqual(await listNames(t, { source: 'group', q: 'ali' }), ['Bob Alison', 'Natalia']);
    });

    it('group combined with q applies both', async () => {
      assert.deepEqual(await listNames(t, { group: G1, q: 'o' }), ['Bob Alison', 'Carol']);
      assert.deepEqual(await listNames(t, { group: G2, q: '4915' }), ['Natalia']);
    });

    it('all three filters combine', async () => {
      assert.deepEqual(await listNames(t, { source: 'dm', group: G2, q: 'ERIN' }), ['Erin']);
      assert.deepEqual(await listNames(t, { source: 'dm', group: G2, q: 'natalia' }), []);
    });

    it('never returns contacts of another session of the same organization', async () => {
      const other = await newSession(t.organizationId);
      await seedContacts(other, [{ name: 'Alice Elsewhere', dm: true, groups: [{ jid: G1 }] }]);
      assert.deepEqual(await listNames(t, { q: 'alice' }), ['Alice Anders']);
      assert.deepEqual(await listNames(t, { group: G1 }), ['Bob Alison', 'Carol', 'Grace']);
    });
  });

  describe('response shape', () => {
    it('returns {data, nextCursor} whose items are exactly {lid, name, phoneNumber, businessName, source}', async () => {
      const t = await newTenant();
      await seedContacts(t.sessionId, [
        {
          lid: '205227043110953@lid',
          name: 'Alice',
          phone: '6281234567890',
          businessName: 'Acme Corp',
          dm: true,
          groups: [{ jid: G1 }],
        },
        { lid: '205227043110954@lid', name: null, phone: null, businessName: null, groups: [{ jid: G1 }] },
      ]);
      const res = await get(listPath(t.sessionId), t.tokens.read);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(res.body, {
        data: [
          {
            lid: '205227043110953@lid',
            name: 'Alice',
            phoneNumber: '6281234567890',
            businessName: 'Acme Corp',
            source: 'dm',
          },
          { lid: '205227043110954@lid', name: null, phoneNumber: null, businessName: null, source: 'group' },
        ],
        nextCursor: '',
      });
    });
  });

  describe('unicode and literal wildcards in q', () => {
    let t: Tenant;

    before(async () => {
      t = await newTenant();
      await seedContacts(
        t.sessionId,
        [
          'Zoë Quinn',
          '李小龙',
          'Fox 🦊 Mulder',
          'Panda 🐼',
          'ÉLODIE',
          '100% real',
          '1000 real',
          'a_b',
          'axb',
          'pipe|x',
          'pipex',
          'back\\slash',
          'backslash',
          "O'Brien",
        ].map((name) => ({ name, dm: true })),
      );
    });

    it('returns unicode names exactly as stored', async () => {
      const names = await listNames(t, {});
      for (const name of ['Zoë Quinn', '李小龙', 'Fox 🦊 Mulder', 'Panda 🐼', 'ÉLODIE'])
        assert.ok(names.includes(name), `${name} missing from ${names.join(', ')}`);
    });

    it('matches accented names case-insensitively', async () => {
      assert.deepEqual(await listNames(t, { q: 'zoë' }), ['Zoë Quinn']);
      assert.deepEqual(await listNames(t, { q: 'ZOË' }), ['Zoë Quinn']);
      assert.deepEqual(await listNames(t, { q: 'élodie' }), ['ÉLODIE']);
    });

    it('matches CJK substrings', async () => {
      assert.deepEqual(await listNames(t, { q: '小龙' }), ['李小龙']);
      assert.deepEqual(await listNames(t, { q: '李' }), ['李小龙']);
    });

    it('matches an emoji without matching other emoji', async () => {
      assert.deepEqual(await listNames(t, { q: '🦊' }), ['Fox 🦊 Mulder']);
      assert.deepEqual(await listNames(t, { q: '🐼' }), ['Panda 🐼']);
    });

    it('matches % literally', async () => {
      assert.deepEqual(await listNames(t, { q: '%' }), ['100% real']);
      assert.deepEqual(await listNames(t, { q: '0% r' }), ['100% real']);
    });

    it('matches _ literally', async () => {
      assert.deepEqual(await listNames(t, { q: '_' }), ['a_b']);
      assert.deepEqual(await listNames(t, { q: 'a_b' }), ['a_b']);
    });

    it('matches the characters used for escaping literally', async () => {
      assert.deepEqual(await listNames(t, { q: '|' }), ['pipe|x']);
      assert.deepEqual(await listNames(t, { q: '\\' }), ['back\\slash']);
      assert.deepEqual(await listNames(t, { q: "'" }), ["O'Brien"]);
    });
  });

  describe('q over the name trigram index', () => {
    let t: Tenant;
    let names: string[];
    // Characters the collation folds in every way it can: case, accents, ligatures (ß, æ, ﬁ),
    // look-alikes (ø, ł, fullwidth), ignorables (zero-width space, combining accent), wildcards.
    const ALPHABET = [
      'a',
      'r',
      'i',
      'n',
      's',
      'e',
      'A',
      'R',
      'É',
      'é',
      'è',
      'ß',
      'ss',
      'æ',
      'ae',
      'ﬁ',
      'fi',
      'ø',
      'o',
      'ł',
      'l',
      'Ａ',
      '\u200b',
      '\u0301',
      ' ',
      '%',
      '_',
      '李',
    ];
    const rand = seededRandom(20261130);
    const pick = <T>(items: readonly T[]) => items[Math.floor(rand() * items.length)]!;
    const randomText = (min: number, max: number) =>
      Array.from({ length: min + Math.floor(rand() * (max - min + 1)) }, () => pick(ALPHABET)).join('');

    before(async () => {
      t = await newTenant();
      names = Array.from({ length: 160 }, (_, i) =>
        i % 6 === 0 ? `Ma${randomText(0, 2)}rian${randomText(0, 3)}` : randomText(4, 12),
      );
      await seedContacts(
        t.sessionId,
        names.map((name) => ({ name, dm: true })),
      );
    });

    /** What a plain LIKE over every stored name of the session finds: the meaning of q. */
    async function scanned(term: string): Promise<string[]> {
      const rows = (await testEnv.db.query(
        `SELECT name FROM contacts WHERE session_id = ? AND name LIKE ? ESCAPE '|'`,
        [t.sessionId, likeContains(term)],
      )) as { name: string }[];
      return rows.map((r) => r.name).sort();
    }

    it('finds exactly what a LIKE scan of every name finds, for terms folded every way the collation folds', async () => {
      const terms = [
        ...Array.from({ length: 40 }, () => {
          const name = pick(names);
          const chars = [...name];
          const start = Math.floor(rand() * Math.max(1, chars.length - 3));
          return chars.slice(start, start + 3 + Math.floor(rand() * 4)).join('');
        }),
        ...Array.from({ length: 20 }, () => randomText(3, 6)),
        'ARI',
        'strasse',
        'STRAßE',
        'aes',
        'æs',
        'fin',
        'ﬁn',
        'øl',
        'ol',
        'ａｒｉ',
        'e\u0301r',
      ];
      let withMatches = 0;
      for (const term of terms) {
        const expected = await scanned(term);
        if (expected.length > 0) withMatches++;
        assert.deepEqual(await listNames(t, { q: term }), expected, `q=${JSON.stringify(term)}`);
      }
      assert.ok(withMatches >= 30, `only ${withMatches} of ${terms.length} terms matched anything`);
    });

    it('pages through the matches of a search exactly once, in id order', async () => {
      const rows = (await testEnv.db.query(
        `SELECT lid FROM contacts WHERE session_id = ? AND name LIKE ? ESCAPE '|' ORDER BY id`,
        [t.sessionId, likeContains('rian')],
      )) as { lid: string }[];
      const { lids, pageSizes } = await walk(t, { q: 'rian', limit: '4' });
      assert.deepEqual(
        lids,
        rows.map((r) => r.lid),
      );
      assert.ok(pageSizes.length >= 6, `${rows.length} matches in ${pageSizes.length} pages`);
    });
  });

  describe('limit', () => {
    let t: Tenant;

    before(async () => {
      t = await newTenant();
      await seedContacts(t.sessionId, dmContacts(205, 'Person'));
    });

    const pageSize = async (limit: string | undefined) => {
      const res = await get(listPath(t.sessionId, limit === undefined ? {} : { limit }), t.tokens.read);
      assert.equal(res.status, 200, res.text);
      assert.notEqual(res.body.nextCursor, '');
      return res.body.data.length as number;
    };

    it('defaults to 50 when absent', async () => assert.equal(await pageSize(undefined), 50));
    it('treats 0 as the default of 50', async () => assert.equal(await pageSize('0'), 50));
    it('clamps a negative limit to 1', async () => assert.equal(await pageSize('-5'), 1));
    it('clamps a limit above 200 to 200', async () => {
      assert.equal(await pageSize('1000'), 200);
      assert.equal(await pageSize('99999999999999999999'), 200);
    });
    it('accepts the bounds 1 and 200 and values between', async () => {
      assert.equal(await pageSize('1'), 1);
      assert.equal(await pageSize('200'), 200);
      assert.equal(await pageSize('73'), 73);
    });

    for (const bad of ['abc', '2.5', '10abc', '']) {
      it(`rejects limit=${JSON.stringify(bad)} with 400 validation_error naming limit`, async () => {
        const res = await get(`${listPath(t.sessionId)}?limit=${encodeURIComponent(bad)}`, t.tokens.read);
        const details = assertError(res, 400, 'validation_error');
        assert.deepEqual(Object.keys(details), ['limit']);
      });
    }
  });

  describe('pagination', () => {
    it('visits every contact exactly once, in a stable order, for several page sizes', async () => {
      const t = await newTenant();
      const seeds = dmContacts(37, 'Walker');
      seeds[5]!.dm = false;
      seeds[5]!.groups = [{ jid: G1 }];
      await seedContacts(t.sessionId, seeds);
      const all = await get(listPath(t.sessionId, { limit: '200' }), t.tokens.read);
      const expected = (all.body.data as ContactItem[]).map((c) => c.lid);
      assert.equal(expected.length, 37);
      for (const limit of [1, 2, 7, 10, 36, 37, 38, 50]) {
        const { lids, pageSizes } = await walk(t, { limit: String(limit) });
        assert.deepEqual(lids, expected, `limit ${limit}`);
        assert.equal(pageSizes.length, Math.ceil(37 / limit), `limit ${limit}: no empty trailing page`);
        assert.ok(
          pageSizes.slice(0, -1).every((n) => n === limit),
          `limit ${limit}: full pages before the last`,
        );
      }
    });

    it('visits every match exactly once when filtered by group, source and q', async () => {
      const t = await newTenant();
      const seeds: ContactSeed[] = Array.from({ length: 30 }, (_, i) => ({
        name: i % 2 === 0 ? `Even ${i}` : `Odd ${i}`,
        dm: i % 3 === 0,
        groups: i % 5 === 0 ? [] : [{ jid: i % 2 === 0 ? G1 : G2 }],
      }));
      await seedContacts(t.sessionId, seeds);
      const queries: Record<string, string>[] = [
        { group: G1 },
        { source: 'dm' },
        { source: 'group' },
        { q: 'odd' },
        { group: G2, q: '1' },
        { source: 'dm', q: 'even' },
      ];
      for (const query of queries) {
        const all = await get(listPath(t.sessionId, { ...query, limit: '200' }), t.tokens.read);
        const expected = (all.body.data as ContactItem[]).map((c) => c.lid);
        assert.ok(expected.length >= 3, `${JSON.stringify(query)} matches too little to page`);
        for (const limit of ['1', '2', '4']) {
          const { lids } = await walk(t, { ...query, limit });
          assert.deepEqual(lids, expected, `${JSON.stringify(query)} limit ${limit}`);
        }
      }
    });

    it('visits every contact exactly once while contacts are inserted between pages, and shows the new ones', async () => {
      const t = await newTenant();
      await seedContacts(t.sessionId, dmContacts(20, 'Original'));
      const originals = new Set(
        ((await get(listPath(t.sessionId, { limit: '200' }), t.tokens.read)).body.data as ContactItem[]).map(
          (c) => c.lid!,
        ),
      );
      const inserted: string[] = [];
      const { lids } = await walk(t, { limit: '6' }, async (page) => {
        const seeds = dmContacts(2, `Inserted p${page}`).map((s, i) => ({ ...s, phone: `4940${page}${i}00000` }));
        const ids = await seedContacts(t.sessionId, seeds);
        const rows = (await testEnv.db.query(`SELECT lid FROM contacts WHERE id IN (?, ?)`, ids)) as { lid: string }[];
        inserted.push(...rows.map((r) => r.lid));
      });
      assert.equal(new Set(lids).size, lids.length, 'a contact was returned twice');
      for (const lid of originals) assert.ok(lids.includes(lid), `original ${lid} was skipped`);
      for (const lid of inserted) assert.ok(lids.includes(lid), `inserted ${lid} was never shown`);
      assert.equal(lids.length, originals.size + inserted.length);
    });

    it('visits every group member exactly once while members join between pages', async () => {
      const t = await newTenant();
      await seedContacts(
        t.sessionId,
        Array.from({ length: 12 }, (_, i) => ({ name: `Member ${i}`, groups: [{ jid: G1 }] })),
      );
      const before = (
        (await get(listPath(t.sessionId, { group: G1, limit: '200' }), t.tokens.read)).body.data as ContactItem[]
      ).map((c) => c.lid!);
      const { lids } = await walk(t, { group: G1, limit: '5' }, async (page) => {
        await seedContacts(t.sessionId, [
          { name: `Joiner ${page}`, groups: [{ jid: G1 }] },
          { name: `Outsider ${page}`, dm: true },
        ]);
      });
      assert.equal(new Set(lids).size, lids.length, 'a member was returned twice');
      for (const lid of before) assert.ok(lids.includes(lid), `member ${lid} was skipped`);
      assert.equal(lids.length, before.length + 2, 'both joiners are shown, no outsider');
    });

    it('continues correctly when the last contact of a page is deleted before the next page', async () => {
      const t = await newTenant();
      await seedContacts(t.sessionId, dmContacts(9, 'Doomed'));
      const expected = (
        (await get(listPath(t.sessionId, { limit: '200' }), t.tokens.read)).body.data as ContactItem[]
      ).map((c) => c.lid!);
      const first = await get(listPath(t.sessionId, { limit: '3' }), t.tokens.read);
      const lastOfPage = first.body.data[2].lid as string;
      await testEnv.db.query('DELETE FROM contacts WHERE session_id = ? AND lid = ?', [t.sessionId, lastOfPage]);
      const second = await get(listPath(t.sessionId, { limit: '3', cursor: first.body.nextCursor }), t.tokens.read);
      assert.equal(second.status, 200);
      assert.deepEqual(
        (second.body.data as ContactItem[]).map((c) => c.lid),
        expected.slice(3, 6),
      );
    });

    it('returns an empty nextCursor on the last page and a non-empty one before it', async () => {
      const t = await newTenant();
      await seedContacts(t.sessionId, dmContacts(3, 'Few'));
      const first = await get(listPath(t.sessionId, { limit: '2' }), t.tokens.read);
      assert.equal(typeof first.body.nextCursor, 'string');
      assert.notEqual(first.body.nextCursor, '');
      const last = await get(listPath(t.sessionId, { limit: '2', cursor: first.body.nextCursor }), t.tokens.read);
      assert.equal(last.body.data.length, 1);
      assert.equal(last.body.nextCursor, '');
    });

    it('returns an empty page with an empty nextCursor for a session without contacts', async () => {
      const t = await newTenant();
      const res = await get(listPath(t.sessionId), t.tokens.read);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { data: [], nextCursor: '' });
    });

    it('accepts a different limit on the next page', async () => {
      const t = await newTenant();
      await seedContacts(t.sessionId, dmContacts(10, 'Resize'));
      const first = await get(listPath(t.sessionId, { limit: '3' }), t.tokens.read);
      const second = await get(listPath(t.sessionId, { limit: '5', cursor: first.body.nextCursor }), t.tokens.read);
      assert.equal(second.status, 200);
      assert.equal(second.body.data.length, 5);
      assert.deepEqual(
        (second.body.data as ContactItem[]).map((c) => c.name),
        ['Resize 003', 'Resize 004', 'Resize 005', 'Resize 006', 'Resize 007'],
      );
    });
  });

  describe('cursor validation', () => {
    let t: Tenant;
    let cursor: string;

    before(async () => {
      t = await newTenant();
      await seedContacts(
        t.sessionId,
        dmContacts(6, 'Cursor').map((s) => ({ ...s, groups: [{ jid: G1 }] })),
      );
      cursor = (await get(listPath(t.sessionId, { limit: '2' }), t.tokens.read)).body.nextCursor;
      assert.notEqual(cursor, '');
    });

    const expectCursorRejected = async (query: Record<string, string>) => {
      const res = await get(listPath(t.sessionId, { limit: '2', ...query }), t.tokens.read);
      const details = assertError(res, 400, 'validation_error');
      assert.deepEqual(Object.keys(details), ['cursor']);
    };

    it('accepts its own cursor', async () => {
      const res = await get(listPath(t.sessionId, { limit: '2', cursor }), t.tokens.read);
      assert.equal(res.status, 200);
      assert.equal(res.body.data.length, 2);
    });

    it('rejects a cursor with one character of its signature changed', async () => {
      const last = cursor.at(-1)!;
      await expectCursorRejected({ cursor: cursor.slice(0, -1) + (last === 'A' ? 'B' : 'A') });
    });

    it('rejects a cursor whose position was edited', async () => {
      const [, signature] = cursor.split('.');
      await expectCursorRejected({ cursor: `${Buffer.from('1').toString('base64url')}.${signature}` });
    });

    it('rejects a cursor that is not one at all', async () => {
      await expectCursorRejected({ cursor: 'abc' });
      await expectCursorRejected({ cursor: '...' });
      await expectCursorRejected({ cursor: `${cursor}.extra` });
      await expectCursorRejected({ cursor: 'x'.repeat(500) });
    });

    it('rejects a cursor reused with different filters', async () => {
      await expectCursorRejected({ cursor, source: 'dm' });
      await expectCursorRejected({ cursor, group: G1 });
      await expectCursorRejected({ cursor, q: 'cursor' });
    });

    it("rejects a cursor from another session's listing", async () => {
      const other = await newSession(t.organizationId);
      await seedContacts(other, dmContacts(3, 'Other'));
      const res = await get(listPath(other, { limit: '2', cursor }), t.tokens.read);
      const details = assertError(res, 400, 'validation_error');
      assert.deepEqual(Object.keys(details), ['cursor']);
    });
  });

  describe('malformed parameters', () => {
    let t: Tenant;
    before(async () => {
      t = await newTenant();
    });

    const cases: [string, string, string[]][] = [
      ['source outside dm|group', 'source=both', ['source']],
      ['source in the wrong case', 'source=DM', ['source']],
      ['source given twice', 'source=dm&source=group', ['source']],
      ['group that is not a group JID', 'group=hello', ['group']],
      ['group that is a user JID', `group=${encodeURIComponent('6281234567890@s.whatsapp.net')}`, ['group']],
      ['q longer than 100 characters', `q=${'a'.repeat(101)}`, ['q']],
      ['several malformed parameters', 'source=x&group=y&limit=z', ['group', 'limit', 'source']],
    ];
    for (const [what, qs, named] of cases) {
      it(`rejects ${what} with 400 validation_error naming ${named.join(', ')}`, async () => {
        const res = await get(`${listPath(t.sessionId)}?${qs}`, t.tokens.read);
        const details = assertError(res, 400, 'validation_error');
        assert.deepEqual(Object.keys(details).sort(), named);
        for (const name of named) assert.match(res.body.error.message, new RegExp(name));
      });
    }

    it('answers 404 not_found for a session id no session can have (non-ASCII, too long, punctuation)', async () => {
      for (const session of ['李', 'sess_🦊', `sess_${'a'.repeat(70)}`, 'sess.x']) {
        const res = await get(listPath(encodeURIComponent(session)), t.tokens.read);
        assertError(res, 404, 'not_found');
        assert.equal(res.body.error.message, 'session not found');
      }
    });

    it('ignores unknown query parameters', async () => {
      const res = await get(`${listPath(t.sessionId)}?unknown=1`, t.tokens.read);
      assert.equal(res.status, 200);
    });
  });

  describe('access', () => {
    it("returns 404 for another organization's session, identical to a missing session", async () => {
      const owner = await newTenant();
      const stranger = await newTenant();
      await seedContacts(owner.sessionId, [{ name: 'Secret', dm: true }]);
      const foreign = await get(listPath(owner.sessionId), stranger.tokens.read);
      const missing = await get(listPath('sess_doesnotexist'), stranger.tokens.read);
      assertError(foreign, 404, 'not_found');
      assertError(missing, 404, 'not_found');
      assert.equal(foreign.text, missing.text);
      assert.deepEqual(foreign.body, { error: { code: 'not_found', message: 'session not found', details: {} } });
    });

    it("returns 404 for another organization's session even with filters and a cursor", async () => {
      const owner = await newTenant();
      const stranger = await newTenant();
      await seedContacts(owner.sessionId, dmContacts(3, 'Hidden'));
      const cursor = (await get(listPath(owner.sessionId, { limit: '1' }), owner.tokens.read)).body.nextCursor;
      const res = await get(listPath(owner.sessionId, { limit: '1', cursor, q: 'hidden' }), stranger.tokens.read);
      assertError(res, 404, 'not_found');
    });

    it('serves a login JWT of the owning organization', async () => {
      const t = await newTenant();
      await seedContacts(t.sessionId, [{ name: 'Via JWT', dm: true }]);
      const token = testEnv.jwks.sign({ org: t.organizationId, role: 'viewer' });
      const res = await get(listPath(t.sessionId), token);
      assert.equal(res.status, 200);
      assert.deepEqual(
        (res.body.data as ContactItem[]).map((c) => c.name),
        ['Via JWT'],
      );
    });

    it('requires authentication', async () => {
      const t = await newTenant();
      assertUnauthorized(await get(listPath(t.sessionId)));
    });

    it('requires the read capability', async () => {
      const t = await newTenant();
      const res = await get(listPath(t.sessionId), t.tokens.send);
      assertError(res, 403, 'forbidden');
    });
  });
});
