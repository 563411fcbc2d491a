import { Webhook } from 'standardwebhooks';

/** Decoded secrets kept; an endpoint's secret changes rarely, a delivery signs with it often. */
const MAX_CACHED = 1_000;
const signers = new Map<string, Webhook>();

function signerOf(secret: string): Webhook {
  let signer = signers.get(secret);
  if (!signer) {
    if (signers.size >= MAX_CACHED) signers.clear();
    signer = new Webhook(secret);
    signers.set(secret, signer);
  }
  return signer;
}

/**
 * The Standard Webhooks `webhook-signature` header: `v1,<base64 HMAC-SHA256 of id.timestamp.body>`
 * per secret, space-separated, so during a rotation's grace period a receiver holding either the
 * old or the new secret verifies the delivery.
 */
export function signatureHeader(secrets: readonly string[], id: string, timestamp: Date, body: string): string {
  return secrets.map((secret) => signerOf(secret).sign(id, timestamp, body)).join(' ');
}
