import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { Boom } from '@hapi/boom';
import {
  addTransactionCapability,
  assertNodeErrorFree,
  DisconnectReason,
  makeEventBuffer,
  makeWASocket,
  promiseTimeout,
  proto,
  USyncQuery,
  type BaileysEventMap,
  type BinaryNode,
  type Contact,
  type GroupMetadata,
  type LIDMapping,
  type UserFacingSocketConfig,
  type USyncQueryResultList,
  type WAVersion,
} from '@whiskeysockets/baileys';
import { LIDMappingStore } from '@whiskeysockets/baileys/lib/Signal/lid-mapping.js';
import { pino } from 'pino';
import type {
  ConnectionUpdate,
  WhatsAppConnection,
  WhatsAppEventMap,
  WhatsAppEventName,
} from '../worker/driver/driver.js';
import { BaileysDriver, type BaileysDriverOptions } from '../worker/driver/baileys/baileys-driver.js';
import { WaVersionSource } from '../worker/driver/baileys/wa-version.js';
import { ContactIngestor } from '../worker/ingest/contact-ingestor.js';
import type { DriverSocket } from '../worker/driver/baileys/baileys-connection.js';
import { mapBaileysError } from '../worker/driver/baileys/errors.js';
import { adaptSocket, matchRegistered, type LiveSocket } from '../worker/driver/baileys/live-calls.js';
import { backoffDelay, closeAction } from '../worker/driver/baileys/reconnect-policy.js';
import { AppError, type ErrorCode } from '../shared/errors.js';
import { testEnv } from './support/hooks.js';

const silent = pino({ level: 'silent' });
const uniq = () => randomBytes(5).toString('hex');

/** What Baileys throws when WhatsApp answers a query with `<error code=… text=…/>`. */
function serverError(code: number, text: string): unknown {
  try {
    assertNodeErrorFree({
      tag: 'iq',
      attrs: { type: 'error' },
      content: [{ tag: 'error', attrs: { code: String(code), text } }],
    });
  } catch (err) {
    return err;
  }
  throw new Error('assertNodeErrorFree did not throw');
}

/** A USync reply as WhatsApp sends it, parsed by Baileys' own USyncQuery. */
function usyncReply(query: USyncQuery, users: { jid: string; content: BinaryNode[] }[]): USyncQueryResultList[] {
  const node: BinaryNode = {
    tag: 'iq',
    attrs: { type: 'result' },
    content: [
      {
        tag: 'usync',
        attrs: {},
        content: [
          {
            tag: 'list',
            attrs: {},
            content: users.map((u) => ({ tag: 'user', attrs: { jid: u.jid }, content: u.content })),
          },
        ],
      },
    ],
  };
  return query.parseUSyncQueryResult(node)!.list;
}

/** onWhatsApp's result, computed the way Baileys computes it from the USync reply. */
function onWhatsAppReply(entries: { jid: string; registered: boolean }[]): { jid: string; exists: boolean }[] {
  const list = usyncReply(
    new USyncQuery().withContactProtocol(),
    entries.map((e) => ({ jid: e.jid, content: [{ tag: 'contact', attrs: { type: e.registered ? 'in' : 'out' } }] })),
  );
  return list.filter((a) => !!a['contact']).map(({ contact, id }) => ({ jid: id, exists: contact as boolean }));
}

function statusReply(jid: string, text: string | null, t?: number, code?: number): USyncQueryResultList[] {
  const attrs: Record<string, string> = {};
  if (t !== undefined) attrs['t'] = String(t);
  if (code !== undefined) attrs['code'] = String(code);
  return usyncReply(new USyncQuery().withStatusProtocol(), [
    { jid, content: [{ tag: 'status', attrs, ...(text === null ? {} : { content: Buffer.from(text) }) }] },
  ]);
}

interface Calls {
  onWhatsApp: string[][];
  fetchStatus: string[][];
  profilePictureUrl: [string, string | undefined][];
  updateBlockStatus: [string, string][];
  requestPairingCode: string[];
  getLIDsForPNs: string[][];
}

