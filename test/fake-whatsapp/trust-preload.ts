/**
 * Test-only preload for worker processes started against the fake WhatsApp server
 * (`node --import …/trust-preload.js dist/worker/main.js`): makes Baileys trust the fake's root
 * certificate key instead of WhatsApp's. Production never loads it; without it a worker refuses
 * the fake's certificate chain.
 */
import { WA_CERT_DETAILS } from '@whiskeysockets/baileys';

const rootKey = process.env['FAKE_WA_ROOT_KEY'];
if (!rootKey || !/^[0-9a-f]{64}$/.test(rootKey)) {
  throw new Error('trust-preload: FAKE_WA_ROOT_KEY must be the fake server root public key (64 hex digits)');
}
WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(rootKey, 'hex');
