import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  BufferJSON,
  initAuthCreds,
  makeCacheableSignalKeyStore,
  proto,
  type SignalDataSet,
  type SignalDataTypeMap,
} from '@whiskeysockets/baileys';
import { MysqlAuthStore } from '../worker/auth-state/mysql-auth-state.js';
import { testEnv } from './support/hooks.js';

const uniq = () => randomBytes(5).toString('hex');
/** Buffers as base64, protobuf messages as plain objects: comparable with deepEqual whatever the key order. */
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value, BufferJSON.replacer));

async function newSessionRow(): Promise<string> {
  const org = await testEnv.admin.createOrganization(`Auth ${uniq()}`, `org_${uniq()}`);
  return (await testEnv.admin.createSession(org.id, null)).id;
}

async function storedKeyCount(sessionId: string): Promise<number> {
  const rows = (await testEnv.db.query('SELECT COUNT(*) AS n FROM wa_auth_keys WHERE session_id = ?', [sessionId])) as {
    n: number | string;
  }[];
  return Number(rows[0]!.n);
}

/** One value of every Baileys key type, shaped as Baileys writes them. */
function everyKeyType(): Required<{ [T in keyof SignalDataTypeMap]: Record<string, SignalDataTypeMap[T]> }> {
  return {
    'pre-key': { '1': { public: randomBytes(32), private: randomBytes(32) } },
    session: { '49111222333.0': new Uint8Array(randomBytes(120)) },
    'sender-key': { '120363000000000001@g.us::49111222333::0': new Uint8Array(randomBytes(80)) },
    'sender-key-memory': {
      '120363000000000001@g.us': { '49111222333:2@s.whatsapp.net': true, '205227043110953:1@lid': false },
    },
    'app-state-sync-key': {
      AAAAAFt0: proto.Message.AppStateSyncKeyData.fromObject({
        keyData: randomBytes(32),
        fingerprint: { rawId: 42, currentIndex: 3, deviceIndexes: [0, 2] },
        timestamp: 1_700_000_000_000,
      }),
    },
    'app-state-sync-version': {
      regular_high: {
        version: 17,
        hash: randomBytes(128),
        indexValueMap: { 'q2Z3VwPx+8s=': { valueMac: randomBytes(32) } },
      },
    },
    'lid-mapping': { '49111222333': '205227043110953', '205227043110953_reverse': '49111222333' },
    'device-list': { '49111222333': ['0', '2', '17'] },
    tctoken: {
      '205227043110953@lid': { token: randomBytes(24), timestamp: '1700000000', senderTimestamp: 1_700_000_001 },
    },
    'identity-key': { '205227043110953.0': new Uint8Array(randomBytes(33)) },
  };
}

