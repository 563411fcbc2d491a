import assert from 'node:assert/strict';
import { BufferJSON, type AuthenticationCreds } from '@whiskeysockets/baileys';
import { FakeGateway, fakeUser, type FakeTenant } from './support/fake-gateway.js';
import { waitFor } from './support/processes.js';

/** The statuses the worker logged for a session, in order, without repeats. */
function statusTrail(gw: FakeGateway, proc: Parameters<FakeGateway['logLines']>[0], sessionId: string): string[] {
  const trail: string[] = [];
  for (const line of gw.logLines(proc)) {
    if (line['msg'] !== 'session status' || line['sessionId'] !== sessionId) continue;
    if (trail[trail.length - 1] !== line['status']) trail.push(line['status']);
  }
  return trail;
}

describe('baileys driver against the fake WhatsApp server: pairing', function () {
  this.timeout(120_000);
  const gw = new FakeGateway();
  let t: FakeTenant;

  before(async () => {
    await gw.start();
    t = await gw.tenant();
  });

  after(async () => {
    await gw.stop();
  });

  describe('a worker that trusts the fake (test-only preload)', () => {
    let worker: ReturnType<FakeGateway['startWorker']>;
    before(async () => {
      worker = gw.startWorker();
      await gw.waitForShards(worker.workerId);
    });
    after(async () => {
      await worker.stop();
    });

    it('pairs by QR read through the API: pairing → connecting → online, credentials in MySQL, own phone JID and LID', async () => {
      const me = fakeUser({ pushName: 'Gateway line' });
      const phone = gw.phone(me);
      const created = await gw.call('POST', '/api/v1/sessions', t.tokens.manage, { name: 'QR pairing' });
      assert.equal(created.status, 201);
      const sessionId: string = created.body.id;
      const base = `/api/v1/sessions/${sessionId}`;

      const qr = await waitFor(
        async () => {
          const res = await gw.call('GET', `${base}/qr`, t.tokens.manage);
          return res.status === 200 ? res : undefined;
        },
        'a QR code',
        30_000,
      );
      assert.match(qr.body.qr, /^https:\/\/wa\.me\/settings\/linked_devices#[^,]+,[^,]+,[^,]+,[^,]+,\d+$/);
      assert.match(qr.body.image, /^data:image\/png;base64,/);
      const png = await fetch(`${gw.baseUrl}${base}/qr`, {
        headers: { authorization: `Bearer ${t.tokens.manage}`, accept: 'image/png' },
      });
      assert.equal(png.status, 200);
      assert.equal(png.headers.get('content-type'), 'image/png');
      assert.deepEqual([...new Uint8Array(await png.arrayBuffer()).slice(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
      assert.equal((await gw.session(sessionId, t.tokens.read))['status'], 'pairing');

      const companion = await phone.scanQr(qr.body.qr);
      const online = await gw.waitForStatus(
        sessionId,
        t.tokens.read,
        'online',
        30_000,
        (view) => view['phoneJid'] !== null,
      );
      assert.equal(online['phoneJid'], `${me.phone}@s.whatsapp.net`);
      assert.equal(online['lid'], me.lid);
      assert.equal(typeof online['lastConnectedAt'], 'number');
      // In this order (a loaded host may add a reconnect in between, as a moved shard does).
      const trail = statusTrail(gw, worker, sessionId);
      const pairingAt = trail.indexOf('pairing');
      assert.ok(
        pairingAt >= 0 && trail.indexOf('connecting', pairingAt) > pairingAt && trail[trail.length - 1] === 'online',
        trail.join(' → '),
      );

      const rows = (await gw.env.db.query('SELECT creds FROM wa_auth_creds WHERE session_id = ?', [sessionId])) as {
        creds: string;
      }[];
      assert.equal(rows.length, 1, 'the credentials are stored');
      const creds = JSON.parse(rows[0]!.creds, BufferJSON.reviver) as AuthenticationCreds;
      assert.equal(creds.me?.id, `${me.phone}:${companion.device}@s.whatsapp.net`);
      assert.equal(creds.me?.lid, `${me.lid.split('@')[0]}:${companion.device}@lid`);
      assert.ok(creds.account?.accountSignatureKey, 'the signed device identity is stored');
      assert.deepEqual(
        Buffer.from(creds.noiseKey.public),
        companion.noiseKey,
        'the stored noise key is the one WhatsApp knows the device by',
      );
      const keyRows = (await gw.env.db.query(
        `SELECT COUNT(*) AS n FROM wa_auth_keys WHERE session_id = ? AND type = 'pre-key'`,
        [sessionId],
      )) as { n: number | string }[];
      assert.equal(Number(keyRows[0]!.n), companion.preKeys.size, 'every pre-key WhatsApp holds is stored');

      const again = await gw.call('GET', `${base}/qr`, t.tokens.manage);
      assert.equal(again.status, 409);
      assert.equal(again.body.error.code, 'conflict');
      assert.deepEqual(gw.fake.unhandled, [], 'the client sent nothing the fake could not answer');
    });
  });

  describe('a worker started without the preload, as production runs', () => {
    it("refuses the fake's certificate chain: no QR, the handshake never completes", async () => {
      const worker = gw.startWorker(undefined, {}, false);
      try {
        await gw.waitForShards(worker.workerId);
        const created = await gw.call('POST', '/api/v1/sessions', t.tokens.manage, {});
        const sessionId: string = created.body.id;
        const started = gw.fake.handshakes.started;
        const completed = gw.fake.handshakes.completed;
        await waitFor(
          async () => gw.fake.handshakes.started >= started + 2 || gw.fake.handshakes.completed > completed,
          'two connection attempts or a completed handshake',
          30_000,
        );
        const qr = await gw.call('GET', `/api/v1/sessions/${sessionId}/qr`, t.tokens.manage);
        assert.equal(qr.status, 503);
        assert.equal(
          gw.fake.handshakes.completed,
          completed,
          'the client never finished a handshake with an untrusted server',
        );
        const refusals = gw.logLines(worker).filter((l) => /certificate signature invalid/.test(JSON.stringify(l)));
        assert.ok(refusals.length > 0, 'the worker logs why it refused the server');
        assert.notEqual((await gw.session(sessionId, t.tokens.read))['status'], 'online');
      } finally {
        await worker.stop();
      }
    });
  });
});
