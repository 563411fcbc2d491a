/**
 * N sessions already paired with accounts of the fake WhatsApp server, as a worker finds them after
 * a restart: credentials and a few uploaded pre-keys in MySQL, each device known to the fake.
 */
import { Curve, initAuthCreds, type AuthenticationCreds } from '@whiskeysockets/baileys';
import type { DataSource } from 'typeorm';
import { MysqlAuthStore } from '../../worker/auth-state/mysql-auth-state.js';
import type { FakeWhatsApp } from '../../test/fake-whatsapp/fake-server.js';
import { FakePhone } from '../../test/fake-whatsapp/phone.js';

/** Pre-keys each device has on the server: above Baileys' MIN_PREKEY_COUNT (5), so no upload at login. */
const PRE_KEYS = 30;

/** Stores paired credentials for `sessionId` and links its device to a new fake account `phone`. */
export async function storePairedSession(
  fake: FakeWhatsApp,
  db: DataSource,
  sessionId: string,
  phone: string,
  lid: string,
): Promise<void> {
  const user = fake.world.addUser({ phone, lid, pushName: `Bench ${phone.slice(-4)}` });
  const creds: AuthenticationCreds = initAuthCreds();
  const preKeys = new Map<number, ReturnType<typeof Curve.generateKeyPair>>();
  for (let id = 1; id <= PRE_KEYS; id++) preKeys.set(id, Curve.generateKeyPair());
  new FakePhone(fake, user).linkDirectly(creds, new Map([...preKeys].map(([id, pair]) => [id, pair.public])));
  creds.nextPreKeyId = PRE_KEYS + 1;
  creds.firstUnuploadedPreKeyId = PRE_KEYS + 1;
  // Its history was synced at pairing: a reconnect does not wait for one.
  creds.accountSyncCounter = 1;
  const store = new MysqlAuthStore(db);
  await store
    .keyStore(sessionId)
    .set({ 'pre-key': Object.fromEntries([...preKeys].map(([id, pair]) => [String(id), pair])) });
  await store.saveCreds(sessionId, creds);
}
