import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BaileysEventMap, GroupMetadata } from '@whiskeysockets/baileys';
import { AppError, type ErrorCode } from '../shared/errors.js';
import type { ConnectionUpdate, WhatsAppEventMap, WhatsAppEventName } from '../worker/driver/driver.js';
import {
  generateSimWorld,
  loadSimWorld,
  parseSimWorld,
  SimDriver,
  simControl,
  SimWorldError,
  type SimConnection,
  type SimWorldInput,
} from '../worker/driver/sim/index.js';
import { testEnv } from './support/hooks.js';
import { REPO_ROOT } from './support/processes.js';

type Status = ConnectionUpdate['status'];
type HistorySet = BaileysEventMap['messaging-history.set'];
type MemberTag = BaileysEventMap['group.member-tag.update'];

const ME = { phone: '4915100000001', lid: '100000000000001@lid', jid: '4915100000001@s.whatsapp.net' };
const BEA = { phone: '4915100000002', lid: '100000000000002@lid', jid: '4915100000002@s.whatsapp.net' };
const CAL = { phone: '4915100000003', lid: '100000000000003@lid', jid: '4915100000003@s.whatsapp.net' };
const DAN = { phone: '4915100000004', lid: '100000000000004@lid', jid: '4915100000004@s.whatsapp.net' };
const EVE = { phone: '4915100000005', lid: '100000000000005@lid', jid: '4915100000005@s.whatsapp.net' };
const OLGA = { phone: '4915100000006', lid: '100000000000006@lid', jid: '4915100000006@s.whatsapp.net' };
const NOBODY = { phone: '4915199999999', jid: '4915199999999@s.whatsapp.net', lid: '199999999999999@lid' };

function worldInput(overrides: Partial<SimWorldInput> = {}): SimWorldInput {
  return {
    pairing: { qrIntervalMs: 20 },
    reconnectDelayMs: 10,
    accounts: [
      { phone: ME.phone, lid: ME.lid, name: 'Me Myself', about: 'mine' },
      {
        phone: BEA.phone,
        lid: BEA.lid,
        name: 'Bea',
        about: 'Climbing 🧗',
        aboutSetAt: 1719662400000,
        picture: {
          url: 'https://pps.sim.invalid/bea.jpg',
          id: '111',
          previewUrl: 'https://pps.sim.invalid/bea-preview.jpg',
        },
      },
      {
        phone: CAL.phone,
        lid: CAL.lid,
        name: 'Cal',
        about: 'secret',
        aboutHidden: true,
        picture: { url: 'https://pps.sim.invalid/cal.jpg', id: '222' },
        pictureHidden: true,
      },
      { phone: DAN.phone, lid: DAN.lid, name: 'Dan', about: null, picture: null, businessName: 'Dan GmbH' },
      { phone: EVE.phone, lid: EVE.lid, name: 'Eve' },
      { phone: OLGA.phone, lid: OLGA.lid, name: 'Olga' },
    ],
    groups: [
      {
        jid: '120363000000000001@g.us',
        subject: 'Climbers',
        creation: 1700000000,
        members: [
          { phone: ME.phone, role: 'superadmin', nickname: 'Boss' },
          { phone: BEA.phone, role: 'admin', nickname: 'B' },
          { lid: EVE.lid, role: 'member' },
        ],
      },
      {
        jid: '4915100000006-1700000000@g.us',
        subject: 'Olga only',
        members: [{ phone: OLGA.phone, role: 'superadmin' }, { phone: BEA.phone }],
      },
      {
        jid: '120363000000000003@g.us',
        subject: 'Pics',
        picture: { url: 'https://pps.sim.invalid/pics.jpg', id: '333' },
        members: [{ phone: DAN.phone, role: 'admin' }, { phone: ME.phone }],
      },
    ],
    sessions: {
      sess_me: {
        phone: ME.phone,
        paired: true,
        contacts: [BEA.phone, { phone: CAL.phone, name: 'Cal from work' }],
        chats: [BEA.phone, DAN.lid],
      },
      sess_olga: { phone: OLGA.phone, paired: false },
    },
    ...overrides,
  };
}

const freshPrefix = () => `${testEnv.redisPrefix}:simt${randomBytes(4).toString('hex')}`;

