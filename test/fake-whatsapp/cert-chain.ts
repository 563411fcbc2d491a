/**
 * The fake server's certificate chain, shaped like WhatsApp's: an intermediate certificate signed by
 * a root key (WhatsApp's is WA_CERT_DETAILS.PUBLIC_KEY in Baileys' Defaults), and a leaf for the
 * server's static Noise key signed by the intermediate.
 */
import { Curve, proto, WA_CERT_DETAILS, type KeyPair } from '@whiskeysockets/baileys';

export type { KeyPair };

export interface CertChainKeys {
  root: KeyPair;
  intermediate: KeyPair;
}

export function newCertChainKeys(): CertChainKeys {
  return { root: Curve.generateKeyPair(), intermediate: Curve.generateKeyPair() };
}

export interface ChainFaults {
  /** Sign the intermediate with this key instead of the root (a chain the client must refuse). */
  intermediateSigner?: KeyPair;
  /** Sign the leaf with this key instead of the intermediate. */
  leafSigner?: KeyPair;
  /** Name this key in the leaf instead of the server's static key (a replayed chain). */
  leafKey?: Uint8Array;
  /** Name this issuer serial in the leaf instead of the intermediate's. */
  leafIssuerSerial?: number;
}

const INTERMEDIATE_SERIAL = 1;

/** The CertChain bytes a server hello carries for `serverStatic`. */
export function encodeCertChain(keys: CertChainKeys, serverStatic: Uint8Array, faults: ChainFaults = {}): Uint8Array {
  const now = Math.floor(Date.now() / 1000);
  const intermediateDetails = proto.CertChain.NoiseCertificate.Details.encode({
    serial: INTERMEDIATE_SERIAL,
    issuerSerial: WA_CERT_DETAILS.SERIAL,
    key: keys.intermediate.public,
    notBefore: now - 3600,
    notAfter: now + 30 * 86400,
  }).finish();
  const leafDetails = proto.CertChain.NoiseCertificate.Details.encode({
    serial: 2,
    issuerSerial: faults.leafIssuerSerial ?? INTERMEDIATE_SERIAL,
    key: faults.leafKey ?? serverStatic,
    notBefore: now - 3600,
    notAfter: now + 86400,
  }).finish();
  return proto.CertChain.encode({
    intermediate: {
      details: intermediateDetails,
      signature: Curve.sign((faults.intermediateSigner ?? keys.root).private, intermediateDetails),
    },
    leaf: {
      details: leafDetails,
      signature: Curve.sign((faults.leafSigner ?? keys.intermediate).private, leafDetails),
    },
  }).finish();
}
