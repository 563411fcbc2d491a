/**
 * The phone's end of its Signal sessions with its companions, on libsignal (Baileys' own
 * dependency): it starts a session from the pre-keys a companion uploaded to the server, as the
 * real phone does with the bundle WhatsApp hands it, and encrypts messages for that companion.
 */
import { encodeWAMessage, generateSignalPubKey, type proto } from '@whiskeysockets/baileys';
import libsignal from 'libsignal';
import type { SessionRecord, SignalStorage } from 'libsignal';
import type { KeyPair } from './cert-chain.js';
import type { Companion } from './fake-server.js';

const prefixed = (key: Uint8Array) => Buffer.from(generateSignalPubKey(key));

export interface Encrypted {
  type: 'pkmsg' | 'msg';
  ciphertext: Buffer;
  /** The companion's one-time pre-key the message consumed, if any. */
  preKeyId?: number;
}

export class PhoneSignal {
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly storage: SignalStorage;

  constructor(identity: KeyPair, registrationId: number) {
    const ours = { pubKey: prefixed(identity.public), privKey: Buffer.from(identity.private) };
    this.storage = {
      loadSession: async (id) => this.sessions.get(id),
      storeSession: async (id, record) => void this.sessions.set(id, record),
      isTrustedIdentity: () => true,
      loadPreKey: async () => undefined,
      removePreKey: () => undefined,
      loadSignedPreKey: () => ours,
      getOurRegistrationId: () => registrationId,
      getOurIdentity: () => ours,
    };
  }

  /** Encrypts `message` for `companion` (`address` names it in the phone's session store). */
  async encrypt(companion: Companion, address: string, message: proto.IMessage): Promise<Encrypted> {
    const addr = new libsignal.ProtocolAddress(address, companion.device);
    let preKeyId: number | undefined;
    if (!this.sessions.has(addr.toString())) {
      const [id, preKey] = [...companion.preKeys][0] ?? [];
      if (id === undefined || !preKey) throw new Error(`companion ${address}.${companion.device} uploaded no pre-keys`);
      companion.preKeys.delete(id);
      preKeyId = id;
      await new libsignal.SessionBuilder(this.storage, addr).initOutgoing({
        registrationId: companion.registrationId,
        identityKey: prefixed(companion.identityKey),
        signedPreKey: {
          keyId: companion.signedPreKey.id,
          publicKey: prefixed(companion.signedPreKey.publicKey),
          signature: companion.signedPreKey.signature,
        },
        preKey: { keyId: id, publicKey: prefixed(preKey) },
      });
    }
    const { type, body } = await new libsignal.SessionCipher(this.storage, addr).encrypt(encodeWAMessage(message));
    return {
      type: type === 3 ? 'pkmsg' : 'msg',
      ciphertext: Buffer.from(body, 'binary'),
      ...(preKeyId === undefined ? {} : { preKeyId }),
    };
  }
}
