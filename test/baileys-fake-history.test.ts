import assert from 'node:assert/strict';
import { FakeGateway, fakeUser, type FakeTenant } from './support/fake-gateway.js';
import { waitFor } from './support/processes.js';
import type { FakeGroup } from './fake-whatsapp/world.js';

/**
 * History sync and groups as the real server sends them, through the real Baileys socket and the
 * worker's ingestion, read back from the stored contacts API.
 */
describe('baileys driver against the fake WhatsApp server: history sync and groups', function () {
  this.timeout(120_000);
  const gw = new FakeGateway();
  const me = fakeUser({ pushName: 'Me' });
  const bea = fakeUser({ pushName: 'Bea' });
  const dan = fakeUser({ pushName: 'Dan', businessName: 'Dan GmbH' });
  const eve = fakeUser({ pushName: 'Eve' });
  const fred = fakeUser({ pushName: 'Fred' });
  const stranger = fakeUser({ pushName: 'Not in any chat' });
  let climbers: FakeGroup;
  let t: FakeTenant;
  let sessionId: string;
  const contacts = (rest = '') => `/api/v1/sessions/${sessionId}/contacts${rest}`;

  before(async () => {
    await gw.start();
    for (const user of [bea, dan, eve, fred, stranger]) gw.fake.world.addUser(user);
    gw.fake.world.addUser(me);
    climbers = gw.fake.world.addGroup({
      jid: `120363${Date.now()}@g.us`,
      subject: 'Climbers',
      creator: me.phone,
      members: [
        { phone: me.phone, role: 'superadmin', label: 'Boss' },
        { phone: bea.phone, role: 'admin', label: 'B' },
        // Seen in the group by LID only: the phone number comes from the history's mappings.
        { phone: eve.phone, label: 'Eve on the wall', phoneHidden: true },
        { phone: fred.phone },
      ],
    });
    const phone = gw.phone(me, {
      history: {
        chats: [
          { user: bea, savedName: 'Bea Saved' },
          { user: dan, byPhone: true },
        ],
        groups: [climbers],
        mappings: [bea, dan, eve, fred],
        pushNames: [bea, dan, eve, fred],
      },
    });
    // gw.phone registered `me` again: same object, harmless.
    t = await gw.tenant();
    const worker = gw.startWorker();
    await gw.waitForShards(worker.workerId);
    ({ sessionId } = await gw.pairedSession(t, phone));
  });

  after(async () => {
    await gw.stop();
  });

  async function storedPeople(count: number): Promise<Record<string, any>[]> {
    return waitFor(
      async () => {
        const res = await gw.call('GET', contacts('?limit=100'), t.tokens.read);
        const data = res.body?.data as Record<string, any>[] | undefined;
        return data && data.length >= count ? data : undefined;
      },
      `${count} stored contacts`,
      30_000,
    );
  }

  it('stores each person of the history sync once, under their LID, with phone, saved name, push name and business name', async () => {
    await storedPeople(4);
    // Late pieces (push names, the group fetch) may still be on their way: wait until the rows settle.
    const people = await waitFor(
      async () => {
        const rows = (await gw.call('GET', contacts('?limit=100'), t.tokens.read)).body.data as Record<string, any>[];
        return rows.every((p) => p['name'] !== null) ? rows : undefined;
      },
      'every stored contact to have a name',
      30_000,
    );
    const byLid = new Map(people.map((p) => [p['lid'], p]));
    assert.equal(people.length, 4, JSON.stringify(people));
    assert.deepEqual(byLid.get(bea.lid), {
      lid: bea.lid,
      name: 'Bea Saved',
      phoneNumber: bea.phone,
      businessName: null,
      source: 'dm',
    });
    assert.deepEqual(byLid.get(dan.lid), {
      lid: dan.lid,
      name: 'Dan',
      phoneNumber: dan.phone,
      businessName: 'Dan GmbH',
      source: 'dm',
    });
    assert.deepEqual(byLid.get(fred.lid), {
      lid: fred.lid,
      name: 'Fred',
      phoneNumber: fred.phone,
      businessName: null,
      source: 'group',
    });
    assert.ok(!byLid.has(me.lid), "the session's own account is not a contact");
    assert.ok(!byLid.has(stranger.lid), 'nobody the account never met');
  });

  it('gives a person first seen by LID in a group their phone number from the mappings', async () => {
    const eveRow = await waitFor(
      async () => {
        const res = await gw.call('GET', contacts(`/${eve.lid}`), t.tokens.read);
        return res.status === 200 && res.body.identity.phoneNumber !== null ? res.body : undefined;
      },
      "Eve's phone number",
      30_000,
    ).catch(async () => (await gw.call('GET', contacts(`/${eve.lid}`), t.tokens.read)).body);
    assert.equal(eveRow.identity.lid, eve.lid);
    assert.equal(eveRow.identity.phoneNumber, eve.phone, `stored: ${JSON.stringify(eveRow)}`);
    assert.equal(eveRow.identity.phoneJid, `${eve.phone}@s.whatsapp.net`);
    assert.equal(eveRow.identity.name, 'Eve');
    const rows = (await gw.env.db.query(
      'SELECT COUNT(*) AS n FROM contacts WHERE session_id = ? AND (lid = ? OR phone_jid = ?)',
      [sessionId, eve.lid, `${eve.phone}@s.whatsapp.net`],
    )) as { n: number | string }[];
    assert.equal(Number(rows[0]!.n), 1, 'one row for Eve, not one by phone and one by LID');
  });

  it('stores the groups with LID-addressed members, their roles and member tags; the group filter and get-one show them', async () => {
    const members = await waitFor(
      async () => {
        const res = await gw.call(
          'GET',
          contacts(`?group=${encodeURIComponent(climbers.jid)}&limit=100`),
          t.tokens.read,
        );
        return res.body?.data?.length === 3 ? (res.body.data as Record<string, any>[]) : undefined;
      },
      'the three other members of the group',
      30_000,
    );
    assert.deepEqual(members.map((m) => m['lid']).sort(), [bea.lid, eve.lid, fred.lid].sort());
    assert.ok(members.every((m) => m['source'] === 'group'));
    const groupOf = async (lid: string) => {
      const res = await gw.call('GET', contacts(`/${lid}`), t.tokens.read);
      assert.equal(res.status, 200, res.text);
      const groups = res.body.groups as Record<string, any>[];
      assert.equal(groups.length, 1);
      return groups[0]!;
    };
    const beaIn = await groupOf(bea.lid);
    assert.equal(beaIn['jid'], climbers.jid);
    assert.equal(beaIn['name'], 'Climbers');
    assert.equal(beaIn['role'], 'admin');
    assert.equal(beaIn['tag'], 'B');
    const eveIn = await groupOf(eve.lid);
    assert.deepEqual([eveIn['role'], eveIn['tag']], ['member', 'Eve on the wall']);
    const fredIn = await groupOf(fred.lid);
    assert.deepEqual([fredIn['role'], fredIn['tag']], ['member', null]);
    assert.ok(gw.fake.count('groups') >= 1, 'the worker fetched the groups it participates in');
  });

  it('after the history sync the app state was synced from the fake (empty), with nothing left unanswered', () => {
    assert.ok(gw.fake.count('app-state') >= 1);
    assert.deepEqual(gw.fake.unhandled, []);
    assert.deepEqual(gw.fake.errors, []);
  });
});
