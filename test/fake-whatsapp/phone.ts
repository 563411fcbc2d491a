/**
 * A user's phone, the primary device of a fake account: it links companions by scanning their QR
 * code (the pair-success that Baileys' configureSuccessfulPairing checks), keeps the account's
 * block list, and sends a newly linked companion its history sync over Signal.
 */
import { randomBytes } from 'node:crypto';
import {
  configureSuccessfulPairing,
  Curve,
  hmacSign,
  proto,
  WA_ADV_ACCOUNT_SIG_PREFIX,
  type AuthenticationCreds,
} from '@whiskeysockets/baileys';
import { companionKey, type Companion, type FakeClient, type FakeWhatsApp } from './fake-server.js';
import { historyNotifications, type HistorySpec } from './history.js';
import { node } from './nodes.js';
import { PhoneSignal } from './phone-signal.js';
import type { KeyPair } from './cert-chain.js';
import { userOf, type FakeUser } from './world.js';

/** What a QR code carries (Baileys' buildPairingQRData). */
export interface ScannedQr {
  ref: string;
  noiseKey: Buffer;
  identityKey: Buffer;
  advSecret: Buffer;
  platformId: string;
}

export function parseQr(qr: string): ScannedQr {
  const match = /^https:\/\/wa\.me\/settings\/linked_devices#(.+)$/.exec(qr);
  const parts = match?.[1]?.split(',') ?? [];
  if (parts.length !== 5) throw new Error(`not a WhatsApp pairing QR: ${qr}`);
  const [ref, noise, identity, adv, platformId] = parts as [string, string, string, string, string];
  return {
    ref,
    noiseKey: Buffer.from(noise, 'base64'),
    identityKey: Buffer.from(identity, 'base64'),
    advSecret: Buffer.from(adv, 'base64'),
    platformId,
  };
}

/**
 * The `device-identity` of a pair-success: the account key signs the companion's identity key
 * (ADVSignedDeviceIdentity), and the whole is HMACed with the companion's ADV secret from the QR.
 * `signer` signs instead of the account key (a forged pairing, for tests).
 */
export function signedDeviceIdentity(
  account: KeyPair,
  scanned: Pick<ScannedQr, 'identityKey' | 'advSecret'>,
  keyIndex: number,
  signer: KeyPair = account,
): Uint8Array {
  const deviceDetails = proto.ADVDeviceIdentity.encode({
    rawId: 1234,
    timestamp: Math.floor(Date.now() / 1000),
    keyIndex,
  }).finish();
  const accountSignature = Curve.sign(
    signer.private,
    Buffer.concat([WA_ADV_ACCOUNT_SIG_PREFIX, deviceDetails, scanned.identityKey]),
  );
  const signedIdentity = proto.ADVSignedDeviceIdentity.encode({
    details: deviceDetails,
    accountSignatureKey: account.public,
    accountSignature,
  }).finish();
  return proto.ADVSignedDeviceIdentityHMAC.encode({
    details: signedIdentity,
    hmac: hmacSign(signedIdentity, scanned.advSecret),
  }).finish();
}

export interface PhoneOptions {
  /** Companion device ids handed out, from this one up. */
  firstDevice?: number;
  /** What the phone sends each newly linked companion as its history sync. */
  history?: HistorySpec;
}

export class FakePhone {
  /** The account's identity key: signs every companion it links (the ADV account signature). */
  readonly identity: KeyPair = Curve.generateKeyPair();
  /** LIDs the account has blocked. */
  readonly blocked = new Set<string>();
  /** Companions that got their history sync (once each, after their first login). */
  readonly historySent = new Set<string>();
  private nextDevice: number;
  private readonly signal: PhoneSignal;

  constructor(
    readonly server: FakeWhatsApp,
    readonly user: FakeUser,
    private readonly options: PhoneOptions = {},
  ) {
    this.nextDevice = options.firstDevice ?? 2;
    this.signal = new PhoneSignal(this.identity, 1 + Math.floor(Math.random() * 16000));
    server.addPhone(this);
  }