function stubSocket(overrides: Partial<LiveSocket> & { lids?: LIDMapping[] | Error | 'none' } = {}): {
  sock: LiveSocket;
  calls: Calls;
} {
  const calls: Calls = {
    onWhatsApp: [],
    fetchStatus: [],
    profilePictureUrl: [],
    updateBlockStatus: [],
    requestPairingCode: [],
    getLIDsForPNs: [],
  };
  const { lids, ...methods } = overrides;
  const sock: LiveSocket = {
    async onWhatsApp(...phones) {
      calls.onWhatsApp.push(phones);
      return [];
    },
    async fetchStatus(...jids) {
      calls.fetchStatus.push(jids);
      return [];
    },
    async profilePictureUrl(jid, type) {
      calls.profilePictureUrl.push([jid, type]);
      return undefined;
    },
    async updateBlockStatus(jid, action) {
      calls.updateBlockStatus.push([jid, action]);
    },
    async requestPairingCode(phone) {
      calls.requestPairingCode.push(phone);
      return 'ABCD1234';
    },
    async groupFetchAllParticipating() {
      return {};
    },
    ...methods,
  };
  if (lids !== 'none') {
    sock.signalRepository = {
      lidMapping: {
        async getLIDsForPNs(pns) {
          calls.getLIDsForPNs.push(pns);
          if (lids instanceof Error) throw lids;
          return lids ?? [];
        },
      },
    };
  }
  return { sock, calls };
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<AppError> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    caught = err;
    assert.ok(err instanceof AppError, `expected AppError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
  return caught as AppError;
}

describe('Baileys driver', () => {
  describe('mapBaileysError', () => {
    const cases: [string, () => unknown, ErrorCode][] = [
      ['item-not-found (404) from WhatsApp → not_found', () => serverError(404, 'item-not-found'), 'not_found'],
      [
        'not-authorized (401, privacy) from WhatsApp → not_found',
        () => serverError(401, 'not-authorized'),
        'not_found',
      ],
      ['bad-request (400) from WhatsApp → validation_error', () => serverError(400, 'bad-request'), 'validation_error'],
      ['rate-overlimit (429) from WhatsApp → rate_limited', () => serverError(429, 'rate-overlimit'), 'rate_limited'],
      ['an unknown WhatsApp code (500) → internal', () => serverError(500, 'internal-server-error'), 'internal'],
      [
        'Connection Closed (428), as a query on a closed socket throws → not_implemented',
        () => new Boom('Connection Closed', { statusCode: DisconnectReason.connectionClosed }),
        'not_implemented',
      ],
      [
        'connectionReplaced (440) while a query waits → not_implemented',
        () => new Boom('Stream Errored (conflict)', { statusCode: DisconnectReason.connectionReplaced }),
        'not_implemented',
      ],
      [
        'an unresolvable phone JID on block (Boom 400 from Baileys) → not_found',
        () => new Boom('Unable to resolve LID for PN JID: 49111@s.whatsapp.net', { statusCode: 400 }),
        'not_found',
      ],
      [
        'an invalid JID (Boom 400 from Baileys) → validation_error',
        () => new Boom('Invalid jid: nope', { statusCode: 400 }),
        'validation_error',
      ],
      [
        'the bare WebSocket close code a pending query rejects with on a network drop (1006) → not_implemented',
        () => 1006,
        'not_implemented',
      ],
      [
        'a socket-level network error (ECONNRESET) → not_implemented',
        () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
        'not_implemented',
      ],
      ['a plain Error → internal', () => new TypeError('x is undefined'), 'internal'],
      ['a thrown string → internal', () => 'boom', 'internal'],
    ];
    for (const [name, make, code] of cases) {
      it(`maps ${name}`, () => {
        assert.equal(mapBaileysError(make()).code, code);
      });
    }

    it('reads the WhatsApp code from err.data, since output.statusCode is always 500 there', () => {
      const err = serverError(404, 'item-not-found') as Boom;
      assert.equal(err.output.statusCode, 500);
      assert.equal(err.data, 404);
      assert.deepEqual(mapBaileysError(err).details, { whatsappCode: 404, reason: 'item-not-found' });
    });

    it('maps a real query timeout (Baileys promiseTimeout, 408) to timeout', async () => {
      const err = await promiseTimeout(1, () => undefined).catch((e: unknown) => e);
      assert.ok(err instanceof Boom);
      assert.equal(mapBaileysError(err).code, 'timeout');
    });

    it('passes an AppError through unchanged', () => {
      const original = new AppError('conflict', 'already');
      assert.equal(mapBaileysError(original), original);
    });

    it('keeps the text of a non-Baileys error out of the answer', () => {
      const mapped = mapBaileysError(new Error('SELECT secret FROM somewhere'));
      assert.equal(mapped.code, 'internal');
      assert.doesNotMatch(JSON.stringify(mapped.toBody()), /secret/);
    });
  });

  describe('reconnect policy', () => {
    const closeWith = (statusCode: number) => new Boom('closed', { statusCode });

    it('restarts at once on restartRequired (515)', () => {
      assert.equal(closeAction(closeWith(DisconnectReason.restartRequired)).kind, 'restart');
    });
    it('forgets the account on loggedOut (401)', () => {
      assert.equal(closeAction(closeWith(DisconnectReason.loggedOut)).kind, 'logged_out');
    });
    it('stops on connectionReplaced (440) and names the reason', () => {
      assert.deepEqual(closeAction(closeWith(DisconnectReason.connectionReplaced)), {
        kind: 'stop',
        reason: 'connectionReplaced (440)',
      });
    });
    it('stops on forbidden (403)', () => {
      assert.equal(closeAction(closeWith(DisconnectReason.forbidden)).kind, 'stop');
    });
    for (const code of [
      DisconnectReason.connectionClosed,
      DisconnectReason.connectionLost,
      DisconnectReason.badSession,
      DisconnectReason.unavailableService,
    ]) {
      it(`retries with backoff on ${code}`, () => {
        assert.equal(closeAction(closeWith(code)).kind, 'retry');
      });
    }
    it('retries when the close carries no error or a non-Boom one', () => {
      assert.equal(closeAction(undefined).kind, 'retry');
      assert.deepEqual(closeAction(new Error('socket hang up')), { kind: 'retry', reason: 'socket hang up' });
    });

    it('doubles the backoff per attempt up to the cap, with half of it jittered', () => {
      const opts = { initialMs: 1_000, maxMs: 60_000, factor: 2 };
      assert.equal(
        backoffDelay(0, opts, () => 0),
        500,
      );
      assert.equal(
        backoffDelay(0, opts, () => 1),
        1_000,
      );
      assert.equal(
        backoffDelay(3, opts, () => 1),
        8_000,
      );
      assert.equal(
        backoffDelay(3, opts, () => 0.5),
        6_000,
      );
      assert.equal(
        backoffDelay(30, opts, () => 1),
        60_000,
      );
      assert.equal(
        backoffDelay(30, opts, () => 0),
        30_000,
      );
    });
  });

  describe('live calls (adaptSocket)', () => {
    describe('onWhatsApp', () => {
      it('asks WhatsApp once for the whole list and answers for every number, absent ones as not on WhatsApp', async () => {
        const { sock, calls } = stubSocket({
          onWhatsApp: async (...phones) => {
            calls.onWhatsApp.push(phones);
            return onWhatsAppReply([
              { jid: '4915111111111@s.whatsapp.net', registered: true },
              { jid: '4915222222222@s.whatsapp.net', registered: false },
              { jid: '6281234567890@s.whatsapp.net', registered: true },
            ]);
          },
          lids: [{ pn: '4915111111111@s.whatsapp.net', lid: '205227043110953@lid' }],
        });
        const result = await adaptSocket(sock).onWhatsApp([
          '4915111111111',
          '+4915222222222',
          '6281234567890',
          '4915333333333',
        ]);
        assert.deepEqual(calls.onWhatsApp, [['+4915111111111', '+4915222222222', '+6281234567890', '+4915333333333']]);
        assert.deepEqual(calls.getLIDsForPNs, [['4915111111111@s.whatsapp.net', '6281234567890@s.whatsapp.net']]);
        assert.deepEqual(result, [
          { phone: '4915111111111', exists: true, jid: '4915111111111@s.whatsapp.net', lid: '205227043110953@lid' },
          { phone: '+4915222222222', exists: false },
          { phone: '6281234567890', exists: true, jid: '6281234567890@s.whatsapp.net' },
          { phone: '4915333333333', exists: false },
        ]);
      });

      it('asks once per distinct number and answers every duplicate', async () => {
        const { sock, calls } = stubSocket({
          onWhatsApp: async (...phones) => {
            calls.onWhatsApp.push(phones);
            return onWhatsAppReply([{ jid: '4915111111111@s.whatsapp.net', registered: true }]);
          },
        });
        const result = await adaptSocket(sock).onWhatsApp(['4915111111111', '+4915111111111']);
        assert.deepEqual(calls.onWhatsApp, [['+4915111111111']]);
        assert.deepEqual(
          result.map((r) => [r.phone, r.exists]),
          [
            ['4915111111111', true],
            ['+4915111111111', true],
          ],
        );
      });

      it('matches a JID WhatsApp returns without the Brazilian ninth digit to the number asked', async () => {
        const { sock } = stubSocket({
          onWhatsApp: async () => onWhatsAppReply([{ jid: '551187654321@s.whatsapp.net', registered: true }]),
        });
        const [check] = await adaptSocket(sock).onWhatsApp(['5511987654321']);
        assert.deepEqual(check, { phone: '5511987654321', exists: true, jid: '551187654321@s.whatsapp.net' });
      });

      it('still answers, without LIDs, when the LID lookup fails or is unavailable', async () => {
        const reply = async () => onWhatsAppReply([{ jid: '4915111111111@s.whatsapp.net', registered: true }]);
        for (const lids of [new Error('usync failed'), 'none'] as const) {
          const { sock } = stubSocket({ onWhatsApp: reply, lids });
          assert.deepEqual(await adaptSocket(sock).onWhatsApp(['4915111111111']), [
            { phone: '4915111111111', exists: true, jid: '4915111111111@s.whatsapp.net' },
          ]);
        }
      });

      it('does not query WhatsApp for an empty list', async () => {
        const { sock, calls } = stubSocket();
        assert.deepEqual(await adaptSocket(sock).onWhatsApp([]), []);
        assert.equal(calls.onWhatsApp.length, 0);
      });

      it('fails with timeout when WhatsApp never answered (rc14 resolves undefined), rather than calling every number absent', async () => {
        const { sock } = stubSocket({ onWhatsApp: async () => undefined });
        await rejectsWith(adaptSocket(sock).onWhatsApp(['4915111111111']), 'timeout');
      });

      it('fails with rate_limited on rate-overlimit', async () => {
        const { sock } = stubSocket({
          onWhatsApp: async () => {
            throw serverError(429, 'rate-overlimit');
          },
        });
        await rejectsWith(adaptSocket(sock).onWhatsApp(['4915111111111']), 'rate_limited');
      });
    });

    describe('matchRegistered', () => {
      it('pairs a leftover JID with the national variant of an asked number, not with any number one digit apart', () => {
        const matched = matchRegistered(['5511987654321', '5511887654321'], ['551187654321@s.whatsapp.net']);
        assert.deepEqual([...matched], [['5511987654321', '551187654321@s.whatsapp.net']]);
        assert.equal(
          matchRegistered(['491511234567'], ['4915112345678@s.whatsapp.net']).size,
          0,
          'Germany has no national variant',
        );
      });
      it('never pairs a JID with a number that differs by more than one digit', () => {
        assert.equal(matchRegistered(['4915111111111'], ['4915999999999@s.whatsapp.net']).size, 0);
      });
    });

    describe('fetchAbout', () => {
      it('returns the about text and when it was set', async () => {
        const { sock, calls } = stubSocket({
          fetchStatus: async (...jids) => {
            calls.fetchStatus.push(jids);
            return statusReply('4915111111111@s.whatsapp.net', 'Climbing', 1_700_000_000);
          },
        });
        assert.deepEqual(await adaptSocket(sock).fetchAbout('4915111111111@s.whatsapp.net'), {
          about: 'Climbing',
          setAt: 1_700_000_000_000,
        });
        assert.deepEqual(calls.fetchStatus, [['4915111111111@s.whatsapp.net']]);
      });

      it('returns an empty string when the about is hidden by privacy', async () => {
        const { sock } = stubSocket({
          fetchStatus: async () => statusReply('4915111111111@s.whatsapp.net', null, undefined, 401),
        });
        assert.deepEqual(await adaptSocket(sock).fetchAbout('4915111111111@s.whatsapp.net'), { about: '' });
      });

      it('returns an empty string when the about is empty, or WhatsApp returns no entry', async () => {
        for (const reply of [statusReply('4915111111111@s.whatsapp.net', null, 1_700_000_000), []]) {
          const { sock } = stubSocket({ fetchStatus: async () => reply });
          assert.deepEqual(await adaptSocket(sock).fetchAbout('4915111111111@s.whatsapp.net'), { about: '' });
        }
      });

      it('fails with timeout, never an empty about, when WhatsApp did not answer (rc14 resolves undefined)', async () => {
        const { sock } = stubSocket({ fetchStatus: async () => undefined });
        await rejectsWith(adaptSocket(sock).fetchAbout('4915111111111@s.whatsapp.net'), 'timeout');
      });

      it('fails with not_found for a user WhatsApp does not know', async () => {
        const { sock } = stubSocket({
          fetchStatus: async () => {
            throw serverError(404, 'item-not-found');
          },
        });
        await rejectsWith(adaptSocket(sock).fetchAbout('4915111111111@s.whatsapp.net'), 'not_found');
      });
    });

    describe('profilePicture', () => {
      it('returns the URL for the asked type', async () => {
        const url = 'https://pps.whatsapp.net/v/t61.24694-24/123_456_n.jpg?oh=x&oe=y';
        const { sock, calls } = stubSocket({
          profilePictureUrl: async (jid, type) => {
            calls.profilePictureUrl.push([jid, type]);
            return url;
          },
        });
        assert.deepEqual(await adaptSocket(sock).profilePicture('205227043110953@lid', 'image'), { url, id: null });
        assert.deepEqual(calls.profilePictureUrl, [['205227043110953@lid', 'image']]);
      });

      it('returns undefined when there is no picture', async () => {
        const { sock } = stubSocket();
        assert.equal(await adaptSocket(sock).profilePicture('205227043110953@lid', 'preview'), undefined);
      });

      it('fails with not_found when privacy hides the picture (not-authorized)', async () => {
        const { sock } = stubSocket({
          profilePictureUrl: async () => {
            throw serverError(401, 'not-authorized');
          },
        });
        await rejectsWith(adaptSocket(sock).profilePicture('205227043110953@lid', 'preview'), 'not_found');
      });
    });

    describe('updateBlock', () => {
      it('passes the JID and the action to updateBlockStatus', async () => {
        const { sock, calls } = stubSocket();
        await adaptSocket(sock).updateBlock('205227043110953@lid', 'block');
        await adaptSocket(sock).updateBlock('4915111111111@s.whatsapp.net', 'unblock');
        assert.deepEqual(calls.updateBlockStatus, [
          ['205227043110953@lid', 'block'],
          ['4915111111111@s.whatsapp.net', 'unblock'],
        ]);
      });

      it('fails with not_found when Baileys cannot resolve the user', async () => {
        const { sock } = stubSocket({
          updateBlockStatus: async (jid) => {
            throw new Boom(`Unable to resolve LID for PN JID: ${jid}`, { statusCode: 400 });
          },
        });
        await rejectsWith(adaptSocket(sock).updateBlock('4915111111111@s.whatsapp.net', 'block'), 'not_found');
      });

      it('fails with not_implemented when the socket closed under the call', async () => {
        const { sock } = stubSocket({
          updateBlockStatus: async () => {
            throw new Boom('Connection Closed', { statusCode: DisconnectReason.connectionClosed });
          },
        });
        await rejectsWith(adaptSocket(sock).updateBlock('205227043110953@lid', 'unblock'), 'not_implemented');
      });
    });

    describe('requestPairingCode and fetchAllGroups', () => {
      it('asks for a pairing code with the digits only', async () => {
        const { sock, calls } = stubSocket();
        assert.equal(await adaptSocket(sock).requestPairingCode('+49 151 1111111'), 'ABCD1234');
        assert.deepEqual(calls.requestPairingCode, ['491511111111']);
      });

      it('rejects a phone without digits before asking WhatsApp', async () => {
        const { sock, calls } = stubSocket();
        await rejectsWith(adaptSocket(sock).requestPairingCode('+'), 'validation_error');
        assert.equal(calls.requestPairingCode.length, 0);
      });

      it('returns groupFetchAllParticipating’s record unchanged', async () => {
        const group = {
          id: '120363000000000001@g.us',
          subject: 'Climbers',
          participants: [{ id: '205227043110953@lid', phoneNumber: '4915111111111@s.whatsapp.net', admin: 'admin' }],
          addressingMode: 'lid',
        } as GroupMetadata;
        const groups = { [group.id]: group };
        const { sock } = stubSocket({ groupFetchAllParticipating: async () => groups });
        assert.equal(await adaptSocket(sock).fetchAllGroups(), groups);
      });
    });
  });

  describe('connection lifecycle', () => {
    /** A stand-in for makeWASocket: Baileys' own event buffer, driven by the test. */
    class FakeSocket {
      readonly ev = makeEventBuffer(silent);
      /** Where a real socket's WebSocket client emits raw stanzas (`CB:…`). */
      readonly ws = new EventEmitter();
      ended: (Error | undefined)[] = [];
      loggedOut = 0;
      live = stubSocket();
      constructor(readonly config: UserFacingSocketConfig) {
        // As Baileys does: creds.update is merged into the auth state the socket was given.
        this.ev.on('creds.update', (update) => Object.assign(config.auth.creds, update));
      }
      emit<T extends keyof BaileysEventMap>(event: T, data: BaileysEventMap[T]): void {
        this.ev.emit(event, data);
      }
      close(statusCode: number): void {
        this.emit('connection.update', {
          connection: 'close',
          lastDisconnect: { error: new Boom('closed', { statusCode }), date: new Date() },
        });
      }
      private driverSocket: DriverSocket | undefined;
      /** The one socket object the connection drives (a test may replace its live calls). */
      asDriverSocket(): DriverSocket {
        return (this.driverSocket ??= {
          ...this.live.sock,
          ev: this.ev,
          ws: this.ws,
          end: async (error) => {
            this.ended.push(error);
            this.emit('connection.update', { connection: 'close', lastDisconnect: { error, date: new Date() } });
            this.ev.destroy();
          },
          logout: async () => {
            this.loggedOut++;
            await this.asDriverSocket().end(new Boom('Intentional Logout', { statusCode: DisconnectReason.loggedOut }));
          },
        });
      }
    }

    async function setup(options: Partial<BaileysDriverOptions> = {}) {
      const org = await testEnv.admin.createOrganization(`Drv ${uniq()}`, `org_${uniq()}`);
      const sessionId = (await testEnv.admin.createSession(org.id, null)).id;
      const sockets: FakeSocket[] = [];
      const driver = new BaileysDriver({
        db: testEnv.db,
        logger: silent,
        browserName: 'Test Gateway',
        backoff: { initialMs: 1, maxMs: 2 },
        ...options,
        makeSocket: (config) => {
          const fake = new FakeSocket(config);
          sockets.push(fake);
          return fake.asDriverSocket();
        },
      });
      const connection = await driver.connect(sessionId);
      const updates: ConnectionUpdate[] = [];
      connection.events.on('connection', (u: ConnectionUpdate) => updates.push(u));
      while (sockets.length === 0) await tick();
      return { sessionId, driver, connection, sockets, updates };
    }

    function next(connection: WhatsAppConnection, status: ConnectionUpdate['status']): Promise<ConnectionUpdate> {
      return new Promise((resolve) => {
        const listener = (u: ConnectionUpdate) => {
          if (u.status !== status) return;
          connection.events.off('connection', listener);
          resolve(u);
        };
        connection.events.on('connection', listener);
      });
    }

    const event = <K extends WhatsAppEventName>(connection: WhatsAppConnection, name: K) =>
      new Promise<WhatsAppEventMap[K][0]>((resolve) =>
        connection.events.once(name, ((payload: WhatsAppEventMap[K][0]) => resolve(payload)) as never),
      );
    const tick = () => new Promise((resolve) => setImmediate(resolve));

    async function goOnline(connection: WhatsAppConnection, sock: FakeSocket) {
      const online = next(connection, 'online');
      // As after pairing: `account` is what pair-success stores.
      sock.emit('creds.update', {
        me: { id: '4915111111111:7@s.whatsapp.net', lid: '205227043110953:7@lid', name: 'Me' },
        account: { details: Buffer.from('x') },
      });
      sock.emit('connection.update', { connection: 'open' });
      return online;
    }

    it('builds the socket with the stored auth state, the browser name and a quiet Baileys logger', async () => {
      const { sockets } = await setup();
      assert.equal(sockets.length, 1);
      const config = sockets[0]!.config;
      // browser[0] is the device name a QR registration shows on the phone; `Chrome (name)` in the pairing-code flow.
      assert.deepEqual(config.browser?.slice(0, 2), ['Test Gateway', 'Chrome']);
      assert.equal(config.markOnlineOnConnect, false);
      assert.equal(config.logger?.level, 'warn');
      assert.equal(config.auth.creds.registered, false);
    });

    it('announces the configured WhatsApp Web version and history sync, Baileys’ bundled version otherwise', async () => {
      const configured = await setup({ version: [2, 3000, 1023223821], syncFullHistory: true });
      assert.deepEqual(configured.sockets[0]!.config.version, [2, 3000, 1023223821]);
      assert.equal(configured.sockets[0]!.config.syncFullHistory, true);
      await configured.connection.close();
      const plain = await setup();
      assert.equal(plain.sockets[0]!.config.version, undefined);
      assert.equal(plain.sockets[0]!.config.syncFullHistory, false);
      await plain.connection.close();
    });

    it('reports connecting, pairing with the QR, then online with its own phone JID and LID', async () => {
      const { connection, sockets, updates } = await setup();
      const sock = sockets[0]!;
      sock.emit('connection.update', { connection: 'connecting', qr: undefined });
      const pairing = next(connection, 'pairing');
      sock.emit('connection.update', { qr: '2@abc,def,ghi' });
      assert.deepEqual(await pairing, {
        status: 'pairing',
        qr: '2@abc,def,ghi',
        reason: 'waiting for the phone: scan the QR code or enter a pairing code',
      });
      assert.deepEqual(await goOnline(connection, sock), {
        status: 'online',
        phoneJid: '4915111111111@s.whatsapp.net',
        lid: '205227043110953@lid',
      });
      assert.deepEqual(
        updates.map((u) => u.status),
        ['connecting', 'pairing', 'online'],
      );
    });

    describe('the groups.update Baileys emits for its own group fetch', () => {
      const team = {
        id: '120363000000000002@g.us',
        subject: 'Team',
        participants: [{ id: '205227043110953@lid', phoneNumber: '4915111111111@s.whatsapp.net', admin: null }],
        addressingMode: 'lid',
      } as GroupMetadata;

      async function onlineWithGroups() {
        const { connection, sockets } = await setup();
        const sock = sockets[0]!;
        await goOnline(connection, sock);
        const forwarded: Partial<GroupMetadata>[][] = [];
        connection.events.on('groups.update', (updates) => forwarded.push(updates));
        return { connection, sock, forwarded };
      }

      it('is not passed on when it arrives during the fetch, as Baileys emits it; later changes are', async () => {
        const { connection, sock, forwarded } = await onlineWithGroups();
        sock.asDriverSocket().groupFetchAllParticipating = async () => {
          const data = { [team.id]: team };
          sock.emit('groups.update', Object.values(data));
          return data;
        };
        assert.deepEqual(Object.keys(await connection.fetchAllGroups()), [team.id]);
        await tick();
        assert.deepEqual(forwarded, []);
        sock.emit('groups.update', [{ id: team.id, subject: 'Team (renamed)' }]);
        await tick();
        assert.deepEqual(forwarded, [[{ id: team.id, subject: 'Team (renamed)' }]]);
      });

      it('is not passed on when buffered past the fetch, and only once', async () => {
        const { connection, sock, forwarded } = await onlineWithGroups();
        sock.asDriverSocket().groupFetchAllParticipating = async () => ({ [team.id]: team });
        await connection.fetchAllGroups();
        sock.emit('groups.update', [{ ...team }]);
        await tick();
        assert.deepEqual(forwarded, []);
        sock.emit('groups.update', [{ ...team }]);
        await tick();
        assert.deepEqual(forwarded, [[team]]);
      });

      it('is passed on when the fetch fails', async () => {
        const { connection, sock, forwarded } = await onlineWithGroups();
        sock.asDriverSocket().groupFetchAllParticipating = async () => {
          sock.emit('groups.update', [team]);
          throw new Boom('Connection Closed', { statusCode: DisconnectReason.connectionClosed });
        };
        await assert.rejects(connection.fetchAllGroups());
        await tick();
        assert.deepEqual(forwarded, [[team]]);
      });
    });

    it('saves the credentials on creds.update', async () => {
      const { driver, sessionId, connection, sockets } = await setup();
      await goOnline(connection, sockets[0]!);
      await driver.authStore.flush(sessionId);
      const { state } = await driver.authStore.load(sessionId);
      assert.equal(state.creds.me?.id, '4915111111111:7@s.whatsapp.net');
    });

    it('forwards the data events with their Baileys payloads, buffered batches included, and nothing else', async () => {
      const { connection, sockets } = await setup();
      const sock = sockets[0]!;
      const seen: [string, unknown][] = [];
      const names = [
        'messaging-history.set',
        'contacts.upsert',
        'contacts.update',
        'chats.upsert',
        'groups.upsert',
        'groups.update',
        'group-participants.update',
        'lid-mapping.update',
        'messages.upsert',
      ] as const;
      for (const name of names) connection.events.on(name, (payload: unknown) => seen.push([name, payload]));

      const upsert: Contact[] = [
        { id: '205227043110953@lid', phoneNumber: '4915111111111@s.whatsapp.net', name: 'Alice' },
      ];
      const participants = {
        id: '120363000000000001@g.us',
        author: '205227043110953@lid',
        participants: [{ id: '205227043110954@lid', phoneNumber: '4915222222222@s.whatsapp.net', admin: null }],
        action: 'add' as const,
      };
      const mapping = { lid: '205227043110953@lid', pn: '4915111111111@s.whatsapp.net' };
      sock.emit('contacts.upsert', upsert);
      sock.emit('group-participants.update', participants);
      sock.emit('lid-mapping.update', mapping);
      sock.emit('messages.upsert', { messages: [], type: 'notify' });

      sock.ev.buffer();
      sock.emit('contacts.update', [{ id: '205227043110953@lid', notify: 'Ali' }]);
      sock.emit('groups.update', [{ id: '120363000000000001@g.us', subject: 'Climbers' }]);
      const flushed = event(connection, 'groups.update');
      sock.ev.flush();
      await flushed;

      assert.deepEqual(seen.slice(0, 3), [
        ['contacts.upsert', upsert],
        ['group-participants.update', participants],
        ['lid-mapping.update', mapping],
      ]);
      assert.equal(seen[0]![1], upsert);
      assert.deepEqual(
        seen
          .slice(3)
          .map(([name]) => name)
          .sort(),
        ['contacts.update', 'groups.update'],
      );
      assert.ok(!seen.some(([name]) => name === 'messages.upsert'));
    });

    it('reconnects after a transient close on a new socket, through the same events emitter', async () => {
      const { connection, sockets } = await setup();
      await goOnline(connection, sockets[0]!);
      const offline = next(connection, 'offline');
      const closedAt = Date.now();
      sockets[0]!.close(DisconnectReason.connectionLost);
      const { retryAt, ...update } = await offline;
      assert.deepEqual(update, { status: 'offline', reason: 'timedOut (408)' });
      assert.ok(retryAt !== undefined && retryAt >= closedAt, 'says when it tries again');
      await rejectsWith(connection.fetchAbout('4915111111111@s.whatsapp.net'), 'not_implemented');

      const connecting = next(connection, 'connecting');
      while (sockets.length < 2) await tick();
      sockets[1]!.emit('connection.update', { connection: 'connecting' });
      await connecting;
      await goOnline(connection, sockets[1]!);
      assert.equal(connection.events.listenerCount('connection') > 0, true);
      assert.deepEqual(await connection.fetchAbout('4915111111111@s.whatsapp.net'), { about: '' });
      assert.deepEqual(sockets[1]!.live.calls.fetchStatus, [['4915111111111@s.whatsapp.net']]);
    });

    it('ignores events from a socket it has replaced', async () => {
      const { connection, sockets } = await setup();
      sockets[0]!.close(DisconnectReason.connectionClosed);
      while (sockets.length < 2) await tick();
      const seen: unknown[] = [];
      connection.events.on('contacts.upsert', (p: unknown) => seen.push(p));
      sockets[0]!.emit('contacts.upsert', [{ id: '1@lid' }]);
      sockets[1]!.emit('contacts.upsert', [{ id: '2@lid' }]);
      assert.deepEqual(seen, [[{ id: '2@lid' }]]);
    });

    it('restarts at once on restartRequired (515) without reporting offline', async () => {
      const { connection, sockets, updates } = await setup();
      sockets[0]!.emit('creds.update', {
        me: { id: '4915111111111:7@s.whatsapp.net' },
        account: { details: Buffer.from('x') },
      });
      sockets[0]!.close(DisconnectReason.restartRequired);
      while (sockets.length < 2) await tick();
      await goOnline(connection, sockets[1]!);
      assert.ok(!updates.some((u) => u.status === 'offline'));
      assert.equal(sockets[1]!.config.auth.creds.me?.id, '4915111111111:7@s.whatsapp.net');
    });

    it('starts pairing afresh on a socket rebuilt before a pairing-code request was completed', async () => {
      const { sockets } = await setup();
      // What Baileys' requestPairingCode stores before the phone confirms anything.
      sockets[0]!.emit('creds.update', {
        me: { id: '4915111111111@s.whatsapp.net', name: '~' },
        pairingCode: 'ABCD1234',
      });
      sockets[0]!.close(DisconnectReason.connectionLost);
      while (sockets.length < 2) await tick();
      assert.equal(sockets[1]!.config.auth.creds.me, undefined);
      assert.equal(sockets[1]!.config.auth.creds.pairingCode, undefined);
    });

    it('on loggedOut (401) clears the auth state, reports logged_out and stops', async () => {
      const { driver, sessionId, connection, sockets } = await setup();
      await goOnline(connection, sockets[0]!);
      await driver.authStore.keyStore(sessionId).set({ 'lid-mapping': { '4911': '777' } });
      const loggedOut = next(connection, 'logged_out');
      sockets[0]!.close(DisconnectReason.loggedOut);
      assert.deepEqual(await loggedOut, { status: 'logged_out', reason: 'loggedOut (401)' });
      const creds = (await testEnv.db.query('SELECT COUNT(*) AS n FROM wa_auth_creds WHERE session_id = ?', [
        sessionId,
      ])) as { n: number | string }[];
      const keys = (await testEnv.db.query('SELECT COUNT(*) AS n FROM wa_auth_keys WHERE session_id = ?', [
        sessionId,
      ])) as { n: number | string }[];
      assert.equal(Number(creds[0]!.n), 0);
      assert.equal(Number(keys[0]!.n), 0);
      await rejectsWith(connection.onWhatsApp(['4915111111111']), 'not_implemented');
      // Stopped for good: the driver lets the session connect afresh.
      await (await driver.connect(sessionId)).close();
    });

    it('on connectionReplaced (440) reports offline with the reason and does not fight back', async () => {
      const { driver, sessionId, connection, sockets } = await setup();
      await goOnline(connection, sockets[0]!);
      const offline = next(connection, 'offline');
      sockets[0]!.close(DisconnectReason.connectionReplaced);
      assert.deepEqual(await offline, { status: 'offline', reason: 'connectionReplaced (440)' });
      const stored = await driver.authStore.load(sessionId);
      assert.equal(stored.state.creds.me?.id, '4915111111111:7@s.whatsapp.net');
      await (await driver.connect(sessionId)).close();
    });

    it('close() ends the socket without logging out, keeps the credentials and reports offline', async () => {
      const { driver, sessionId, connection, sockets, updates } = await setup();
      await goOnline(connection, sockets[0]!);
      await connection.close();
      assert.deepEqual(sockets[0]!.ended, [undefined]);
      assert.equal(sockets[0]!.loggedOut, 0);
      assert.deepEqual(updates.at(-1), { status: 'offline', reason: 'closed' });
      assert.equal((await driver.authStore.load(sessionId)).state.creds.me?.id, '4915111111111:7@s.whatsapp.net');
      await rejectsWith(connection.fetchAbout('4915111111111@s.whatsapp.net'), 'not_implemented');
      await connection.close();
      assert.equal(sockets.length, 1);
    });

    it('logout() logs the device out, clears the auth state and reports logged_out', async () => {
      const { driver, sessionId, connection, sockets, updates } = await setup();
      await goOnline(connection, sockets[0]!);
      await connection.logout();
      assert.equal(sockets[0]!.loggedOut, 1);
      assert.deepEqual(updates.filter((u) => u.status === 'logged_out').length, 1);
      const { state } = await driver.authStore.load(sessionId);
      assert.equal(state.creds.me, undefined);
    });

    it('logout() of a session that is not online fails with not_implemented and logs nothing out', async () => {
      const { connection, sockets } = await setup();
      await rejectsWith(connection.logout(), 'not_implemented');
      assert.equal(sockets[0]!.loggedOut, 0);
      await connection.close();
    });

    it('requestPairingCode() works while pairing and is a conflict once paired', async () => {
      const { connection, sockets } = await setup();
      sockets[0]!.emit('connection.update', { qr: '2@abc' });
      await tick();
      assert.equal((await connection.requestPairingCode('+4915111111111')).code, 'ABCD1234');
      sockets[0]!.emit('creds.update', { account: { details: Buffer.from('x') } });
      await goOnline(connection, sockets[0]!);
      await rejectsWith(connection.requestPairingCode('+4915111111111'), 'conflict');
      await connection.close();
    });

    it('drives a real Baileys socket: an unreachable WhatsApp endpoint is a transient close, retried until close()', async () => {
      const org = await testEnv.admin.createOrganization(`Drv ${uniq()}`, `org_${uniq()}`);
      const sessionId = (await testEnv.admin.createSession(org.id, null)).id;
      const closed = await new Promise<number>((resolve) => {
        const server = createServer();
        server.listen(0, '127.0.0.1', () => {
          const { port } = server.address() as AddressInfo;
          server.close(() => resolve(port));
        });
      });
      let built = 0;
      const driver = new BaileysDriver({
        db: testEnv.db,
        logger: silent,
        socketLogLevel: 'silent',
        waWebSocketUrl: `ws://127.0.0.1:${closed}/ws/chat`,
        backoff: { initialMs: 5, maxMs: 10 },
        makeSocket: (config) => {
          built++;
          return makeWASocket(config);
        },
      });
      const connection = await driver.connect(sessionId);
      const updates: ConnectionUpdate[] = [];
      connection.events.on('connection', (u: ConnectionUpdate) => updates.push(u));
      const update = await next(connection, 'offline');
      assert.deepEqual(updates[0], { status: 'connecting' });
      // What the network said, not only Baileys' code for it.
      assert.match(update.reason ?? '', /^timedOut \(408\): connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
      while (built < 2) await tick();
      await connection.close();
      await rejectsWith(connection.fetchAbout('4915111111111@s.whatsapp.net'), 'not_implemented');
    });

    it('refuses a second connection for a session it is already connecting', async () => {
      const { driver, sessionId, connection } = await setup();
      await rejectsWith(driver.connect(sessionId), 'conflict');
      await connection.close();
    });

    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const countRows = async (table: string, sessionId: string) =>
      Number(
        (
          (await testEnv.db.query(`SELECT COUNT(*) AS n FROM ${table} WHERE session_id = ?`, [sessionId])) as {
            n: number | string;
          }[]
        )[0]!.n,
      );

    describe('pairing codes (item 1)', () => {
      it('are refused (503) until the current socket has shown a QR code, without asking Baileys or touching the credentials', async () => {
        const { connection, sockets } = await setup();
        sockets[0]!.emit('connection.update', { connection: 'connecting' });
        await tick();
        const err = await rejectsWith(connection.requestPairingCode('+4915111111111'), 'unavailable');
        assert.equal(err.details['retryAfterSeconds'], 2);
        assert.deepEqual(sockets[0]!.live.calls.requestPairingCode, []);
        assert.equal(sockets[0]!.config.auth.creds.me, undefined);

        sockets[0]!.emit('connection.update', { qr: '2@first' });
        await tick();
        assert.equal((await connection.requestPairingCode('+4915111111111')).code, 'ABCD1234');

        // A QR code shown by the previous socket does not make the next one ready.
        sockets[0]!.close(DisconnectReason.connectionLost);
        while (sockets.length < 2) await tick();
        sockets[1]!.emit('connection.update', { connection: 'connecting' });
        await tick();
        await rejectsWith(connection.requestPairingCode('+4915111111111'), 'unavailable');
        assert.deepEqual(sockets[1]!.live.calls.requestPairingCode, []);
        await connection.close();
      });

      it('take back what Baileys stored when the request fails, in memory and in MySQL', async () => {
        const { driver, sessionId, connection, sockets } = await setup();
        const sock = sockets[0]!;
        sock.emit('connection.update', { qr: '2@abc' });
        await tick();
        sock.asDriverSocket().requestPairingCode = async (phone) => {
          // What rc14 does: the phone and code go into creds (and creds.update) before the send, which then fails.
          const creds = sock.config.auth.creds;
          creds.pairingCode = 'ABCD1234';
          creds.me = { id: `${phone}@s.whatsapp.net`, name: '~' };
          sock.emit('creds.update', creds);
          throw new Boom('Connection Closed', { statusCode: DisconnectReason.connectionClosed });
        };
        await rejectsWith(connection.requestPairingCode('+4915111111111'), 'not_implemented');
        assert.equal(sock.config.auth.creds.me, undefined);
        assert.equal(sock.config.auth.creds.pairingCode, undefined);
        await driver.authStore.flush(sessionId);
        const stored = await driver.authStore.load(sessionId);
        assert.equal(stored.state.creds.me, undefined);
        assert.equal(stored.state.creds.pairingCode, undefined);
        await connection.close();
      });

      it('say when they stop working: when the socket runs out of QR codes (60 s, then 20 s per further ref)', async () => {
        const { connection, sockets } = await setup();
        const sock = sockets[0]!;
        const refs = Array.from({ length: 6 }, (_, i): BinaryNode => ({
          tag: 'ref',
          attrs: {},
          content: Buffer.from(`ref-${i}`),
        }));
        const before = Date.now();
        sock.ws.emit('CB:iq,type:set,pair-device', {
          tag: 'iq',
          attrs: { type: 'set' },
          content: [{ tag: 'pair-device', attrs: {}, content: refs }],
        });
        const after = Date.now();
        sock.emit('connection.update', { qr: '2@abc' });
        await tick();
        const { expiresAt } = await connection.requestPairingCode('+4915111111111');
        assert.ok(
          expiresAt >= before + 160_000 && expiresAt <= after + 160_000,
          `expiresAt ${expiresAt - before} ms after the QR list`,
        );
        await connection.close();
      });

      it('a loggedOut (401) before pairing finished resets the credentials and pairs again, instead of logged_out', async () => {
        const { driver, sessionId, connection, sockets, updates } = await setup();
        const first = sockets[0]!;
        first.emit('connection.update', { qr: '2@abc' });
        await tick();
        first.emit('creds.update', { me: { id: '4915111111111@s.whatsapp.net', name: '~' } });
        await driver.authStore.keyStore(sessionId).set({ 'lid-mapping': { '4911': '777' } });
        const offline = next(connection, 'offline');
        first.close(DisconnectReason.loggedOut);
        const { reason, retryAt } = await offline;
        assert.equal(reason, 'loggedOut (401) before pairing finished: credentials reset, pairing again');
        assert.equal(typeof retryAt, 'number');
        while (sockets.length < 2) await tick();
        const second = sockets[1]!;
        assert.notDeepEqual(
          second.config.auth.creds.noiseKey.public,
          first.config.auth.creds.noiseKey.public,
          'fresh credentials',
        );
        assert.equal(second.config.auth.creds.me, undefined);
        assert.equal(await countRows('wa_auth_keys', sessionId), 0);
        const pairing = next(connection, 'pairing');
        second.emit('connection.update', { qr: '2@again' });
        await pairing;
        assert.ok(!updates.some((u) => u.status === 'logged_out'));
        await connection.close();
      });
    });

    describe('a WhatsApp Web version WhatsApp refuses (405, item 3)', () => {
      it('is a state of its own: offline with the reason, told to the metrics, tried again only after the slow pause', async () => {
        const closes: string[] = [];
        const { connection, sockets } = await setup({
          version: [2, 3000, 1],
          versionRejectedRetryMs: 3_600_000,
          observer: { socketClosed: (r) => closes.push(r) },
        });
        assert.deepEqual(sockets[0]!.config.version, [2, 3000, 1]);
        const offline = next(connection, 'offline');
        const closedAt = Date.now();
        sockets[0]!.close(405);
        const { reason, retryAt } = await offline;
        assert.equal(reason, 'clientOutdated (405): WhatsApp refused WhatsApp Web version 2.3000.1; set WA_VERSION');
        assert.ok(retryAt !== undefined && retryAt >= closedAt + 0.9 * 3_600_000, 'the next try is about an hour away');
        assert.deepEqual(closes, ['clientOutdated']);
        await tick();
        assert.equal(sockets.length, 1);
        await connection.close();
      });

      it('is tried again at once with a newer version when one could be fetched', async () => {
        let served: WAVersion = [2, 3000, 2];
        const version = new WaVersionSource({
          configured: undefined,
          fetch: true,
          fetchTimeoutMs: 1_000,
          refetchIntervalMs: 0,
          fetcher: async () => served,
          logger: silent,
        });
        await version.init();
        const { connection, sockets } = await setup({ version, versionRejectedRetryMs: 3_600_000 });
        assert.deepEqual(sockets[0]!.config.version, [2, 3000, 2]);
        served = [2, 3000, 3];
        sockets[0]!.close(405);
        while (sockets.length < 2) await tick();
        assert.deepEqual(sockets[1]!.config.version, [2, 3000, 3]);
        await connection.close();
      });
    });

    describe('the connect watchdog (item 5)', () => {
      it('ends a socket that neither shows a QR code nor comes online in time, and retries with the same credentials', async () => {
        const closes: string[] = [];
        const { connection, sockets } = await setup({
          connectTimeoutMs: 50,
          observer: { socketClosed: (r) => closes.push(r) },
        });
        sockets[0]!.emit('connection.update', { connection: 'connecting' });
        const offline = await next(connection, 'offline');
        assert.equal(offline.reason, 'connectTimeout: no QR code and no login within 50 ms');
        assert.equal(sockets[0]!.ended.length, 1);
        assert.deepEqual(closes, ['connectTimeout']);
        while (sockets.length < 2) await tick();
        assert.equal(sockets[1]!.config.auth.creds, sockets[0]!.config.auth.creds);
        await connection.close();
      });

      it('leaves alone a socket that has shown a QR code', async () => {
        const { connection, sockets, updates } = await setup({ connectTimeoutMs: 300 });
        sockets[0]!.emit('connection.update', { qr: '2@abc' });
        // An armed watchdog is due before this sleep ends, whatever the load.
        await sleep(900);
        assert.ok(!updates.some((u) => u.status === 'offline'));
        assert.equal(sockets.length, 1);
        await connection.close();
      });
    });

    describe('live calls on a socket that closes or goes silent (item 4)', () => {
      const never = () => new Promise<never>(() => undefined);

      it('answer not_implemented as soon as their socket closes under them', async () => {
        const { connection, sockets } = await setup();
        await goOnline(connection, sockets[0]!);
        sockets[0]!.asDriverSocket().fetchStatus = never;
        const pending = connection.fetchAbout('4915111111111@s.whatsapp.net');
        await tick();
        sockets[0]!.close(DisconnectReason.connectionLost);
        await rejectsWith(pending, 'not_implemented');
        await connection.close();
      });

      it('answer not_implemented when close() ends the socket (Baileys drops the listeners its queries wait on)', async () => {
        const { connection, sockets } = await setup();
        await goOnline(connection, sockets[0]!);
        sockets[0]!.asDriverSocket().updateBlockStatus = never;
        const refused = rejectsWith(connection.updateBlock('205227043110953@lid', 'block'), 'not_implemented');
        await tick();
        await connection.close();
        await refused;
      });

      it('answer timeout, never success, when WhatsApp stays silent (rc14 would resolve undefined)', async () => {
        const { connection, sockets } = await setup({ queryTimeoutMs: 50 });
        await goOnline(connection, sockets[0]!);
        // rc14's updateBlockStatus after its query timed out: resolves, as if blocked.
        sockets[0]!.asDriverSocket().updateBlockStatus = () => sleep(1_000).then(() => undefined);
        await rejectsWith(connection.updateBlock('205227043110953@lid', 'block'), 'timeout');
        await connection.close();
      });

      it('give profilePictureUrl the timeout, so silence is a timeout rather than "no picture"', async () => {
        const { connection, sockets } = await setup({ queryTimeoutMs: 1_234 });
        assert.ok(
          (sockets[0]!.config.defaultQueryTimeoutMs ?? 0) >= 1_234,
          "Baileys' own limit is never the shorter one",
        );
        await goOnline(connection, sockets[0]!);
        const seen: (number | undefined)[] = [];
        sockets[0]!.asDriverSocket().profilePictureUrl = async (_jid, _type, timeoutMs) => {
          seen.push(timeoutMs);
          return undefined;
        };
        assert.equal(await connection.profilePicture('205227043110953@lid', 'image'), undefined);
        assert.deepEqual(seen, [1_234]);
        await connection.close();
      });
    });

    describe('LIDs and LID ↔ phone mappings (items 2 and 6)', () => {
      /** Baileys' own LID store over the connection's key store; `usync` stands for WhatsApp's answer to a LID look-up. */
      function lidStore(sock: FakeSocket, usync: (pns: string[]) => LIDMapping[]) {
        const asked: string[][] = [];
        const keys = addTransactionCapability(sock.config.auth.keys, silent, {
          maxCommitRetries: 1,
          delayBetweenTriesMs: 1,
        });
        const store = new LIDMappingStore(keys, silent, async (pns) => {
          asked.push(pns);
          return usync(pns);
        });
        sock.asDriverSocket().signalRepository = { lidMapping: store };
        return { store, asked };
      }
      const lidOf = (pn: string) => `2052270${pn.slice(5, 13)}@lid`;
      const everyoneRegistered = async (...phones: string[]) =>
        onWhatsAppReply(phones.map((p) => ({ jid: `${p.replace('+', '')}@s.whatsapp.net`, registered: true })));

      it('a bulk check takes LIDs only from the key store and asks WhatsApp nothing more; a live check looks the rest up and counts it', async () => {
        const counted: number[] = [];
        const { connection, sockets } = await setup({ countQueries: (_session, n) => counted.push(n) });
        const sock = sockets[0]!;
        await goOnline(connection, sock);
        const { asked } = lidStore(sock, (pns) => pns.map((pn) => ({ pn, lid: lidOf(pn) })));
        await sock.config.auth.keys.set({
          'lid-mapping': { '4915111111111': '205227043110953', '205227043110953_reverse': '4915111111111' },
        });
        sock.asDriverSocket().onWhatsApp = everyoneRegistered;

        const bulk = await connection.onWhatsApp(['4915111111111', '4915222222222'], { bulk: true });
        assert.deepEqual(bulk, [
          { phone: '4915111111111', exists: true, jid: '4915111111111@s.whatsapp.net', lid: '205227043110953@lid' },
          { phone: '4915222222222', exists: true, jid: '4915222222222@s.whatsapp.net' },
        ]);
        assert.deepEqual(asked, [], 'no LID look-up for a bulk chunk');
        assert.deepEqual(counted, [], "the batch runner took the chunk's budget itself");

        const [live] = await connection.onWhatsApp(['4915222222222']);
        assert.equal(live?.lid, lidOf('4915222222222@s.whatsapp.net'));
        assert.deepEqual(asked, [['4915222222222@s.whatsapp.net']]);
        assert.deepEqual(counted, [1, 1], 'the check and its LID look-up');
        await connection.close();
      });

      it('hands every mapping Baileys stores to ingestion once (not its _reverse row), marking those its own look-ups stored', async () => {
        const { connection, sockets } = await setup();
        const sock = sockets[0]!;
        await goOnline(connection, sock);
        const seen: unknown[] = [];
        connection.events.on('lid-mapping.update', (m: unknown) => seen.push(m));
        const { store } = lidStore(sock, (pns) => pns.map((pn) => ({ pn, lid: lidOf(pn) })));
        // As a decrypted message or a history sync stores one.
        await store.storeLIDPNMappings([{ lid: '205227043110953@lid', pn: '4915111111111@s.whatsapp.net' }]);
        sock.asDriverSocket().onWhatsApp = everyoneRegistered;
        await connection.onWhatsApp(['4915222222222']);
        assert.deepEqual(seen, [
          { lid: '205227043110953@lid', pn: '4915111111111@s.whatsapp.net' },
          { lid: lidOf('4915222222222@s.whatsapp.net'), pn: '4915222222222@s.whatsapp.net', lookup: true },
        ]);
        await connection.close();
      });

      it('marks as a look-up the mapping a picture query or a block by phone learns (Baileys resolves the LID first)', async () => {
        const { connection, sockets } = await setup();
        const sock = sockets[0]!;
        await goOnline(connection, sock);
        const seen: unknown[] = [];
        connection.events.on('lid-mapping.update', (m: unknown) => seen.push(m));
        const { store } = lidStore(sock, (pns) => pns.map((pn) => ({ pn, lid: lidOf(pn) })));
        // As rc14's profilePictureUrl builds its privacy token, and updateBlockStatus finds the LID to block.
        sock.asDriverSocket().profilePictureUrl = async (jid) => {
          await store.getLIDForPN(jid);
          return undefined;
        };
        sock.asDriverSocket().updateBlockStatus = async (jid) => {
          await store.getLIDForPN(jid);
        };
        await connection.profilePicture('4915444444444@s.whatsapp.net', 'preview');
        await connection.updateBlock('4915555555555@s.whatsapp.net', 'block');
        assert.deepEqual(seen, [
          { lid: lidOf('4915444444444@s.whatsapp.net'), pn: '4915444444444@s.whatsapp.net', lookup: true },
          { lid: lidOf('4915555555555@s.whatsapp.net'), pn: '4915555555555@s.whatsapp.net', lookup: true },
        ]);
        await connection.close();
      });

      async function ingested(sessionId: string) {
        return (await testEnv.db.query(
          'SELECT lid, phone_jid, name, dm FROM contacts WHERE session_id = ? ORDER BY id',
          [sessionId],
        )) as {
          lid: string | null;
          phone_jid: string | null;
          name: string | null;
          dm: number;
        }[];
      }

      it('gets a history sync’s mappings to the stored contacts, though Baileys’ event buffer drops lidPnMappings', async () => {
        const { sessionId, connection, sockets } = await setup();
        const sock = sockets[0]!;
        const ingestion = new ContactIngestor(testEnv.db, silent).attach(sessionId, connection.events);
        await goOnline(connection, sock);
        const { store } = lidStore(sock, () => []);
        // Alice is in the address book by phone and has a chat by LID: two rows unless the mapping arrives.
        const history: BaileysEventMap['messaging-history.set'] = {
          contacts: [{ id: '4915111111111@s.whatsapp.net', name: 'Alice Anders' }],
          chats: [{ id: '205227043110953@lid' }],
          messages: [],
          lidPnMappings: [{ lid: '205227043110953@lid', pn: '4915111111111@s.whatsapp.net' }],
          syncType: proto.HistorySync.HistorySyncType.INITIAL_BOOTSTRAP,
        };
        const forwarded = event(connection, 'messaging-history.set');
        // As rc14 handles a history notification: inside a buffered function, store the mappings, then emit the set.
        const processHistory = sock.ev.createBufferedFunction(async () => {
          await store.storeLIDPNMappings(history.lidPnMappings!);
          sock.emit('messaging-history.set', history);
        });
        await processHistory();
        const payload = await forwarded;
        assert.equal(
          payload.lidPnMappings,
          undefined,
          "the buffer's consolidation rebuilt the set without lidPnMappings",
        );
        await ingestion.drain();
        assert.deepEqual(await ingested(sessionId), [
          { lid: '205227043110953@lid', phone_jid: '4915111111111@s.whatsapp.net', name: 'Alice Anders', dm: 1 },
        ]);
        ingestion.detach();
        await connection.close();
      });

      it('applies a mapping its own look-up learned only to people already stored', async () => {
        const { sessionId, connection, sockets } = await setup();
        const sock = sockets[0]!;
        const ingestion = new ContactIngestor(testEnv.db, silent).attach(sessionId, connection.events);
        await goOnline(connection, sock);
        // Bob is stored by phone; Carol was never seen by this session, only checked.
        sock.emit('contacts.upsert', [{ id: '4915222222222@s.whatsapp.net', name: 'Bob' }]);
        await ingestion.drain();
        lidStore(sock, (pns) => pns.map((pn) => ({ pn, lid: lidOf(pn) })));
        sock.asDriverSocket().onWhatsApp = everyoneRegistered;
        await connection.onWhatsApp(['4915222222222', '4915333333333']);
        await ingestion.drain();
        assert.deepEqual(await ingested(sessionId), [
          { lid: lidOf('4915222222222@s.whatsapp.net'), phone_jid: '4915222222222@s.whatsapp.net', name: 'Bob', dm: 0 },
        ]);
        ingestion.detach();
        await connection.close();
      });
    });
  });
});
