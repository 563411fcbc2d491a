import assert from 'node:assert/strict';
import { assertError } from './support/assert-error.js';
import { FakeGateway, fakeUser, type FakeTenant } from './support/fake-gateway.js';
import { waitFor } from './support/processes.js';
import type { FakePhone } from './fake-whatsapp/phone.js';

describe('baileys driver against the fake WhatsApp server: live operations', function () {
  this.timeout(120_000);
  const gw = new FakeGateway();
  const me = fakeUser({ pushName: 'Gateway line' });
  const alice = fakeUser({
    about: 'Climbing 🧗',
    aboutSetAt: 1719662400,
    picture: {
      id: '1717',
      url: 'https://pps.fake.invalid/alice.jpg',
      previewUrl: 'https://pps.fake.invalid/alice-preview.jpg',
    },
  });
  const hidden = fakeUser({
    about: 'secret',
    aboutHidden: true,
    picture: { id: '9', url: 'https://pps.fake.invalid/h.jpg' },
    pictureHidden: true,
  });
  const quiet = fakeUser({ about: null, picture: null });
  const bob = fakeUser({ about: 'bob' });
  const nobody = fakeUser();
  let t: FakeTenant;
  let phone: FakePhone;
  let sessionId: string;
  let worker: ReturnType<FakeGateway['startWorker']>;
  const contacts = (rest: string) => `/api/v1/sessions/${sessionId}/contacts${rest}`;

  before(async () => {
    await gw.start();
    for (const user of [alice, hidden, quiet, bob]) gw.fake.world.addUser(user);
    phone = gw.phone(me);
    t = await gw.tenant();
    worker = gw.startWorker();
    await gw.waitForShards(worker.workerId);
    ({ sessionId } = await gw.pairedSession(t, phone));
  });

  after(async () => {
    await gw.stop();
  });

  afterEach(() => {
    gw.fake.faults.rateLimited.clear();
  });

  describe('check', () => {
    it('returns the JID and LID of a registered number', async () => {
      const res = await gw.call('GET', contacts(`/check?phone=%2B${alice.phone}`), t.tokens.read);
      assert.equal(res.status, 200);
      const { checkedAt, ...answer } = res.body;
      assert.deepEqual(answer, {
        isOnWhatsApp: true,
        jid: `${alice.phone}@s.whatsapp.net`,
        query: `+${alice.phone}`,
        lid: alice.lid,
        matchedAs: alice.phone,
        cached: false,
      });
      assert.equal(typeof checkedAt, 'number');
    });

    it('answers isOnWhatsApp false for an unregistered number', async () => {
      const res = await gw.call('GET', contacts(`/check?phone=${nobody.phone}`), t.tokens.read);
      assert.equal(res.status, 200);
      const { checkedAt, ...answer } = res.body;
      assert.deepEqual(answer, { isOnWhatsApp: false, jid: null, query: nobody.phone, cached: false });
      assert.equal(typeof checkedAt, 'number');
    });

    it("maps WhatsApp's rate-overlimit (429) to 429 rate_limited", async () => {
      gw.fake.faults.rateLimited.add('usync');
      const res = await gw.call('GET', contacts(`/check?phone=${bob.phone}`), t.tokens.read);
      assertError(res, 429, 'rate_limited');
    });
  });

  describe('about', () => {
    it('returns the about text and when it was set, by phone JID and by LID', async () => {
      for (const jid of [`${alice.phone}@s.whatsapp.net`, alice.lid]) {
        const res = await gw.call('GET', contacts(`/${jid}/about`), t.tokens.read);
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(res.body, { about: 'Climbing 🧗', setAt: 1719662400000 });
      }
    });

    it('returns an empty about for a contact with none, and for one hiding it', async () => {
      for (const who of [quiet, hidden]) {
        const res = await gw.call('GET', contacts(`/${who.phone}@s.whatsapp.net/about`), t.tokens.read);
        assert.equal(res.status, 200);
        assert.deepEqual(res.body, { about: '' });
      }
    });

    it("maps WhatsApp's item-not-found (404) for an unknown user to 404 not_found", async () => {
      const res = await gw.call('GET', contacts(`/${nobody.phone}@s.whatsapp.net/about`), t.tokens.read);
      assertError(res, 404, 'not_found');
    });

    it('maps rate-overlimit to 429', async () => {
      gw.fake.faults.rateLimited.add('usync');
      assertError(
        await gw.call('GET', contacts(`/${alice.phone}@s.whatsapp.net/about`), t.tokens.read),
        429,
        'rate_limited',
      );
    });
  });

  describe('picture', () => {
    it('returns the full image and the preview URLs', async () => {
      const image = await gw.call('GET', contacts(`/${alice.phone}@s.whatsapp.net/picture?type=image`), t.tokens.read);
      assert.equal(image.status, 200, image.text);
      assert.equal(image.body.url, 'https://pps.fake.invalid/alice.jpg');
      assert.equal(image.body.type, 'image');
      assert.equal(typeof image.body.fetchedAt, 'number');
      const preview = await gw.call('GET', contacts(`/${alice.lid}/picture?type=preview`), t.tokens.read);
      assert.equal(preview.status, 200, preview.text);
      assert.equal(preview.body.url, 'https://pps.fake.invalid/alice-preview.jpg');
      assert.equal(preview.body.type, 'preview');
    });

    it('answers 404 for no picture (item-not-found) and for a picture hidden by privacy (not-authorized, 401)', async () => {
      for (const who of [quiet, hidden]) {
        assertError(
          await gw.call('GET', contacts(`/${who.phone}@s.whatsapp.net/picture`), t.tokens.read),
          404,
          'not_found',
        );
      }
    });

    it('maps rate-overlimit to 429', async () => {
      gw.fake.faults.rateLimited.add('picture');
      assertError(
        await gw.call('GET', contacts(`/${alice.phone}@s.whatsapp.net/picture`), t.tokens.read),
        429,
        'rate_limited',
      );
    });
  });

  describe('block and unblock', () => {
    it('blocks and unblocks by phone JID, idempotently, as the phone then sees it', async () => {
      const jid = `${bob.phone}@s.whatsapp.net`;
      for (let i = 0; i < 2; i++) {
        const res = await gw.call('POST', contacts(`/${jid}/block`), t.tokens.send);
        assert.equal(res.status, 204, res.text);
        assert.equal(res.text, '');
        assert.deepEqual([...phone.blocked], [bob.lid]);
      }
      for (let i = 0; i < 2; i++) {
        const res = await gw.call('POST', contacts(`/${jid}/unblock`), t.tokens.send);
        assert.equal(res.status, 204, res.text);
        assert.deepEqual([...phone.blocked], []);
      }
    });

    it('blocks by LID once the LID is known to the session', async () => {
      const res = await gw.call('POST', contacts(`/${bob.lid}/block`), t.tokens.send);
      assert.equal(res.status, 204, res.text);
      assert.deepEqual([...phone.blocked], [bob.lid]);
      assert.equal((await gw.call('POST', contacts(`/${bob.lid}/unblock`), t.tokens.send)).status, 204);
      assert.deepEqual([...phone.blocked], []);
    });

    it('maps rate-overlimit to 429 and blocks nobody', async () => {
      gw.fake.faults.rateLimited.add('blocklist.set');
      assertError(
        await gw.call('POST', contacts(`/${alice.phone}@s.whatsapp.net/block`), t.tokens.send),
        429,
        'rate_limited',
      );
      assert.deepEqual([...phone.blocked], []);
    });
  });

  describe('pairing code and logout', () => {
    it('returns a pairing code for an unpaired session once it shows a QR code, and WhatsApp gets the request', async () => {
      const created = await gw.call('POST', '/api/v1/sessions', t.tokens.manage, {});
      const id: string = created.body.id;
      await waitFor(
        async () => (await gw.call('GET', `/api/v1/sessions/${id}/qr`, t.tokens.manage)).status === 200,
        'a QR code',
        30_000,
      );
      const other = fakeUser();
      const res = await gw.call('POST', `/api/v1/sessions/${id}/pairing-code`, t.tokens.manage, {
        phone: `+${other.phone}`,
      });
      assert.equal(res.status, 200, res.text);
      assert.match(res.body.code, /^[A-Z0-9]{8}$/);
      await waitFor(
        async () => gw.fake.pairingCodeRequests.some((r) => r.phone === other.phone),
        'the pairing-code request at WhatsApp',
      );
    });

    it('logs out: WhatsApp forgets the device, the session is logged_out and its credentials are gone', async () => {
      const second = gw.phone(fakeUser());
      const { sessionId: id, companion } = await gw.pairedSession(t, second);
      const logouts = gw.fake.count('logout');
      const res = await gw.call('POST', `/api/v1/sessions/${id}/logout`, t.tokens.manage);
      assert.equal(res.status, 204, res.text);
      assert.equal(gw.fake.count('logout'), logouts + 1);
      assert.equal(
        gw.fake.companions.has(`${companion.phone}:${companion.device}`),
        false,
        'WhatsApp no longer knows the device',
      );
      await gw.waitForStatus(id, t.tokens.read, 'logged_out');
      const rows = (await gw.env.db.query('SELECT COUNT(*) AS n FROM wa_auth_creds WHERE session_id = ?', [id])) as {
        n: number | string;
      }[];
      assert.equal(Number(rows[0]!.n), 0);
    });
  });

  describe('afterwards', () => {
    it('the client sent nothing the fake could not answer', () => {
      assert.deepEqual(gw.fake.unhandled, []);
      assert.deepEqual(gw.fake.errors, []);
    });
  });
});
