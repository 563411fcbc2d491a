/**
 * Baileys 7.0.0-rc14's `Curve.verify` (Utils/crypto.js) answers `true` unless libsignal *throws*,
 * but libsignal 6's `verifySignature` *returns* `false` for a bad signature: every well-formed
 * signature passes. Two checks depend on it: the Noise certificate chain that authenticates
 * WhatsApp's server (Utils/noise-handler.js) and the account signature of the phone at pairing
 * (Utils/validate-connection.js). Both read `Curve.verify` from Baileys' one exported `Curve`
 * object at call time, so replacing that property once per process fixes both.
 */
import { Curve, generateSignalPubKey } from '@whiskeysockets/baileys';
import * as curve from 'libsignal/src/curve.js';

type Verify = (pubKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;

/** What `Curve.verify` should be: true only for a valid signature, false for anything else. */
export const verifySignature: Verify = (pubKey, message, signature) => {
  try {
    return curve.verifySignature(Buffer.from(generateSignalPubKey(pubKey)), Buffer.from(message), Buffer.from(signature)) === true;
  } catch {
    return false;
  }
};

/** Installs `verifySignature` over Baileys' own; idempotent. */
export function installSignatureCheck(): void {
  (Curve as { verify: Verify }).verify = verifySignature;
}
