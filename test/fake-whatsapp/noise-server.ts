/**
 * The server side of WhatsApp's Noise XX handshake, mirroring Baileys' client side
 * (Utils/noise-handler.js) step for step, built from Baileys' own crypto helpers.
 */
import {
  aesDecryptGCM,
  aesEncryptGCM,
  Curve,
  hkdf,
  NOISE_MODE,
  NOISE_WA_HEADER,
  proto,
  sha256,
} from '@whiskeysockets/baileys';
import type { KeyPair } from './cert-chain.js';

const ivFor = (counter: number) => {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(counter, 8);
  return iv;
};

/** Encrypts and decrypts transport frames once the handshake is over (separate counters, no AAD). */
export class NoiseTransport {
  private readCounter = 0;
  private writeCounter = 0;

  constructor(
    private readonly encKey: Buffer,
    private readonly decKey: Buffer,
  ) {}

  encrypt(plaintext: Uint8Array): Buffer {
    return aesEncryptGCM(plaintext, this.encKey, ivFor(this.writeCounter++), Buffer.alloc(0));
  }

  decrypt(ciphertext: Uint8Array): Buffer {
    return aesDecryptGCM(ciphertext, this.decKey, ivFor(this.readCounter++), Buffer.alloc(0));
  }
}

export interface HandshakeResult {
  /** The client's static Noise key: the companion's identity towards the server. */
  clientStatic: Buffer;
  payload: proto.ClientPayload;
  transport: NoiseTransport;
}

export class NoiseServerHandshake {
  private hash: Buffer;
  private salt: Buffer;
  private key: Buffer;
  private counter = 0;
  private readonly ephemeral: KeyPair = Curve.generateKeyPair();

  constructor(
    private readonly serverStatic: KeyPair,
    private readonly certChain: Uint8Array,
  ) {
    const mode = Buffer.from(NOISE_MODE);
    this.hash = mode.byteLength === 32 ? mode : sha256(mode);
    this.salt = this.hash;
    this.key = this.hash;
    this.authenticate(NOISE_WA_HEADER);
  }

  /** The client's hello → the server's hello (ephemeral, encrypted static key, encrypted certificate chain). */
  serverHello(clientHello: Uint8Array): Buffer {
    const hello = proto.HandshakeMessage.decode(clientHello).clientHello;
    if (!hello?.ephemeral) throw new Error('no client ephemeral key in the hello');
    const clientEphemeral = Buffer.from(hello.ephemeral);
    this.authenticate(clientEphemeral);
    this.authenticate(this.ephemeral.public);
    this.mix(Curve.sharedKey(this.ephemeral.private, clientEphemeral));
    const encryptedStatic = this.encrypt(this.serverStatic.public);
    this.mix(Curve.sharedKey(this.serverStatic.private, clientEphemeral));
    const encryptedChain = this.encrypt(this.certChain);
    return Buffer.from(
      proto.HandshakeMessage.encode({
        serverHello: { ephemeral: this.ephemeral.public, static: encryptedStatic, payload: encryptedChain },
      }).finish(),
    );
  }

  /** The client's finish: its static key and its ClientPayload (registration or login). */
  clientFinish(message: Uint8Array): HandshakeResult {
    const finish = proto.HandshakeMessage.decode(message).clientFinish;
    if (!finish?.static || !finish.payload) throw new Error('incomplete client finish');
    const clientStatic = this.decrypt(finish.static);
    this.mix(Curve.sharedKey(this.ephemeral.private, clientStatic));
    const payload = proto.ClientPayload.decode(this.decrypt(finish.payload));
    const keys = hkdf(Buffer.alloc(0), 64, { salt: this.salt, info: '' });
    // The client writes with the first half and reads with the second.
    const transport = new NoiseTransport(Buffer.from(keys.subarray(32)), Buffer.from(keys.subarray(0, 32)));
    return { clientStatic, payload, transport };
  }

  private authenticate(data: Uint8Array): void {
    this.hash = sha256(Buffer.concat([this.hash, data]));
  }

  private mix(data: Uint8Array): void {
    const derived = hkdf(Buffer.from(data), 64, { salt: this.salt, info: '' });
    this.salt = Buffer.from(derived.subarray(0, 32));
    this.key = Buffer.from(derived.subarray(32));
    this.counter = 0;
  }

  private encrypt(plaintext: Uint8Array): Buffer {
    const result = aesEncryptGCM(plaintext, this.key, ivFor(this.counter++), this.hash);
    this.authenticate(result);
    return result;
  }

  private decrypt(ciphertext: Uint8Array): Buffer {
    const result = aesDecryptGCM(ciphertext, this.key, ivFor(this.counter++), this.hash);
    this.authenticate(ciphertext);
    return result;
  }
}
