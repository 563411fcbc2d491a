/**
 * The driver around the real, unmodified Baileys socket (makeWASocket), pointed at stub WebSocket
 * endpoints on 127.0.0.1 that misbehave the way networks do. What Baileys itself does there is
 * asserted first (the facts each fix relies on), then what the driver makes of it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { initAuthCreds, makeWASocket, type BinaryNode, type SignalKeyStore } from '@whiskeysockets/baileys';
import { pino } from 'pino';
import type { ConnectionUpdate, WhatsAppConnection } from '../worker/driver/driver.js';
import { BaileysDriver, type BaileysDriverOptions } from '../worker/driver/baileys/baileys-driver.js';
import { mapBaileysError } from '../worker/driver/baileys/errors.js';
import { AppError, type ErrorCode } from '../shared/errors.js';
import { testEnv } from './support/hooks.js';
import { StubWsServer, type StubBehaviour } from './support/stub-ws-server.js';

const silent = pino({ level: 'silent' });
const uniq = () => randomBytes(5).toString('hex');
const PHONE = '4915111111111';

/** A key store in memory: these tests never get far enough to need MySQL's. */
function memoryKeys(): SignalKeyStore {
  const rows = new Map<string, unknown>();
  return {
    get: async (type, ids) =>
      Object.fromEntries(
        ids.filter((id) => rows.has(`${type}/${id}`)).map((id) => [id, rows.get(`${type}/${id}`)]),
      ) as never,
    set: async (data) => {
      for (const [type, entries] of Object.entries(data))
        for (const [id, value] of Object.entries(entries ?? {})) rows.set(`${type}/${id}`, value);
    },
  };
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

describe('Baileys driver on the real Baileys socket (stub WebSocket endpoints)', function () {
  this.timeout(30_000);
  const stubs: StubWsServer[] = [];
  const connections: WhatsAppConnection[] = [];

  async function stub(behaviour: StubBehaviour): Promise<StubWsServer> {
    const server = await StubWsServer.start(behaviour);
    stubs.push(server);
    return server;
  }

  /** A driver connection of a fresh session over the real makeWASocket. */
  async function connect(server: StubWsServer, options: Partial<BaileysDriverOptions> = {}) {
    const org = await testEnv.admin.createOrganization(`Sock ${uniq()}`, `org_${uniq()}`);
    const sessionId = (await testEnv.admin.createSession(org.id, null)).id;
    const built: ReturnType<typeof makeWASocket>[] = [];
    const driver = new BaileysDriver({
      db: testEnv.db,
      logger: silent,
      socketLogLevel: 'silent',
      waWebSocketUrl: server.url,
      backoff: { initialMs: 5, maxMs: 10 },
      ...options,
      makeSocket: (config) => {
        const sock = makeWASocket(config);
        built.push(sock);
        return sock;
      },
    });
    const connection = await driver.connect(sessionId);
    connections.push(connection);
    const updates: ConnectionUpdate[] = [];
    connection.events.on('connection', (u: ConnectionUpdate) => updates.push(u));
    return { sessionId, driver, connection, built, updates };
  }

  afterEach(async () => {
    const closing = connections.splice(0).map((c) => c.close());
    // A silent stub never answers the WebSocket closing handshake: drop it so the sockets end now.
    for (const server of stubs) server.dropAll();
    await Promise.allSettled(closing);
    await Promise.allSettled(stubs.splice(0).map((s) => s.stop()));
  });

  /** Ends a bare Baileys socket without waiting for a closing handshake the stub never sends. */
  async function end(sock: ReturnType<typeof makeWASocket>, server: StubWsServer): Promise<void> {
    const ended = sock.end(undefined);
    server.dropAll();
    await ended;
  }

  describe('an HTTP error on the WebSocket upgrade (item 5: connect watchdog)', () => {
    it('leaves a bare Baileys socket `connecting` with no close: nothing but a watchdog ends it', async () => {
      const server = await stub({ kind: 'http-error', status: 502 });
      const sock = makeWASocket({
        auth: { creds: initAuthCreds(), keys: memoryKeys() },
        logger: silent,
        waWebSocketUrl: server.url,
      });
      const seen: string[] = [];
      sock.ev.on('connection.update', (u) => seen.push(u.connection ?? 'other'));
      await server.upgraded();
      // The answer has been given and the TCP connection closed; a later upgrade would be a retry.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(seen, ['connecting']);
      assert.equal(server.upgrades, 1);
      await end(sock, server);
    });

    it('ends such a socket after WA_CONNECT_TIMEOUT_MS as a timeout, retries on a new socket and keeps the credentials', async () => {
      const server = await stub({ kind: 'http-error', status: 502 });
      const closes: string[] = [];
      const { connection, built } = await connect(server, {
        connectTimeoutMs: 200,
        observer: { socketClosed: (reason) => closes.push(reason) },
      });
      const offline = await next(connection, 'offline');
      assert.match(offline.reason ?? '', /^connectTimeout: no QR code and no login within 200 ms$/);
      assert.equal(typeof offline.retryAt, 'number');
      await server.upgraded(2);
      assert.ok(built.length >= 2, 'a new socket was built');
      assert.deepEqual(closes.slice(0, 1), ['connectTimeout']);
      // The same (unpaired) credentials: a timeout must never make a session forget who it is.
      assert.deepEqual(built[1]!.authState.creds.noiseKey.public, built[0]!.authState.creds.noiseKey.public);
    });
  });

  describe('a pairing code on a socket that has not shown a QR code (item 1)', () => {
    it('Baileys itself, before the upgrade is answered: fails 428 and leaves creds.me behind', async () => {
      const server = await stub({ kind: 'no-answer' });
      const creds = initAuthCreds();
      const sock = makeWASocket({ auth: { creds, keys: memoryKeys() }, logger: silent, waWebSocketUrl: server.url });
      await server.upgraded();
      await assert.rejects(
        sock.requestPairingCode(PHONE),
        (err: { output?: { statusCode?: number } }) => err.output?.statusCode === 428,
      );
      // With `me` set the next handshake would log in instead of registering.
      assert.equal(creds.me?.id, `${PHONE}@s.whatsapp.net`);
      await end(sock, server);
    });

    it('Baileys itself, upgraded but mid-handshake: returns a code after sending the request unencrypted', async () => {
      const server = await stub({ kind: 'silent' });
      const creds = initAuthCreds();
      const sock = makeWASocket({ auth: { creds, keys: memoryKeys() }, logger: silent, waWebSocketUrl: server.url });
      await server.receivedAtLeast(1);
      const before = server.received.at(-1)!.reduce((n, b) => n + b.length, 0);
      const code = await sock.requestPairingCode(PHONE);
      assert.match(code, /^[A-Z0-9]{8}$/);
      await server.receivedAtLeast(before + 1);
      assert.equal(creds.me?.id, `${PHONE}@s.whatsapp.net`);
      await end(sock, server);
    });

    it('the driver refuses it before the upgrade is answered (503 unavailable), and the credentials stay untouched', async () => {
      const server = await stub({ kind: 'no-answer' });
      const { driver, sessionId, connection, built } = await connect(server);
      await server.upgraded();
      const err = await rejectsWith(connection.requestPairingCode(`+${PHONE}`), 'unavailable');
      assert.equal(err.details['retryAfterSeconds'], 2);
      assert.equal(built[0]!.authState.creds.me, undefined);
      await driver.authStore.flush(sessionId);
      assert.equal((await driver.authStore.load(sessionId)).state.creds.me, undefined);
    });

    it('the driver refuses it mid-handshake, and nothing is sent to WhatsApp', async () => {
      const server = await stub({ kind: 'silent' });
      const { connection, built } = await connect(server);
      await server.receivedAtLeast(1);
      const before = server.received.at(-1)!.reduce((n, b) => n + b.length, 0);
      await rejectsWith(connection.requestPairingCode(`+${PHONE}`), 'unavailable');
      assert.equal(built[0]!.authState.creds.me, undefined);
      assert.equal(
        server.received.at(-1)!.reduce((n, b) => n + b.length, 0),
        before,
      );
    });
  });

  describe('a query pending when the network drops (item 4)', () => {
    it('rejects with the bare WebSocket close code 1006, which the driver maps to not_implemented', async () => {
      const server = await stub({ kind: 'silent' });
      const sock = makeWASocket({
        auth: { creds: initAuthCreds(), keys: memoryKeys() },
        logger: silent,
        waWebSocketUrl: server.url,
      });
      await server.receivedAtLeast(1);
      const ping: BinaryNode = {
        tag: 'iq',
        attrs: { type: 'get', xmlns: 'w:p', to: 's.whatsapp.net' },
        content: [{ tag: 'ping', attrs: {} }],
      };
      const pending = sock.query(ping).then(
        () => 'resolved',
        (err: unknown) => err,
      );
      await server.receivedAtLeast(server.received.at(-1)!.reduce((n, b) => n + b.length, 0) + 1);
      server.dropAll();
      const outcome = await pending;
      assert.equal(outcome, 1006);
      const mapped = mapBaileysError(outcome);
      assert.equal(mapped.code, 'not_implemented');
      assert.match(mapped.details['reason'] as string, /1006/);
    });
  });
});