const drivers: SimDriver[] = [];
function newDriver(world: SimWorldInput = worldInput(), prefix = freshPrefix()): SimDriver {
  const driver = new SimDriver({
    world: parseSimWorld(world),
    redis: testEnv.redis,
    subscriber: () => testEnv.subscriber(),
    prefix,
  });
  drivers.push(driver);
  return driver;
}

afterEach(async () => {
  await Promise.all(drivers.splice(0).map((d) => d.dispose()));
});

/** Resolves with the connection's next update of that status, or at once when it is already there. */
function reach(connection: SimConnection, status: Status): Promise<ConnectionUpdate> {
  if (connection.status === status) return Promise.resolve({ status });
  return nextUpdate(connection, status);
}

function nextUpdate(connection: SimConnection, status: Status): Promise<ConnectionUpdate> {
  return new Promise((resolve) => {
    const listener = (update: ConnectionUpdate) => {
      if (update.status !== status) return;
      connection.events.off('connection', listener);
      resolve(update);
    };
    connection.events.on('connection', listener);
  });
}

function nextEvent<K extends WhatsAppEventName>(connection: SimConnection, event: K): Promise<WhatsAppEventMap[K][0]> {
  return new Promise((resolve) =>
    connection.events.once(event, ((payload: WhatsAppEventMap[K][0]) => resolve(payload)) as never),
  );
}

function record(connection: SimConnection): ConnectionUpdate[] {
  const updates: ConnectionUpdate[] = [];
  connection.events.on('connection', (update: ConnectionUpdate) => updates.push(update));
  return updates;
}

async function online(driver: SimDriver, sessionId = 'sess_me'): Promise<SimConnection> {
  const connection = await driver.connect(sessionId);
  await reach(connection, 'online');
  return connection;
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return true;
  });
}

function problemsOf(value: unknown): string[] {
  try {
    parseSimWorld(value);
  } catch (err) {
    assert.ok(err instanceof SimWorldError);
    return err.problems;
  }
  assert.fail('the world was accepted');
}

