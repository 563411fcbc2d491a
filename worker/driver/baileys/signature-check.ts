/**
 * Makes Baileys 7.0.0-rc14 check WhatsApp's signatures, which it does not do by itself.
 *
 * 1. `Curve.verify` (Utils/crypto.js) answers `true` unless libsignal *throws*, but libsignal 6's
 *    `verifySignature` *returns* `false` for a bad signature: every well-formed signature passes.
 *    Two checks depend on it: the Noise certificate chain that authenticates WhatsApp's server
 *    (Utils/noise-handler.js) and the phone's account signature at pairing
 *    (Utils/validate-connection.js). Both read `Curve.verify` from Baileys' one exported `Curve`
 *    object at call time, so replacing that property fixes both.
 * 2. The handshake never compares the leaf certificate's key with the server's static Noise key,
 *    so a server replaying WhatsApp's genuine (public) chain with a key of its own would pass.
 *    `processHandshake` runs synchronously: it agrees a key with the decrypted server static
 *    (`Curve.sharedKey`), decodes the chain (`proto.CertChain.decode`), then verifies the leaf's
 *    details. Watching those three calls binds the leaf to that static key, and to its issuer's
 *    serial, without a copy of Baileys' handshake.
 */
import { Curve, generateSignalPubKey, proto } from '@whiskeysockets/baileys';
import * as curve from 'libsignal/src/curve.js';

type Verify = (pubKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;
type SharedKey = (privateKey: Uint8Array, publicKey: Uint8Array) => Buffer;

/** What `Curve.verify` should be: true only for a valid signature, false for anything else. */
export const verifySignature: Verify = (pubKey, message, signature) => {
  try {
    return (
      curve.verifySignature(Buffer.from(generateSignalPubKey(pubKey)), Buffer.from(message), Buffer.from(signature)) ===
      true
    );
  } catch {
    return false;
  }
};

/** The public key of the latest key agreement: during a handshake, the server's static key. */
let lastAgreedWith: Uint8Array | undefined;
/** The chain being checked, from its decoding to the verification of its leaf. */
let pending:
  { leafDetails: Uint8Array; serverStatic: Uint8Array | undefined; intermediateSerial: number | undefined } | undefined;
let installed = false;

/** The leaf names the key the server proved it holds, and the intermediate that issued it. */
function leafMatchesServer(
  leafDetails: Uint8Array,
  serverStatic: Uint8Array | undefined,
  intermediateSerial: number | undefined,
): boolean {
  if (!serverStatic) return false;
  const leaf = proto.CertChain.NoiseCertificate.Details.decode(leafDetails);
  return (
    Buffer.from(leaf.key ?? []).equals(Buffer.from(serverStatic)) &&
    (intermediateSerial === undefined || leaf.issuerSerial === intermediateSerial)
  );
}

/** Installs the checks over Baileys' own; idempotent. */
export function installSignatureCheck(): void {
  if (installed) return;
  installed = true;
  const sharedKey: SharedKey = Curve.sharedKey;
  (Curve as { sharedKey: SharedKey }).sharedKey = (privateKey, publicKey) => {
    lastAgreedWith = publicKey;
    return sharedKey(privateKey, publicKey);
  };
  const decodeChain = proto.CertChain.decode.bind(proto.CertChain);
  proto.CertChain.decode = (reader, length) => {
    const chain = decodeChain(reader, length);
    const intermediate = chain.intermediate?.details
      ? proto.CertChain.NoiseCertificate.Details.decode(chain.intermediate.details)
      : undefined;
    pending = chain.leaf?.details
      ? {
          leafDetails: chain.leaf.details,
          serverStatic: lastAgreedWith,
          intermediateSerial: intermediate?.serial ?? undefined,
        }
      : undefined;
    return chain;
  };
  (Curve as { verify: Verify }).verify = (pubKey, message, signature) => {
    if (!verifySignature(pubKey, message, signature)) return false;
    if (pending && message === pending.leafDetails) {
      const { leafDetails, serverStatic, intermediateSerial } = pending;
      pending = undefined;
      return leafMatchesServer(leafDetails, serverStatic, intermediateSerial);
    }
    return true;
  };
}
