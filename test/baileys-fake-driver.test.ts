/**
 * The driver issue's items that show on the wire, through a real Baileys worker against the fake
 * WhatsApp server: the device name the phone sees, pairing codes only from a connection showing a
 * QR code (and when they expire), a refused registration starting pairing over, and the connect
 * watchdog on a login WhatsApp never answers.
 */
import assert from 'node:assert/strict';
import { Curve, proto } from '@whiskeysockets/baileys';
import { assertError } from './support/assert-error.js';
import { FakeGateway, fakeUser, type FakeTenant } from './support/fake-gateway.js';
import { freePort, waitFor } from './support/processes.js';
import { node } from './fake-whatsapp/nodes.js';

const BROWSER_NAME = 'Acme Support Line';
const CONNECT_TIMEOUT_MS = 5_000;

describe('baileys driver against the fake WhatsApp server: pairing, device name and connect watchdog (issue 14)', function () {
  this.timeout(180_000);
  const gw = new FakeGateway();
  let t: FakeTenant;
  let worker: ReturnType<FakeGateway['startWorker']>;
  let metricsPort: number;

  before(async () => {
    await gw.start();
    t = await gw.tenant();
    metricsPort = await freePort();
    worker = gw.startWorker(undefined, {
      WA_BROWSER_NAME: BROWSER_NAME,
      WA_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
      WA_QUERY_TIMEOUT_MS: '3000',
      HOST: '127.0.0.1',
      WORKER_METRICS_PORT: String(metricsPort),
    });
    await gw.waitForShards(worker.workerId);
  });

  after(async () => {
    gw.fake.faults.silent = false;
    gw.fake.faults.chain = {};
    await gw.stop();
  });

  async function newSession(): Promise<string> {
    const created = await gw.call('POST', '/api/v1/sessions', t.tokens.manage, {});
    assert.equal(created.status, 201, created.text);
    return created.body.id as string;
  }

  /** The QR code of a session, read through the API once its connection shows one. */
  const qrOf = (sessionId: string) =>
    waitFor(
      async () => {
        const res = await gw.call('GET', `/api/v1/sessions/${sessionId}/qr`, t.tokens.manage);
        return res.status === 200 ? (res.body.qr as string) : undefined;
      },
      'a QR code',
      30_000,
    );

  /** The fake's registration a QR code came from. */
  const registrationOf = (qr: string) => gw.fake.registrations.get(qr.split('#')[1]!.split(',')[0]!)!;

  it('shows the phone WA_BROWSER_NAME as the device, for a QR scan and for a pairing code, and says when the code expires', async () => {
    const sessionId = await newSession();
    const qr = await qrOf(sessionId);
    const registration = registrationOf(qr);
    const props = proto.DeviceProps.decode(registration.client.payload!.devicePairingData!.deviceProps!);
    assert.equal(props.os, BROWSER_NAME, 'the name a QR registration shows under Linked devices');

    const other = fakeUser();
    const asked = Date.now();
    const res = await gw.call('POST', `/api/v1/sessions/${sessionId}/pairing-code`, t.tokens.manage, {
      phone: `+${other.phone}`,
    });
    assert.equal(res.status, 200, res.text);
    assert.match(res.body.code, /^[A-Z0-9]{8}$/);
    // The connection shows its six QR codes for 60 s + 5 × 20 s from its first one, then ends: so does the code.
    assert.ok(
      res.body.expiresAt > asked && res.body.expiresAt <= asked + 160_000,
      `expiresAt ${res.body.expiresAt - asked} ms after the request`,
    );
    const request = await waitFor(
      async () => gw.fake.pairingCodeRequests.find((r) => r.phone === other.phone),
      'the pairing-code request at WhatsApp',
    );
    assert.equal(request.platformDisplay, `Chrome (${BROWSER_NAME})`);
  });

  it('answers a pairing code with 503 while the connection has shown no QR code (its handshake does not complete), and WhatsApp is not asked', async () => {
    gw.fake.faults.chain = { intermediateSigner: Curve.generateKeyPair() };
    try {
      const sessionId = await newSession();
      const started = gw.fake.handshakes.started;
      await waitFor(async () => gw.fake.handshakes.started > started, 'a connection attempt', 30_000);
      const requests = gw.fake.pairingCodeRequests.length;
      const res = await gw.call('POST', `/api/v1/sessions/${sessionId}/pairing-code`, t.tokens.manage, {
        phone: `+${fakeUser().phone}`,
      });
      assertError(res, 503, 'unavailable');
      assert.equal(res.headers.get('retry-after'), '2');
      assert.equal(gw.fake.pairingCodeRequests.length, requests);
      const view = await gw.session(sessionId, t.tokens.read);
      assert.notEqual(view['status'], 'online');
    } finally {
      gw.fake.faults.chain = {};
    }
  });

  it('starts pairing over with fresh credentials when WhatsApp refuses a registration (401), instead of ending logged_out', async () => {
    const sessionId = await newSession();
    const qr = await qrOf(sessionId);
    const first = registrationOf(qr);
    const registrations = gw.fake.registrationCount;
    first.client.connection.send(node('stream:error', { code: '401' }, [node('conflict', { type: 'device_removed' })]));
    first.client.connection.close();
    await waitFor(async () => gw.fake.registrationCount > registrations, 'a new registration', 30_000);
    const again = registrationOf(
      await waitFor(
        async () => {
          const next = await qrOf(sessionId);
          return next !== qr && registrationOf(next) !== first ? next : undefined;
        },
        'a QR code of the new registration',
        30_000,
      ),
    );
    assert.ok(!again.noiseKey.equals(first.noiseKey), 'fresh credentials: a new Noise key');
    const logged = gw
      .logLines(worker)
      .filter((l) => l['sessionId'] === sessionId && /had not finished pairing/.test(String(l['msg'])));
    assert.equal(logged.length, 1);
    // The new credentials pair as usual.
    const phone = gw.phone(fakeUser());
    await phone.scanQr(await qrOf(sessionId));
    const view = await gw.waitForStatus(sessionId, t.tokens.read, 'online');
    assert.equal(view['statusReason'], null);
  });

  it('ends a login WhatsApp never answers after WA_CONNECT_TIMEOUT_MS (offline, reason, metric), keeps the credentials, and is online once WhatsApp answers', async () => {
    const { sessionId, companion } = await gw.pairedSession(t, gw.phone(fakeUser()));
    gw.fake.faults.silent = true;
    try {
      const logins = gw.fake.loginsOf(companion).length;
      gw.fake.drop(companion);
      // The login succeeds, then none of the queries Baileys waits on before `open` is answered.
      await waitFor(async () => gw.fake.loginsOf(companion).length > logins, 'a login', 30_000);
      const view = await waitFor(
        async () => {
          const v = await gw.session(sessionId, t.tokens.read);
          return /^connectTimeout/.test(String(v['statusReason'])) ? v : undefined;
        },
        'the watchdog to end the stuck login',
        30_000,
      );
      assert.equal(view['status'], 'offline');
      assert.equal(
        view['statusReason'],
        `connectTimeout: no QR code and no login within ${CONNECT_TIMEOUT_MS / 1000} s`,
      );
      assert.equal(typeof view['nextRetryAt'], 'number');
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      assert.match(metrics, /wag_whatsapp_disconnects_total\{[^}]*reason="connectTimeout"[^}]*\} [1-9]/);
    } finally {
      gw.fake.faults.silent = false;
    }
    await gw.waitForStatus(sessionId, t.tokens.read, 'online', 60_000);
    assert.equal(
      gw.fake.companions.has(`${companion.phone}:${companion.device}`),
      true,
      'the same device, no new pairing',
    );
  });

  it("counts a live check and its LID look-up against the session's bulk-check budget (every query is counted)", async () => {
    const { sessionId } = await gw.pairedSession(t, gw.phone(fakeUser()));
    const someone = fakeUser();
    gw.fake.world.addUser(someone);
    const usync = gw.fake.usyncQueries.length;
    const res = await gw.call(
      'GET',
      `/api/v1/sessions/${sessionId}/contacts/check?phone=%2B${someone.phone}`,
      t.tokens.read,
    );
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.lid, someone.lid, 'the single live check looks the LID up');
    const asked = gw.fake.usyncQueries.slice(usync).filter((q) => q.users.some((u) => u.includes(someone.phone)));
    assert.deepEqual(
      asked.map((q) => q.protocols.includes('lid')),
      [false, true],
      'the check, then its LID look-up',
    );
    // The bucket the session's batches are paced by (BATCH_RATE_PER_MINUTE 60, one chunk of 50 deep).
    const tokens = await waitFor(async () => {
      const value = await gw.env.redis.hget(gw.env.keys.batchRateBucket(sessionId), 'tokens');
      return value === null ? undefined : Number(value);
    }, 'the session budget to be charged');
    assert.ok(tokens <= 48.5, `two numbers' worth taken from a full bucket of 50, ${tokens} left`);
  });

  it('left nothing the fake could not answer', () => {
    assert.deepEqual(gw.fake.unhandled, []);
    assert.deepEqual(gw.fake.errors, []);
  });
});