describe('MysqlAuthStore', () => {
  const store = () => new MysqlAuthStore(testEnv.db);

  describe('load()', () => {
    it('starts a session never saved from fresh credentials without writing them', async () => {
      const sessionId = await newSessionRow();
      const { state } = await store().load(sessionId);
      assert.equal(state.creds.registered, false);
      assert.equal(state.creds.nextPreKeyId, 1);
      assert.ok(Buffer.isBuffer(state.creds.noiseKey.public));
      assert.equal(state.creds.me, undefined);
      const rows = (await testEnv.db.query('SELECT session_id FROM wa_auth_creds WHERE session_id = ?', [
        sessionId,
      ])) as unknown[];
      assert.equal(rows.length, 0);
    });

    it('gives two never-saved sessions different keys', async () => {
      const a = await store().load(await newSessionRow());
      const b = await store().load(await newSessionRow());
      assert.notDeepEqual(a.state.creds.noiseKey.private, b.state.creds.noiseKey.private);
    });
  });

  describe('saveCreds()', () => {
    it('round-trips the credentials, Buffers and nested protobuf fields included, through a new store', async () => {
      const sessionId = await newSessionRow();
      const first = await store().load(sessionId);
      const creds = first.state.creds;
      creds.me = { id: '49111222333:4@s.whatsapp.net', lid: '205227043110953:4@lid', name: 'Gateway' };
      creds.account = {
        details: randomBytes(40),
        accountSignatureKey: randomBytes(32),
        accountSignature: randomBytes(64),
        deviceSignature: randomBytes(64),
      };
      creds.signalIdentities = [
        { identifier: { name: '49111222333:4@s.whatsapp.net', deviceId: 0 }, identifierKey: randomBytes(33) },
      ];
      creds.routingInfo = randomBytes(12);
      creds.nextPreKeyId = 31;
      creds.firstUnuploadedPreKeyId = 31;
      creds.myAppStateKeyId = 'AAAAAFt0';
      await first.saveCreds();

      const again = await store().load(sessionId);
      assert.deepEqual(plain(again.state.creds), plain(creds));
      assert.ok(Buffer.isBuffer(again.state.creds.signedIdentityKey.private));
      assert.ok(Buffer.isBuffer(again.state.creds.routingInfo));
      assert.ok(Buffer.isBuffer(again.state.creds.account?.details));
      assert.equal(again.state.creds.me?.lid, '205227043110953:4@lid');
    });

    it('stores the newest credentials when saves overlap, in one row', async () => {
      const sessionId = await newSessionRow();
      const s = store();
      const { state, saveCreds } = await s.load(sessionId);
      const saves: Promise<void>[] = [];
      for (let i = 1; i <= 20; i++) {
        state.creds.accountSyncCounter = i;
        saves.push(saveCreds());
      }
      await Promise.all(saves);
      const rows = (await testEnv.db.query('SELECT creds FROM wa_auth_creds WHERE session_id = ?', [sessionId])) as {
        creds: string;
      }[];
      assert.equal(rows.length, 1);
      assert.equal(
        (JSON.parse(rows[0]!.creds, BufferJSON.reviver) as { accountSyncCounter: number }).accountSyncCounter,
        20,
      );
    });

    it('rejects for a session that has no wa_sessions row', async () => {
      await assert.rejects(store().saveCreds(`sess_missing_${uniq()}`, initAuthCreds()), /foreign key/i);
    });
  });

  describe('keys', () => {
    it('round-trips every Baileys key type', async () => {
      const sessionId = await newSessionRow();
      const data = everyKeyType();
      await store().keyStore(sessionId).set(data);

      const keys = store().keyStore(sessionId);
      for (const [type, entries] of Object.entries(data) as [keyof SignalDataTypeMap, Record<string, unknown>][]) {
        const got = await keys.get(type, Object.keys(entries));
        assert.deepEqual(plain(got), plain(entries), type);
      }
      const preKey = (await keys.get('pre-key', ['1']))['1']!;
      assert.ok(Buffer.isBuffer(preKey.public) && Buffer.isBuffer(preKey.private));
      assert.ok((await keys.get('session', ['49111222333.0']))['49111222333.0'] instanceof Uint8Array);
      assert.equal(await storedKeyCount(sessionId), 11);
    });

    it('rebuilds app-state-sync-key values as AppStateSyncKeyData messages with their bytes and numbers', async () => {
      const sessionId = await newSessionRow();
      const original = everyKeyType()['app-state-sync-key']['AAAAAFt0']!;
      await store()
        .keyStore(sessionId)
        .set({ 'app-state-sync-key': { AAAAAFt0: original } });
      const got = (await store().keyStore(sessionId).get('app-state-sync-key', ['AAAAAFt0']))['AAAAAFt0'];
      assert.ok(got instanceof proto.Message.AppStateSyncKeyData);
      assert.deepEqual(Buffer.from(got.keyData!), Buffer.from(original.keyData!));
      assert.equal(got.fingerprint?.rawId, 42);
      assert.deepEqual(got.fingerprint?.deviceIndexes, [0, 2]);
      assert.equal(Number(got.timestamp), 1_700_000_000_000);
    });

    it('returns only the ids that are stored, of the asked type', async () => {
      const sessionId = await newSessionRow();
      const keys = store().keyStore(sessionId);
      await keys.set({ 'lid-mapping': { '4911': '777' }, 'device-list': { '4911': ['0'] } });
      assert.deepEqual(await keys.get('lid-mapping', ['4911', '4922']), { '4911': '777' });
      assert.deepEqual(await keys.get('lid-mapping', []), {});
      assert.deepEqual(await keys.get('tctoken', ['4911']), {});
    });

    it('overwrites an existing key', async () => {
      const sessionId = await newSessionRow();
      const keys = store().keyStore(sessionId);
      await keys.set({ 'lid-mapping': { '4911': '777' } });
      await keys.set({ 'lid-mapping': { '4911': '888' } });
      assert.deepEqual(await keys.get('lid-mapping', ['4911']), { '4911': '888' });
      assert.equal(await storedKeyCount(sessionId), 1);
    });

    it('deletes a key set to null and keeps the others, in the same call as upserts', async () => {
      const sessionId = await newSessionRow();
      const keys = store().keyStore(sessionId);
      await keys.set({
        'pre-key': {
          '1': { public: randomBytes(32), private: randomBytes(32) },
          '2': { public: randomBytes(32), private: randomBytes(32) },
        },
      });
      await keys.set({
        'pre-key': { '1': null, '3': { public: randomBytes(32), private: randomBytes(32) } },
        session: { 'never-stored.0': null },
      });
      assert.deepEqual(Object.keys(await keys.get('pre-key', ['1', '2', '3'])).sort(), ['2', '3']);
      assert.equal(await storedKeyCount(sessionId), 2);
    });

    it('writes more keys than fit one statement, across several statements of one transaction', async () => {
      const sessionId = await newSessionRow();
      const keys = new MysqlAuthStore(testEnv.db, { maxRowsPerStatement: 7, maxStatementBytes: 2_000 }).keyStore(
        sessionId,
      );
      const preKeys: Record<string, SignalDataTypeMap['pre-key']> = {};
      for (let i = 1; i <= 120; i++) preKeys[String(i)] = { public: randomBytes(32), private: randomBytes(32) };
      await keys.set({ 'pre-key': preKeys });
      const got = await keys.get('pre-key', Object.keys(preKeys));
      assert.deepEqual(plain(got), plain(preKeys));
    });

    it('applies nothing of a set() that fails, and later writes still run', async () => {
      const sessionId = await newSessionRow();
      const keys = store().keyStore(sessionId);
      const tooLong = 'x'.repeat(300); // key_id is VARCHAR(200)
      await assert.rejects(Promise.resolve(keys.set({ 'lid-mapping': { '4911': '777', [tooLong]: '1' } })));
      assert.equal(await storedKeyCount(sessionId), 0);
      await keys.set({ 'lid-mapping': { '4922': '888' } });
      assert.deepEqual(await keys.get('lid-mapping', ['4911', '4922']), { '4922': '888' });
    });

    it('applies overlapping set() calls of one session in call order', async () => {
      const sessionId = await newSessionRow();
      const keys = store().keyStore(sessionId);
      const ids = ['a', 'b', 'c', 'd', 'e'];
      const expected = new Map<string, string>();
      const writes: Promise<void>[] = [];
      for (let i = 0; i < 30; i++) {
        const batch: SignalDataSet = { 'lid-mapping': {} };
        for (const id of ids) {
          const roll = (i * 7 + id.charCodeAt(0) * 13) % 5;
          if (roll === 0) {
            batch['lid-mapping']![id] = null;
            expected.delete(id);
          } else if (roll < 4) {
            batch['lid-mapping']![id] = `${id}-${i}`;
            expected.set(id, `${id}-${i}`);
          }
        }
        writes.push(Promise.resolve(keys.set(batch)));
      }
      await Promise.all(writes);
      assert.deepEqual(await keys.get('lid-mapping', ids), Object.fromEntries(expected));
    });

    it('does not let a small set() overtake a large one called before it', async () => {
      const sessionId = await newSessionRow();
      const keys = store().keyStore(sessionId);
      for (let round = 0; round < 5; round++) {
        const large: Record<string, string> = {};
        for (let i = 0; i < 400; i++) large[`filler-${i}`] = randomBytes(64).toString('hex');
        large['target'] = `large-${round}`; // written last within its transaction
        await Promise.all([
          keys.set({ 'lid-mapping': large }),
          keys.set({ 'lid-mapping': { target: `small-${round}` } }),
        ]);
        assert.deepEqual(await keys.get('lid-mapping', ['target']), { target: `small-${round}` });
      }
    });

    it('reads a key right after an un-awaited set() of it', async () => {
      const sessionId = await newSessionRow();
      const keys = store().keyStore(sessionId);
      void keys.set({ 'lid-mapping': { '4911': '777' } });
      assert.deepEqual(await keys.get('lid-mapping', ['4911']), { '4911': '777' });
    });

    it('keeps sessions apart: same type and id, different values', async () => {
      const a = await newSessionRow();
      const b = await newSessionRow();
      const s = store();
      await s.keyStore(a).set({ 'lid-mapping': { '4911': 'from-a' } });
      await s.keyStore(b).set({ 'lid-mapping': { '4911': 'from-b' } });
      await s.keyStore(a).set({ 'lid-mapping': { '4911': null } });
      assert.deepEqual(await s.keyStore(a).get('lid-mapping', ['4911']), {});
      assert.deepEqual(await s.keyStore(b).get('lid-mapping', ['4911']), { '4911': 'from-b' });
    });

    it('works behind Baileys’ makeCacheableSignalKeyStore', async () => {
      const sessionId = await newSessionRow();
      const data = everyKeyType();
      const cached = makeCacheableSignalKeyStore(store().keyStore(sessionId));
      await cached.set({ tctoken: data.tctoken, 'pre-key': data['pre-key'] });
      const fresh = store().keyStore(sessionId);
      assert.deepEqual(plain(await fresh.get('tctoken', Object.keys(data.tctoken))), plain(data.tctoken));
      await cached.set({ 'pre-key': { '1': null } });
      assert.deepEqual(await fresh.get('pre-key', ['1']), {});
    });
  });

  describe('clear()', () => {
    it('deletes the credentials and every key of that session only', async () => {
      const gone = await newSessionRow();
      const kept = await newSessionRow();
      const s = store();
      for (const sessionId of [gone, kept]) {
        const { saveCreds } = await s.load(sessionId);
        await saveCreds();
        await s.keyStore(sessionId).set(everyKeyType());
      }
      await s.clear(gone);
      assert.equal(await storedKeyCount(gone), 0);
      assert.equal(await storedKeyCount(kept), 11);
      const creds = (await testEnv.db.query('SELECT session_id FROM wa_auth_creds WHERE session_id IN (?, ?)', [
        gone,
        kept,
      ])) as { session_id: string }[];
      assert.deepEqual(
        creds.map((r) => r.session_id),
        [kept],
      );
      const reloaded = await s.load(gone);
      assert.equal(reloaded.state.creds.me, undefined);
    });

    it('runs after the writes queued before it', async () => {
      const sessionId = await newSessionRow();
      const s = store();
      const keys = s.keyStore(sessionId);
      void keys.set({ 'lid-mapping': { '4911': '777' } });
      await s.clear(sessionId);
      assert.equal(await storedKeyCount(sessionId), 0);
    });
  });
});
