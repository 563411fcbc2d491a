import assert from 'node:assert/strict';
import {
  configureSuccessfulPairing,
  Curve,
  initAuthCreds,
  makeNoiseHandler,
  NOISE_WA_HEADER,
  proto,
  WA_CERT_DETAILS,
  type BinaryNode,
} from '@whiskeysockets/baileys';
import * as libsignalCurve from 'libsignal/src/curve.js';
import pino from 'pino';
import { installSignatureCheck, verifySignature } from '../worker/driver/baileys/signature-check.js';
import { encodeCertChain, newCertChainKeys, type ChainFaults } from './fake-whatsapp/cert-chain.js';
import { NoiseServerHandshake } from './fake-whatsapp/noise-server.js';
import { signedDeviceIdentity } from './fake-whatsapp/phone.js';

const logger = pino({ level: 'silent' });

/** Runs Baileys' own client side of the Noise handshake against a server presenting `faults`' chain. */
function clientHandshake(faults: ChainFaults, trustFakeRoot = true): Uint8Array {
  const keys = newCertChainKeys();
  const serverStatic = Curve.generateKeyPair();
  const server = new NoiseServerHandshake(serverStatic, encodeCertChain(keys, serverStatic.public, faults));
  const ephemeral = Curve.generateKeyPair();
  const client = makeNoiseHandler({
    keyPair: ephemeral,
    NOISE_HEADER: NOISE_WA_HEADER,
    logger,
    routingInfo: undefined,
  });
  const hello = proto.HandshakeMessage.encode({ clientHello: { ephemeral: ephemeral.public } }).finish();
  const serverHello = proto.HandshakeMessage.decode(server.serverHello(hello));
  const whatsAppRoot = WA_CERT_DETAILS.PUBLIC_KEY;
  if (trustFakeRoot) WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(keys.root.public);
  try {
    return client.processHandshake(serverHello, Curve.generateKeyPair());
  } finally {
    WA_CERT_DETAILS.PUBLIC_KEY = whatsAppRoot;
  }
}

describe("signature checks installed over Baileys' own (Curve.verify, the leaf certificate bound to the server's key)", () => {
  before(() => installSignatureCheck());

  it('libsignal answers a bad signature with false rather than throwing (why Baileys rc14 accepts any signature)', () => {
    const key = Curve.generateKeyPair();
    const signature = Buffer.from(Curve.sign(key.private, Buffer.from('message')));
    signature[5] = signature[5]! ^ 0xff;
    const pub = Buffer.concat([Buffer.from([5]), Buffer.from(key.public)]);
    assert.equal(libsignalCurve.verifySignature(pub, Buffer.from('message'), signature), false);
  });

  it('verifySignature is true for a valid signature and false for a wrong key, message or signature', () => {
    const key = Curve.generateKeyPair();
    const other = Curve.generateKeyPair();
    const message = Buffer.from('certificate details');
    const signature = Curve.sign(key.private, message);
    assert.equal(verifySignature(key.public, message, signature), true);
    assert.equal(verifySignature(other.public, message, signature), false);
    assert.equal(verifySignature(key.public, Buffer.from('other details'), signature), false);
    assert.equal(verifySignature(key.public, message, Buffer.alloc(64)), false);
    assert.equal(
      verifySignature(key.public, message, Buffer.alloc(3)),
      false,
      'a malformed signature is refused, not thrown',
    );
    assert.equal(Curve.verify(key.public, message, signature), true, "installed as Baileys' Curve.verify");
    assert.equal(Curve.verify(other.public, message, signature), false, "installed as Baileys' Curve.verify");
  });

  it('the Noise handshake accepts a certificate chain signed by the trusted root', () => {
    assert.ok(clientHandshake({}).length > 0);
  });

  it('the Noise handshake refuses an intermediate certificate not signed by the trusted root', () => {
    assert.throws(
      () => clientHandshake({ intermediateSigner: Curve.generateKeyPair() }),
      /noise intermediate certificate signature invalid/,
    );
    assert.throws(
      () => clientHandshake({}, false),
      /noise intermediate certificate signature invalid/,
      "WhatsApp's own root does not vouch for the fake",
    );
  });

  it('the Noise handshake refuses a leaf certificate not signed by the intermediate', () => {
    assert.throws(
      () => clientHandshake({ leafSigner: Curve.generateKeyPair() }),
      /noise certificate signature invalid/,
    );
  });

  it("the Noise handshake refuses a genuine chain whose leaf names another key than the server's static key (a replayed chain)", () => {
    assert.throws(
      () => clientHandshake({ leafKey: Curve.generateKeyPair().public }),
      /noise certificate signature invalid/,
    );
    assert.throws(
      () => clientHandshake({ leafIssuerSerial: 7 }),
      /noise certificate signature invalid/,
      'nor a leaf naming another issuer',
    );
  });

  it("pairing refuses a device identity whose account signature is not the account key's, and accepts a true one", () => {
    const creds = initAuthCreds();
    const account = Curve.generateKeyPair();
    const scanned = {
      identityKey: Buffer.from(creds.signedIdentityKey.public),
      advSecret: Buffer.from(creds.advSecretKey, 'base64'),
    };
    const pairSuccess = (identity: Uint8Array): BinaryNode => ({
      tag: 'iq',
      attrs: { id: '1', type: 'set', from: 's.whatsapp.net' },
      content: [
        {
          tag: 'pair-success',
          attrs: {},
          content: [
            { tag: 'device-identity', attrs: {}, content: identity },
            { tag: 'device', attrs: { jid: '4917000000001:3@s.whatsapp.net', lid: '800000000001:3@lid' } },
          ],
        },
      ],
    });
    const forged = signedDeviceIdentity(account, scanned, 3, Curve.generateKeyPair());
    assert.throws(() => configureSuccessfulPairing(pairSuccess(forged), creds), /Failed to verify account signature/);
    const genuine = signedDeviceIdentity(account, scanned, 3);
    assert.equal(
      configureSuccessfulPairing(pairSuccess(genuine), creds).creds.me?.id,
      '4917000000001:3@s.whatsapp.net',
    );
  });
});
