/**
 * A fake WhatsApp server on 127.0.0.1 that the real, unmodified Baileys socket connects to
 * (`waWebSocketUrl`). It speaks the Noise XX handshake and WABinary, registers companions that a
 * FakePhone pairs by QR, logs them in, and answers the queries the gateway makes. Tests reach
 * into it to pair, unlink, inject faults and count queries.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Curve, S_WHATSAPP_NET, type proto } from '@whiskeysockets/baileys';
import { WebSocketServer, type WebSocket } from 'ws';
import { encodeCertChain, newCertChainKeys, type ChainFaults } from './cert-chain.js';
import { ClientConnection } from './connection.js';
import {
  bytesOf,
  child,
  childrenOf,
  iqError,
  iqResult,
  node,
  readBigEndian,
  textOf,
  type BinaryNode,
} from './nodes.js';
import { answerQuery, type QueryContext } from './queries.js';
import { FakeWorld, pnJid, userOf } from './world.js';
import type { FakePhone } from './phone.js';

/** A linked device (companion) as the server keeps it: what it registered with and its Signal keys. */
export interface Companion {
  phone: string;
  device: number;
  /** The static Noise key it registered with: it must log in with the same. */
  noiseKey: Buffer;
  registrationId: number;
  identityKey: Buffer;
  signedPreKey: { id: number; publicKey: Buffer; signature: Buffer };
  preKeys: Map<number, Buffer>;
  platform: string;
}

/** A client that registered (no account yet) and was shown pairing refs. */
export interface Registration {
  client: FakeClient;
  refs: string[];
  noiseKey: Buffer;
  identityKey: Buffer;
  registrationId: number;
  signedPreKey: { id: number; publicKey: Buffer; signature: Buffer };
}

export interface Faults {
  /** Answer no query at all (the socket stays open): a server that stopped answering. */
  silent: boolean;
  /** Refuse every login with `<failure reason=…/>` (405: client version rejected). */
  loginFailure: number | undefined;
  /** Query kinds answered with `429 rate-overlimit`. */
  rateLimited: Set<string>;
  /** Query kinds answered with `429` this many more times. */
  rateLimitedTimes: Map<string, number>;
  /** Certificate chain faults for new connections. */
  chain: ChainFaults;
}

export interface PairingCodeRequest {
  phone: string;
  platformDisplay: string;
  at: number;
}

const REFS_PER_REGISTRATION = 6;