describe('sim world file', () => {
  it('accepts the demo world in examples/sim-world.json', async () => {
    const world = await loadSimWorld(path.join(REPO_ROOT, 'examples/sim-world.json'));
    assert.ok(Object.keys(world.sessions).length >= 2);
    assert.equal(world.groups.length, 3);
    assert.ok(world.accounts.length >= 20);
  });

  it('accepts the example printed in docs/sim-world.md', async () => {
    const doc = await readFile(path.join(REPO_ROOT, 'docs/sim-world.md'), 'utf8');
    const example = /## Example[\s\S]*?```json\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(example, 'no JSON example in the doc');
    parseSimWorld(JSON.parse(example));
  });

  it('fills in the documented defaults', () => {
    const world = parseSimWorld({
      accounts: [{ phone: ME.phone, lid: ME.lid, name: 'Me' }],
      sessions: { s1: { phone: ME.phone } },
    });
    assert.equal(world.latencyMs, 0);
    assert.equal(world.failureRate, 0);
    assert.equal(world.failureCode, 'rate_limited');
    assert.deepEqual(world.pairing, { qrIntervalMs: 20_000, autoPairAfterMs: null });
    assert.deepEqual(world.accounts[0], {
      phone: ME.phone,
      lid: ME.lid,
      name: 'Me',
      about: null,
      aboutHidden: false,
      picture: null,
      pictureHidden: false,
    });
    assert.deepEqual(world.sessions['s1'], { phone: ME.phone, paired: true, contacts: [], chats: [] });
  });

  it('lists every malformed field with its path', () => {
    const problems = problemsOf({
      latencyMs: { min: 50, max: 10 },
      failureRate: 1.5,
      failureCode: 'boom',
      accounts: [{ phone: '+4915100000001', lid: '123', name: 'X', picture: { url: 'not a url', id: null } }],
      groups: [{ jid: 'family@g.us', subject: 'F', members: [{ role: 'member' }] }],
    });
    const has = (where: string) =>
      assert.ok(
        problems.some((p) => p.startsWith(`${where}:`)),
        `no problem reported at ${where}: ${problems.join(' | ')}`,
      );
    has('latencyMs');
    has('failureRate');
    has('failureCode');
    has('accounts.0.phone');
    has('accounts.0.lid');
    has('accounts.0.picture.url');
    has('groups.0.jid');
    has('groups.0.members.0');
  });

  it('rejects references to people who are not accounts, and duplicates', () => {
    const problems = problemsOf({
      accounts: [
        { phone: ME.phone, lid: ME.lid, name: 'Me' },
        { phone: ME.phone, lid: ME.lid, name: 'Me again' },
        { phone: BEA.phone, lid: BEA.lid, name: 'Bea' },
      ],
      groups: [
        {
          jid: '120363000000000001@g.us',
          subject: 'A',
          members: [{ phone: ME.phone }, { lid: ME.lid }, { phone: NOBODY.phone }],
        },
        { jid: '120363000000000001@g.us', subject: 'B', members: [{ phone: BEA.phone }] },
      ],
      sessions: { s1: { phone: NOBODY.phone, contacts: [NOBODY.phone], chats: [NOBODY.lid] } },
    });
    assert.deepEqual(problems.sort(), [
      `accounts.1.lid: duplicate account lid ${ME.lid}`,
      `accounts.1.phone: duplicate account phone ${ME.phone}`,
      `groups.0.members.1: ${ME.lid} is listed twice in 120363000000000001@g.us`,
      `groups.0.members.2: ${NOBODY.phone} is not one of the accounts`,
      'groups.1.jid: duplicate group 120363000000000001@g.us',
      `sessions.s1.chats.0: ${NOBODY.lid} is not one of the accounts`,
      `sessions.s1.contacts.0: ${NOBODY.phone} is not one of the accounts`,
      `sessions.s1.phone: ${NOBODY.phone} is not one of the accounts`,
    ]);
  });

  it('rejects unknown keys, so a misspelt option is not silently ignored', () => {
    const problems = problemsOf({
      latency: 5,
      sessions: {},
      accounts: [{ phone: ME.phone, lid: ME.lid, name: 'Me', abuot: 'typo' }],
    });
    assert.ok(
      problems.some((p) => p.startsWith('(root):') && p.includes('latency')),
      problems.join(' | '),
    );
    assert.ok(
      problems.some((p) => p.startsWith('accounts.0:') && p.includes('abuot')),
      problems.join(' | '),
    );
  });

  it('names the file when it cannot be read or is not JSON', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sim-world-'));
    try {
      const broken = path.join(dir, 'broken.json');
      await writeFile(broken, '{ "accounts": [ }');
      await assert.rejects(
        loadSimWorld(broken),
        (err: unknown) =>
          err instanceof SimWorldError && err.message.includes(broken) && /not valid JSON/.test(err.message),
      );
      const missing = path.join(dir, 'missing.json');
      await assert.rejects(
        loadSimWorld(missing),
        (err: unknown) =>
          err instanceof SimWorldError && err.message.includes(missing) && /cannot read/.test(err.message),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('SimDriver: connecting a paired session', () => {
  it('goes connecting → online with its own phone JID and LID', async () => {
    const connection = await newDriver().connect('sess_me');
    const updates = record(connection);
    await reach(connection, 'online');
    assert.deepEqual(updates, [{ status: 'connecting' }, { status: 'online', phoneJid: ME.jid, lid: ME.lid }]);
    assert.equal(connection.sessionId, 'sess_me');
  });

  it('emits one history sync with its address book and direct chats in Baileys shapes', async () => {
    const connection = await newDriver().connect('sess_me');
    const history: HistorySet = await nextEvent(connection, 'messaging-history.set');
    assert.equal(connection.status, 'online');
    assert.deepEqual(history, {
      chats: [
        { id: BEA.jid, lidJid: BEA.lid, unreadCount: 0 },
        { id: DAN.lid, pnJid: DAN.jid, unreadCount: 0 },
      ],
      contacts: [
        { id: BEA.lid, phoneNumber: BEA.jid, name: 'Bea', notify: 'Bea' },
        { id: CAL.lid, phoneNumber: CAL.jid, name: 'Cal from work', notify: 'Cal' },
        { id: DAN.lid, phoneNumber: DAN.jid, notify: 'Dan', verifiedName: 'Dan GmbH' },
      ],
      messages: [],
      lidPnMappings: [
        { lid: BEA.lid, pn: BEA.jid },
        { lid: CAL.lid, pn: CAL.jid },
        { lid: DAN.lid, pn: DAN.jid },
      ],
      isLatest: true,
      syncType: 0,
      progress: 100,
    });
  });

  it('returns the groups its phone is in as groupFetchAllParticipating does, then their member tags', async () => {
    const connection = await online(newDriver());
    const tags: MemberTag[] = [];
    connection.events.on('group.member-tag.update', (tag: MemberTag) => tags.push(tag));
    const groups = (await connection.fetchAllGroups()) as Record<string, GroupMetadata>;
    assert.deepEqual(Object.keys(groups).sort(), ['120363000000000001@g.us', '120363000000000003@g.us']);
    assert.deepEqual(groups['120363000000000001@g.us'], {
      id: '120363000000000001@g.us',
      subject: 'Climbers',
      owner: ME.lid,
      ownerPn: ME.jid,
      creation: 1700000000,
      addressingMode: 'lid',
      size: 3,
      participants: [
        { id: ME.lid, phoneNumber: ME.jid, admin: 'superadmin' },
        { id: BEA.lid, phoneNumber: BEA.jid, admin: 'admin' },
        { id: EVE.lid, phoneNumber: EVE.jid, admin: null },
      ],
    });
    assert.equal(groups['120363000000000003@g.us']!.owner, undefined);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      tags.map(({ groupId, participant, participantAlt, label }) => ({ groupId, participant, participantAlt, label })),
      [
        { groupId: '120363000000000001@g.us', participant: ME.lid, participantAlt: ME.jid, label: 'Boss' },
        { groupId: '120363000000000001@g.us', participant: BEA.lid, participantAlt: BEA.jid, label: 'B' },
      ],
    );
    assert.ok(tags.every((t) => typeof t.messageTimestamp === 'number'));
  });
});

describe('SimDriver: pairing', () => {
  it('puts an unpaired session in pairing with a QR that WhatsApp-style rotates, and keeps it there', async () => {
    const connection = await newDriver().connect('sess_olga');
    const updates = record(connection);
    const first = await nextUpdate(connection, 'pairing');
    const second = await nextUpdate(connection, 'pairing');
    assert.match(first.qr ?? '', /^2@[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]+$/);
    assert.notEqual(second.qr, first.qr);
    assert.equal(connection.status, 'pairing');
    assert.ok(!updates.some((u) => u.status === 'online'));
    await rejectsWith(connection.onWhatsApp([BEA.phone]), 'not_implemented');
  });

  it('pairs on a "pair" control message, goes online, and stays paired for the next connection', async () => {
    const prefix = freshPrefix();
    const connection = await newDriver(worldInput(), prefix).connect('sess_olga');
    await reach(connection, 'pairing');
    const updates = record(connection);
    const isOnline = nextUpdate(connection, 'online');
    await simControl(testEnv.redis, prefix, { sessionId: 'sess_olga', action: 'pair' });
    assert.deepEqual(await isOnline, { status: 'online', phoneJid: OLGA.jid, lid: OLGA.lid });
    // QRs may still rotate until the message lands; from then on it is WhatsApp's restart, then online.
    const afterPairing = updates.slice(updates.findIndex((u) => u.status !== 'pairing'));
    assert.deepEqual(
      afterPairing.map((u) => u.status),
      ['connecting', 'online'],
    );
    await connection.close();

    const again = await newDriver(worldInput(), prefix).connect('sess_olga');
    const statuses = record(again);
    await reach(again, 'online');
    assert.ok(!statuses.some((u) => u.status === 'pairing'));
  });

  it('gives a stable 8-character pairing code, refuses bad phones, and conflicts once paired', async () => {
    const driver = newDriver();
    const pairing = await driver.connect('sess_olga');
    await reach(pairing, 'pairing');
    const asked = Date.now();
    const { code, expiresAt } = await pairing.requestPairingCode(OLGA.phone);
    assert.match(code, /^[A-Z0-9]{8}$/);
    assert.ok(expiresAt > asked, 'the code says when it stops working');
    assert.equal((await pairing.requestPairingCode(`+${OLGA.phone}`)).code, code);
    assert.notEqual((await pairing.requestPairingCode(BEA.phone)).code, code);
    await rejectsWith(pairing.requestPairingCode('12ab'), 'validation_error');
    const paired = await online(driver);
    await rejectsWith(paired.requestPairingCode(ME.phone), 'conflict');
  });

  it("pairs an unlisted session as the phone its pairing code was asked for, with that phone's world profile", async () => {
    const prefix = freshPrefix();
    const world = worldInput({ sessions: { sess_me_template: { phone: ME.phone, contacts: [DAN.phone] } } });
    const connection = await newDriver(world, prefix).connect('sess_unlisted');
    await reach(connection, 'pairing');
    await connection.requestPairingCode(ME.phone);
    const history = nextEvent(connection, 'messaging-history.set');
    const isOnline = nextUpdate(connection, 'online');
    await simControl(testEnv.redis, prefix, { sessionId: 'sess_unlisted', action: 'pair' });
    assert.deepEqual(await isOnline, { status: 'online', phoneJid: ME.jid, lid: ME.lid });
    assert.deepEqual(
      (await history).contacts.map((c) => c.id),
      [DAN.lid],
    );
    await connection.close();

    const resumed = await newDriver(world, prefix).connect('sess_unlisted');
    assert.deepEqual(await nextUpdate(resumed, 'online'), { status: 'online', phoneJid: ME.jid, lid: ME.lid });
  });

  it('gives an unlisted session paired without a phone a stable synthetic identity and an empty view', async () => {
    const prefix = freshPrefix();
    const connection = await newDriver(worldInput(), prefix).connect('sess_stranger');
    await reach(connection, 'pairing');
    const history = nextEvent(connection, 'messaging-history.set');
    const isOnline = nextUpdate(connection, 'online');
    await simControl(testEnv.redis, prefix, { sessionId: 'sess_stranger', action: 'pair' });
    const identity = await isOnline;
    assert.match(identity.phoneJid ?? '', /^99\d{10}@s\.whatsapp\.net$/);
    assert.match(identity.lid ?? '', /^\d{15}@lid$/);
    const synced = await history;
    assert.deepEqual([synced.contacts, synced.chats], [[], []]);
    assert.deepEqual(await connection.fetchAllGroups(), {});
    assert.deepEqual(await connection.onWhatsApp([BEA.phone]), [
      { phone: BEA.phone, exists: true, jid: BEA.jid, lid: BEA.lid },
    ]);
    await connection.close();

    const resumed = await newDriver(worldInput(), prefix).connect('sess_stranger');
    assert.deepEqual(await nextUpdate(resumed, 'online'), identity);
  });

  it('pairs by itself after pairing.autoPairAfterMs when the world says so', async () => {
    const connection = await newDriver(worldInput({ pairing: { qrIntervalMs: 1000, autoPairAfterMs: 5 } })).connect(
      'sess_olga',
    );
    const updates = record(connection);
    await nextUpdate(connection, 'online');
    assert.deepEqual(
      updates.map((u) => u.status),
      ['connecting', 'pairing', 'connecting', 'online'],
    );
  });
});

describe('SimDriver: control channel and connection loss', () => {
  it('logout() reports logged_out and unpairs the session', async () => {
    const prefix = freshPrefix();
    const connection = await online(newDriver(worldInput(), prefix));
    const loggedOut = nextUpdate(connection, 'logged_out');
    await connection.logout();
    assert.equal((await loggedOut).reason, 'logged_out');
    await rejectsWith(connection.fetchAbout(BEA.jid), 'not_implemented');
    await rejectsWith(connection.logout(), 'not_implemented');

    const next = await newDriver(worldInput(), prefix).connect('sess_me');
    await nextUpdate(next, 'pairing');
  });

  it('a "logout" control message reports logged_out and unpairs the session', async () => {
    const prefix = freshPrefix();
    const connection = await online(newDriver(worldInput(), prefix));
    const loggedOut = nextUpdate(connection, 'logged_out');
    await simControl(testEnv.redis, prefix, { sessionId: 'sess_me', action: 'logout' });
    await loggedOut;
    const next = await newDriver(worldInput(), prefix).connect('sess_me');
    await nextUpdate(next, 'pairing');
  });

  it('"disconnect" keeps the session down, across workers, until "reconnect"', async () => {
    const prefix = freshPrefix();
    const connection = await online(newDriver(worldInput(), prefix));
    const offline = nextUpdate(connection, 'offline');
    await simControl(testEnv.redis, prefix, { sessionId: 'sess_me', action: 'disconnect' });
    assert.deepEqual(await offline, { status: 'offline', reason: 'connection_lost' });
    await rejectsWith(connection.onWhatsApp([BEA.phone]), 'not_implemented');
    await connection.close();

    const elsewhere = await newDriver(worldInput(), prefix).connect('sess_me');
    const updates = record(elsewhere);
    assert.deepEqual(await nextUpdate(elsewhere, 'offline'), { status: 'offline', reason: 'connection_lost' });
    const back = nextUpdate(elsewhere, 'online');
    await simControl(testEnv.redis, prefix, { sessionId: 'sess_me', action: 'reconnect' });
    await back;
    assert.deepEqual(
      updates.map((u) => u.status),
      ['connecting', 'offline', 'connecting', 'online'],
    );
    assert.equal((await elsewhere.onWhatsApp([BEA.phone]))[0]?.exists, true);
  });

  it('drops a session after disconnectAfterMs and reconnects it by itself', async () => {
    const world = worldInput();
    world.sessions!['sess_me']!.disconnectAfterMs = 5;
    const connection = await newDriver(world).connect('sess_me');
    const updates = record(connection);
    const dropped = nextUpdate(connection, 'offline');
    await reach(connection, 'online');
    assert.equal((await dropped).reason, 'connection_lost');
    await nextUpdate(connection, 'online');
    await connection.close();
    assert.deepEqual(
      updates.slice(0, 5).map((u) => u.status),
      ['connecting', 'online', 'offline', 'connecting', 'online'],
    );
  });

  it('close() reports offline once, stops the connection, and ignores control messages afterwards', async () => {
    const prefix = freshPrefix();
    const connection = await online(newDriver(worldInput(), prefix));
    const updates = record(connection);
    await connection.close();
    await connection.close();
    assert.deepEqual(updates, [{ status: 'offline', reason: 'closed' }]);
    await rejectsWith(connection.fetchAbout(BEA.jid), 'not_implemented');
    await rejectsWith(connection.requestPairingCode(ME.phone), 'not_implemented');
    await simControl(testEnv.redis, prefix, { sessionId: 'sess_me', action: 'reconnect' });
    await simControl(testEnv.redis, prefix, { sessionId: 'sess_me', action: 'pair' });
    assert.equal(connection.status, 'offline');
  });

  it('connecting a session again in the same process replaces the earlier connection', async () => {
    const driver = newDriver();
    const first = await online(driver);
    const second = await online(driver);
    assert.equal(driver.connection('sess_me'), second);
    await rejectsWith(first.fetchAbout(BEA.jid), 'not_implemented');
    assert.deepEqual(await second.fetchAbout(BEA.jid), { about: 'Climbing 🧗', setAt: 1719662400000 });
  });
});

describe('SimDriver: live calls', () => {
  it('onWhatsApp answers per phone: accounts exist with their JID and LID, others do not', async () => {
    const connection = await online(newDriver());
    assert.deepEqual(await connection.onWhatsApp([BEA.phone, `+${DAN.phone}`, NOBODY.phone]), [
      { phone: BEA.phone, exists: true, jid: BEA.jid, lid: BEA.lid },
      { phone: DAN.phone, exists: true, jid: DAN.jid, lid: DAN.lid },
      { phone: NOBODY.phone, exists: false },
    ]);
    assert.deepEqual(await connection.onWhatsApp([]), []);
    await rejectsWith(connection.onWhatsApp([BEA.phone, '0800-CALL-ME']), 'validation_error');
  });

  it('fetchAbout finds people by phone JID or LID and returns "" when the about is hidden or empty', async () => {
    const connection = await online(newDriver());
    assert.deepEqual(await connection.fetchAbout(BEA.jid), { about: 'Climbing 🧗', setAt: 1719662400000 });
    assert.deepEqual(await connection.fetchAbout(BEA.lid), { about: 'Climbing 🧗', setAt: 1719662400000 });
    assert.deepEqual(await connection.fetchAbout('4915100000002:3@s.whatsapp.net'), {
      about: 'Climbing 🧗',
      setAt: 1719662400000,
    });
    assert.deepEqual(await connection.fetchAbout(CAL.jid), { about: '' });
    assert.deepEqual(await connection.fetchAbout(DAN.lid), { about: '' });
    assert.deepEqual(await connection.fetchAbout(ME.jid), { about: 'mine' });
  });

  it('fetchAbout of an unknown user or a group is not_found; a malformed JID is a validation_error', async () => {
    const connection = await online(newDriver());
    await rejectsWith(connection.fetchAbout(NOBODY.jid), 'not_found');
    await rejectsWith(connection.fetchAbout(NOBODY.lid), 'not_found');
    await rejectsWith(connection.fetchAbout('120363000000000001@g.us'), 'not_found');
    await rejectsWith(connection.fetchAbout('bea@example.com'), 'validation_error');
  });

  it('profilePicture returns the image or preview URL, and nothing when there is none or privacy hides it', async () => {
    const connection = await online(newDriver());
    assert.deepEqual(await connection.profilePicture(BEA.jid, 'image'), {
      url: 'https://pps.sim.invalid/bea.jpg',
      id: '111',
    });
    assert.deepEqual(await connection.profilePicture(BEA.lid, 'preview'), {
      url: 'https://pps.sim.invalid/bea-preview.jpg',
      id: '111',
    });
    assert.equal(await connection.profilePicture(DAN.jid, 'image'), undefined);
    assert.equal(await connection.profilePicture(CAL.jid, 'image'), undefined);
    assert.deepEqual(await connection.profilePicture('120363000000000003@g.us', 'image'), {
      url: 'https://pps.sim.invalid/pics.jpg',
      id: '333',
    });
    assert.equal(await connection.profilePicture('120363000000000001@g.us', 'preview'), undefined);
  });

  it('profilePicture of an unknown user or group is not_found', async () => {
    const connection = await online(newDriver());
    await rejectsWith(connection.profilePicture(NOBODY.jid, 'image'), 'not_found');
    await rejectsWith(connection.profilePicture('120363999999999999@g.us', 'image'), 'not_found');
  });

  it('updateBlock is idempotent, keys the block list by LID and announces only real changes', async () => {
    const connection = await online(newDriver());
    const announced: BaileysEventMap['blocklist.update'][] = [];
    connection.events.on('blocklist.update', (update: BaileysEventMap['blocklist.update']) => announced.push(update));
    await connection.updateBlock(BEA.jid, 'block');
    await connection.updateBlock(BEA.lid, 'block');
    await connection.updateBlock(DAN.jid, 'block');
    assert.deepEqual(await connection.fetchBlocklist(), [BEA.lid, DAN.lid]);
    await connection.updateBlock(DAN.lid, 'unblock');
    await connection.updateBlock(DAN.jid, 'unblock');
    assert.deepEqual(await connection.fetchBlocklist(), [BEA.lid]);
    assert.deepEqual(announced, [
      { blocklist: [BEA.lid], type: 'add' },
      { blocklist: [DAN.lid], type: 'add' },
      { blocklist: [DAN.lid], type: 'remove' },
    ]);
  });

  it('block lists survive the session moving to another driver instance', async () => {
    const prefix = freshPrefix();
    const before = await online(newDriver(worldInput(), prefix));
    await before.updateBlock(BEA.jid, 'block');
    await before.close();

    const after = await online(newDriver(worldInput(), prefix));
    assert.deepEqual(await after.fetchBlocklist(), [BEA.lid]);
    await after.updateBlock(BEA.jid, 'block');
    assert.deepEqual(await after.fetchBlocklist(), [BEA.lid]);
    await after.updateBlock(BEA.jid, 'unblock');
    await after.close();

    const third = await online(newDriver(worldInput(), prefix));
    assert.deepEqual(await third.fetchBlocklist(), []);
  });

  it('keeps block lists per session', async () => {
    const prefix = freshPrefix();
    const world = worldInput({ sessions: { sess_me: { phone: ME.phone }, sess_olga: { phone: OLGA.phone } } });
    const driver = newDriver(world, prefix);
    const me = await online(driver, 'sess_me');
    const olga = await online(driver, 'sess_olga');
    await me.updateBlock(BEA.jid, 'block');
    assert.deepEqual(await olga.fetchBlocklist(), []);
  });

  it('updateBlock of an unknown user is not_found, of a group a validation_error', async () => {
    const connection = await online(newDriver());
    await rejectsWith(connection.updateBlock(NOBODY.jid, 'block'), 'not_found');
    await rejectsWith(connection.updateBlock('120363000000000001@g.us', 'block'), 'validation_error');
  });

  it('every live call on a connection that is not online is not_implemented', async () => {
    const driver = newDriver();
    const pairing = await driver.connect('sess_olga');
    await reach(pairing, 'pairing');
    const closed = await online(driver);
    await closed.close();
    for (const connection of [pairing, closed]) {
      await rejectsWith(connection.onWhatsApp([BEA.phone]), 'not_implemented');
      await rejectsWith(connection.fetchAbout(BEA.jid), 'not_implemented');
      await rejectsWith(connection.profilePicture(BEA.jid, 'image'), 'not_implemented');
      await rejectsWith(connection.updateBlock(BEA.jid, 'block'), 'not_implemented');
      await rejectsWith(connection.fetchAllGroups(), 'not_implemented');
      await rejectsWith(connection.fetchBlocklist(), 'not_implemented');
    }
  });
});

describe('SimDriver: failure and latency injection', () => {
  it('fails every live call with rate_limited when failureRate is 1', async () => {
    const connection = await online(newDriver(worldInput({ failureRate: 1 })));
    await rejectsWith(connection.onWhatsApp([BEA.phone]), 'rate_limited');
    await rejectsWith(connection.fetchAbout(BEA.jid), 'rate_limited');
    await rejectsWith(connection.profilePicture(BEA.jid, 'image'), 'rate_limited');
    await rejectsWith(connection.updateBlock(BEA.jid, 'block'), 'rate_limited');
  });

  it('fails with internal when failureCode says so', async () => {
    const connection = await online(newDriver(worldInput({ failureRate: 1, failureCode: 'internal' })));
    await rejectsWith(connection.fetchAbout(BEA.jid), 'internal');
  });

  it('never fails connecting or the group fetch, only live calls', async () => {
    const connection = await online(newDriver(worldInput({ failureRate: 1 })));
    assert.equal(Object.keys(await connection.fetchAllGroups()).length, 2);
  });

  it("applies per-operation overrides, and a session's own rate over both", async () => {
    const world = worldInput({ operations: { fetchAbout: { failureRate: 1, failureCode: 'internal' } } });
    world.sessions!['sess_olga'] = { phone: OLGA.phone, failureRate: 0 };
    const driver = newDriver(world);
    const me = await online(driver, 'sess_me');
    await rejectsWith(me.fetchAbout(BEA.jid), 'internal');
    assert.equal((await me.onWhatsApp([BEA.phone]))[0]?.exists, true);
    const olga = await online(driver, 'sess_olga');
    assert.deepEqual(await olga.fetchAbout(DAN.jid), { about: '' });
  });

  it('fails a slow call in flight with not_implemented when the connection drops under it', async () => {
    const prefix = freshPrefix();
    const connection = await online(
      newDriver(worldInput({ operations: { fetchAbout: { latencyMs: 60_000 } } }), prefix),
    );
    const slow = connection.fetchAbout(BEA.jid);
    const offline = nextUpdate(connection, 'offline');
    await simControl(testEnv.redis, prefix, { sessionId: 'sess_me', action: 'disconnect' });
    await offline;
    await rejectsWith(slow, 'not_implemented');
  });

  it('fails a slow call in flight with not_implemented when the connection is closed', async () => {
    const connection = await online(
      newDriver(worldInput({ latencyMs: { min: 30_000, max: 60_000 }, operations: { connect: { latencyMs: 0 } } })),
    );
    const slow = connection.onWhatsApp([BEA.phone]);
    await connection.close();
    await rejectsWith(slow, 'not_implemented');
  });
});

describe('generateSimWorld', () => {
  it('builds a valid world of the requested size, the same for the same seed', () => {
    const options = { sessions: 20, peoplePerSession: 10, groupsPerSession: 2, membersPerGroup: 6, seed: 7 };
    const world = generateSimWorld(options);
    assert.equal(Object.keys(world.sessions).length, 20);
    assert.equal(world.groups.length, 40);
    assert.ok(Object.values(world.sessions).every((s) => s.paired && s.contacts.length === 10));
    assert.ok(world.groups.every((g) => g.members.length === 6));
    assert.deepEqual(generateSimWorld(options), world);
    assert.notDeepEqual(generateSimWorld({ ...options, seed: 8 }), world);
    parseSimWorld(JSON.parse(JSON.stringify(world)));
  });

  it('uses the given session ids, and its sessions come online with their address books', async () => {
    const world = generateSimWorld({
      sessions: 3,
      peoplePerSession: 5,
      sessionIds: ['sess_a', 'sess_b', 'sess_c'],
      seed: 3,
    });
    assert.deepEqual(Object.keys(world.sessions), ['sess_a', 'sess_b', 'sess_c']);
    const connection = await newDriver(world).connect('sess_b');
    const history = await nextEvent(connection, 'messaging-history.set');
    assert.equal(history.contacts.length, 5);
    assert.equal(Object.keys(await connection.fetchAllGroups()).length, 3);
  });
});