  /**
   * Scans a companion's QR code: WhatsApp tells the waiting client it is paired (pair-success).
   * Resolves with the new companion once the client answered with its signed device identity.
   */
  scanQr(qr: string): Promise<Companion> {
    const scanned = parseQr(qr);
    const registration = this.server.registrations.get(scanned.ref);
    if (!registration) throw new Error('no client is showing this QR code');
    if (!registration.noiseKey.equals(scanned.noiseKey)) throw new Error('the QR code does not match its connection');
    const device = this.nextDevice++;
    const identityHmac = signedDeviceIdentity(this.identity, scanned, device);
    const companion: Companion = {
      phone: this.user.phone,
      device,
      noiseKey: registration.noiseKey,
      registrationId: registration.registrationId,
      identityKey: registration.identityKey,
      signedPreKey: registration.signedPreKey,
      preKeys: new Map(),
      platform: scanned.platformId,
    };
    const client = registration.client;
    for (const ref of registration.refs) this.server.registrations.delete(ref);
    return new Promise((resolve, reject) => {
      client.sendIq(
        [
          node('pair-success', {}, [
            node('device-identity', {}, identityHmac),
            node('platform', { name: 'android' }),
            node('device', {
              jid: `${this.user.phone}:${device}@s.whatsapp.net`,
              lid: `${userOf(this.user.lid)}:${device}@lid`,
            }),
          ]),
        ],
        { type: 'set', xmlns: 'md', t: String(Math.floor(Date.now() / 1000)) },
        (answer) => {
          if (answer.attrs['type'] !== 'result')
            return reject(new Error(`the client refused the pairing: ${JSON.stringify(answer)}`));
          this.server.companions.set(companionKey(companion.phone, companion.device), companion);
          // Pairing done: WhatsApp asks the client for a fresh connection.
          client.connection.send(node('stream:error', { code: '515' }));
          client.connection.close();
          resolve(companion);
        },
      );
    });
  }

  /**
   * Links a companion without a QR scan, as if it had paired earlier and uploaded `preKeys`: the
   * credentials are completed by Baileys' own configureSuccessfulPairing, as at a real pairing.
   * For benches that start many sessions that are already paired.
   */
  linkDirectly(creds: AuthenticationCreds, preKeys: Map<number, Uint8Array>): Companion {
    const device = this.nextDevice++;
    const identity = signedDeviceIdentity(
      this.identity,
      {
        identityKey: Buffer.from(creds.signedIdentityKey.public),
        advSecret: Buffer.from(creds.advSecretKey, 'base64'),
      },
      device,
    );
    const { creds: update } = configureSuccessfulPairing(
      node('iq', { id: 'link', type: 'set' }, [
        node('pair-success', {}, [
          node('device-identity', {}, identity),
          node('platform', { name: 'android' }),
          node('device', {
            jid: `${this.user.phone}:${device}@s.whatsapp.net`,
            lid: `${userOf(this.user.lid)}:${device}@lid`,
          }),
        ]),
      ]),
      creds,
    );
    Object.assign(creds, update);
    const companion: Companion = {
      phone: this.user.phone,
      device,
      noiseKey: Buffer.from(creds.noiseKey.public),
      registrationId: creds.registrationId,
      identityKey: Buffer.from(creds.signedIdentityKey.public),
      signedPreKey: {
        id: creds.signedPreKey.keyId,
        publicKey: Buffer.from(creds.signedPreKey.keyPair.public),
        signature: Buffer.from(creds.signedPreKey.signature),
      },
      preKeys: new Map([...preKeys].map(([id, key]) => [id, Buffer.from(key)])),
      platform: 'android',
    };
    this.server.companions.set(companionKey(companion.phone, companion.device), companion);
    return companion;
  }

  /** Unlinks a companion from the phone's "Linked devices" (the client sees 401). */
  unlink(companion: Companion): void {
    this.server.unlink(companion);
  }

  /** A companion logged in and went active: a new one gets its history sync. */
  async onCompanionActive(client: FakeClient): Promise<void> {
    const companion = client.companion!;
    const key = companionKey(companion.phone, companion.device);
    if (!this.options.history || this.historySent.has(key)) return;
    this.historySent.add(key);
    for (const notification of historyNotifications(this.server.world, this.options.history)) {
      await this.sendToCompanion(client, {
        protocolMessage: {
          type: proto.Message.ProtocolMessage.Type.HISTORY_SYNC_NOTIFICATION,
          historySyncNotification: notification,
        },
      });
    }
  }

  /** A message from the phone (device 0, LID-addressed) to one companion, Signal-encrypted. */
  async sendToCompanion(client: FakeClient, message: proto.IMessage): Promise<void> {
    const companion = client.companion!;
    const lidUser = userOf(this.user.lid);
    const { type, ciphertext } = await this.signal.encrypt(companion, `${lidUser}_1`, message);
    client.connection.send(
      node(
        'message',
        {
          from: `${lidUser}@lid`,
          id: `FAKE${randomBytes(8).toString('hex').toUpperCase()}`,
          type: 'text',
          category: 'peer',
          t: String(Math.floor(Date.now() / 1000)),
        },
        [node('enc', { v: '2', type }, ciphertext)],
      ),
    );
  }
}