export class FakeWhatsApp {
  readonly world = new FakeWorld();
  readonly certKeys = newCertChainKeys();
  readonly faults: Faults = {
    silent: false,
    loginFailure: undefined,
    rateLimited: new Set(),
    rateLimitedTimes: new Map(),
    chain: {},
  };
  readonly clients = new Set<FakeClient>();
  readonly companions = new Map<string, Companion>();
  readonly phones = new Map<string, FakePhone>();
  readonly registrations = new Map<string, Registration>();
  readonly pairingCodeRequests: PairingCodeRequest[] = [];
  /** Every login (a client that was paired before), with how the server answered it. */
  readonly logins: { phone: string; device: number; outcome: string; at: number }[] = [];
  /** Clients that came to register (pair) a new device. */
  registrationCount = 0;
  /** Every query answered (or refused), by kind (`usync`, `picture`, `blocklist.set`, …). */
  readonly queryCounts = new Map<string, number>();
  /** Every usync query: its protocols and the users it named (phone digits or JIDs), in arrival order. */
  readonly usyncQueries: { protocols: string[]; users: string[]; refused: boolean }[] = [];
  /** WebSocket connections accepted, and Noise handshakes the client completed (it trusted the certificate chain). */
  readonly handshakes = { started: 0, completed: 0 };
  readonly unhandled: string[] = [];
  readonly errors: unknown[] = [];
  private readonly serverStatic = Curve.generateKeyPair();
  private wss: WebSocketServer | undefined;
  private http: Server | undefined;
  private port = 0;

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws/chat`;
  }

  /** The root public key (hex) a client must trust: what the test-only trust preload installs. */
  get rootPublicKeyHex(): string {
    return Buffer.from(this.certKeys.root.public).toString('hex');
  }

  /** Listens on 127.0.0.1 (`port` 0: a free one); `onHttp` answers plain HTTP requests on the same port. */
  async start(port = 0, onHttp?: (req: IncomingMessage, res: ServerResponse) => void): Promise<void> {
    const http = createServer((req, res) => {
      if (onHttp) return onHttp(req, res);
      res.writeHead(426).end();
    });
    const wss = new WebSocketServer({ server: http });
    http.listen(port, '127.0.0.1');
    await once(http, 'listening');
    this.http = http;
    this.wss = wss;
    this.port = (http.address() as { port: number }).port;
    wss.on('connection', (ws: WebSocket) => this.accept(ws));
  }

  async stop(): Promise<void> {
    for (const client of this.clients) client.connection.drop();
    await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => (this.http ? this.http.close(() => resolve()) : resolve()));
  }

  addPhone(phone: FakePhone): void {
    this.phones.set(phone.user.phone, phone);
  }

  count(kind: string): number {
    return this.queryCounts.get(kind) ?? 0;
  }

  countQuery(kind: string): void {
    this.queryCounts.set(kind, this.count(kind) + 1);
  }

  /** The logged-in clients of a companion (normally one). */
  clientsOf(phone: string, device?: number): FakeClient[] {
    return [...this.clients].filter(
      (c) => c.companion?.phone === phone && (device === undefined || c.companion.device === device),
    );
  }

  companionsOf(phone: string): Companion[] {
    return [...this.companions.values()].filter((c) => c.phone === phone);
  }

  /** Ends a companion's open connections as WhatsApp does when another client took its place (`440`). */
  replace(companion: Companion): void {
    for (const client of this.clientsOf(companion.phone, companion.device)) {
      client.connection.send(node('stream:error', {}, [node('conflict', { type: 'replaced' })]));
      client.connection.close();
    }
  }

  /** Drops a companion's connections without a word (a network failure). */
  drop(companion: Companion): void {
    for (const client of this.clientsOf(companion.phone, companion.device)) client.connection.drop();
  }

  loginsOf(companion: Companion): { outcome: string; at: number }[] {
    return this.logins.filter((l) => l.phone === companion.phone && l.device === companion.device);
  }

  /** Forgets a companion and ends its open connections with `401` (the phone unlinked it). */
  unlink(companion: Companion): void {
    this.companions.delete(companionKey(companion.phone, companion.device));
    for (const client of this.clientsOf(companion.phone, companion.device)) {
      client.connection.send(node('stream:error', { code: '401' }, [node('conflict', { type: 'device_removed' })]));
      client.connection.close();
    }
  }

  private accept(ws: WebSocket): void {
    const chain = encodeCertChain(this.certKeys, this.serverStatic.public, this.faults.chain);
    const connection = new ClientConnection(ws, this.serverStatic, chain, (err) => this.errors.push(err));
    const client = new FakeClient(this, connection);
    this.handshakes.started++;
    connection.on('hello', () => this.handshakes.completed++);
    this.clients.add(client);
    connection.on('close', () => {
      this.clients.delete(client);
      for (const [ref, registration] of this.registrations)
        if (registration.client === client) this.registrations.delete(ref);
    });
  }
}

export const companionKey = (phone: string, device: number) => `${phone}:${device}`;
export const companionJid = (c: Companion) => `${c.phone}:${c.device}@s.whatsapp.net`;

/** The server's side of one client connection. */
export class FakeClient {
  companion: Companion | undefined;
  payload: proto.ClientPayload | undefined;
  /** Ids of iqs the server sent, with what to do with the client's answer. */
  private readonly awaiting = new Map<string, (answer: BinaryNode) => void>();
  private nextId = 1;

  constructor(
    readonly server: FakeWhatsApp,
    readonly connection: ClientConnection,
  ) {
    connection.on('hello', (payload, clientStatic) => this.onHello(payload, clientStatic));
    connection.on('node', (n) => this.onNode(n));
  }

  /** Sends an iq to the client; `onAnswer` gets its result. */
  sendIq(content: BinaryNode[], attrs: Record<string, string>, onAnswer?: (answer: BinaryNode) => void): void {
    const id = `fake-${this.connection.id}-${this.nextId++}`;
    if (onAnswer) this.awaiting.set(id, onAnswer);
    this.connection.send(node('iq', { id, from: S_WHATSAPP_NET, ...attrs }, content));
  }

  private onHello(payload: proto.ClientPayload, clientStatic: Buffer): void {
    this.payload = payload;
    if (payload.devicePairingData) this.register(payload.devicePairingData, clientStatic);
    else this.login(payload, clientStatic);
  }

  private register(data: proto.ClientPayload.IDevicePairingRegistrationData, noiseKey: Buffer): void {
    this.server.registrationCount++;
    const refs = Array.from({ length: REFS_PER_REGISTRATION }, () => `2@${randomBytes(18).toString('base64')}`);
    const registration: Registration = {
      client: this,
      refs,
      noiseKey,
      identityKey: Buffer.from(data.eIdent!),
      registrationId: readBigEndian(Buffer.from(data.eRegid!)),
      signedPreKey: {
        id: readBigEndian(Buffer.from(data.eSkeyId!)),
        publicKey: Buffer.from(data.eSkeyVal!),
        signature: Buffer.from(data.eSkeySig!),
      },
    };
    for (const ref of refs) this.server.registrations.set(ref, registration);
    this.sendIq(
      [
        node(
          'pair-device',
          {},
          refs.map((ref) => node('ref', {}, Buffer.from(ref))),
        ),
      ],
      { type: 'set', xmlns: 'md' },
    );
  }

  private login(payload: proto.ClientPayload, noiseKey: Buffer): void {
    const { faults } = this.server;
    const phone = String(payload.username ?? '');
    const device = payload.device ?? 0;
    const refuse = (reason: number) => {
      this.server.logins.push({ phone, device, outcome: `failure ${reason}`, at: Date.now() });
      this.connection.send(node('failure', { reason: String(reason), location: 'fake' }));
    };
    if (faults.loginFailure !== undefined) return refuse(faults.loginFailure);
    const companion = this.server.companions.get(companionKey(phone, device));
    // WhatsApp knows a companion by the Noise key it registered with.
    if (!companion || !companion.noiseKey.equals(noiseKey)) return refuse(401);
    this.server.logins.push({ phone, device, outcome: 'success', at: Date.now() });
    // One connection per companion: a second login replaces the first.
    for (const other of this.server.clientsOf(companion.phone, companion.device)) {
      if (other === this) continue;
      other.connection.send(node('stream:error', {}, [node('conflict', { type: 'replaced' })]));
      other.connection.close();
    }
    this.companion = companion;
    const user = this.server.world.byPhoneNumber(phone)!;
    this.connection.send(
      node('success', {
        t: String(Math.floor(Date.now() / 1000)),
        lid: `${userOf(user.lid)}:${companion.device}@lid`,
        location: 'fake',
        props: '1',
      }),
    );
  }

  private onNode(n: BinaryNode): void {
    const id = n.attrs['id'];
    if (
      n.tag === 'iq' &&
      (n.attrs['type'] === 'result' || n.attrs['type'] === 'error') &&
      id &&
      this.awaiting.has(id)
    ) {
      const onAnswer = this.awaiting.get(id)!;
      this.awaiting.delete(id);
      onAnswer(n);
      return;
    }
    if (n.tag !== 'iq') return this.onOtherNode(n);
    if (n.attrs['type'] === 'result') return;
    if (this.server.faults.silent) return;
    const answer = this.answer(n);
    if (answer) this.connection.send(answer);
  }

  private onOtherNode(n: BinaryNode): void {
    // Receipts, acks, presence and telemetry need no answer.
    if (['receipt', 'ack', 'presence', 'ib', 'chatstate'].includes(n.tag)) return;
    this.server.unhandled.push(`${n.tag} ${JSON.stringify(n.attrs)}`);
  }

  private answer(iq: BinaryNode): BinaryNode | undefined {
    const xmlns = iq.attrs['xmlns'] ?? '';
    const first = childrenOf(iq)[0];
    switch (xmlns) {
      case 'w:p':
        return iqResult(iq);
      case 'encrypt':
        return this.encryptQuery(iq, first);
      case 'passive':
        if (this.companion && first?.tag === 'active') setImmediate(() => void this.afterLogin());
        return iqResult(iq);
      case 'w:stats':
      case 'urn:xmpp:whatsapp:dirty':
        return iqResult(iq);
      case 'abt':
        return iqResult(iq, [node('props', { protocol: '1', hash: 'fake' }, [])]);
      case 'privacy':
        if (iq.attrs['type'] === 'get') {
          const categories = ['last', 'online', 'profile', 'status', 'readreceipts', 'groupadd', 'calladd'];
          return iqResult(iq, [
            node(
              'privacy',
              {},
              categories.map((name) => node('category', { name, value: 'all' })),
            ),
          ]);
        }
        return iqResult(iq);
      case 'md':
        return this.mdQuery(iq, first);
      default: {
        const ctx: QueryContext = { server: this.server, client: this };
        const answer = answerQuery(ctx, iq);
        if (answer) return answer;
        this.server.unhandled.push(`iq ${xmlns} ${iq.attrs['type']} ${first?.tag ?? ''}`);
        return iqError(iq, 501, 'feature-not-implemented');
      }
    }
  }

  /**
   * The client went active: the offline marker (nothing was queued for it) lets Baileys flush the
   * events it buffered since login; then the phone's messages for it, as they come in live.
   */
  private async afterLogin(): Promise<void> {
    const companion = this.companion!;
    this.connection.send(node('ib', {}, [node('offline', { count: '0' })]));
    try {
      await this.server.phones.get(companion.phone)?.onCompanionActive(this);
    } catch (err) {
      this.server.errors.push(err);
    }
  }

  private encryptQuery(iq: BinaryNode, first: BinaryNode | undefined): BinaryNode {
    const companion = this.companion;
    if (!companion) return iqError(iq, 401, 'not-authorized');
    if (iq.attrs['type'] === 'get' && first?.tag === 'count') {
      return iqResult(iq, [node('count', { value: String(companion.preKeys.size) })]);
    }
    if (iq.attrs['type'] === 'get' && first?.tag === 'digest') {
      return iqResult(iq, [node('digest', {}, [node('type', {}, Buffer.from([5])), node('list', {}, [])])]);
    }
    if (iq.attrs['type'] === 'set' && child(iq, 'list')) {
      this.server.countQuery('prekeys.upload');
      companion.identityKey = bytesOf(child(iq, 'identity')) ?? companion.identityKey;
      for (const key of childrenOf(child(iq, 'list'))) {
        const id = readBigEndian(bytesOf(child(key, 'id'))!);
        companion.preKeys.set(id, bytesOf(child(key, 'value'))!);
      }
      const skey = child(iq, 'skey');
      if (skey) {
        companion.signedPreKey = {
          id: readBigEndian(bytesOf(child(skey, 'id'))!),
          publicKey: bytesOf(child(skey, 'value'))!,
          signature: bytesOf(child(skey, 'signature'))!,
        };
      }
      return iqResult(iq);
    }
    return iqResult(iq);
  }

  private mdQuery(iq: BinaryNode, first: BinaryNode | undefined): BinaryNode {
    if (first?.tag === 'remove-companion-device') {
      this.server.countQuery('logout');
      const companion = this.companion;
      if (companion) this.server.companions.delete(companionKey(companion.phone, companion.device));
      return iqResult(iq);
    }
    if (first?.tag === 'link_code_companion_reg') {
      this.server.countQuery('pairing-code');
      const phone = userOf(first.attrs['jid'] ?? '');
      const display = textOf(child(first, 'companion_platform_display')) ?? '';
      this.server.pairingCodeRequests.push({ phone, platformDisplay: display, at: Date.now() });
      return iqResult(iq, [
        node('link_code_companion_reg', {}, [
          node('link_code_pairing_ref', {}, Buffer.from(randomBytes(16).toString('base64'))),
        ]),
      ]);
    }
    return iqResult(iq);
  }
}

export const jidOfPhone = pnJid;
