import assert from 'node:assert/strict';
import { assertError } from './support/assert-error.js';
import { FakeGateway, fakeUser, type FakeTenant } from './support/fake-gateway.js';
import { waitFor } from './support/processes.js';
import type { Companion } from './fake-whatsapp/fake-server.js';

/** Long enough for the worker's first reconnect attempt (1 s backoff, jittered) to have happened. */
const RETRY_WINDOW_MS = 4_000;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('baileys driver against the fake WhatsApp server: lifecycle faults', function () {
  this.timeout(180_000);
  const gw = new FakeGateway();
  const bob = fakeUser({ about: 'bob', picture: { id: '5', url: 'https://pps.fake.invalid/bob.jpg' } });
  let t: FakeTenant;
  let worker: ReturnType<FakeGateway['startWorker']>;
  const workerEnv = { WA_QUERY_TIMEOUT_MS: '3000' };

  before(async () => {
    await gw.start();
    gw.fake.world.addUser(bob);
    t = await gw.tenant();
    worker = gw.startWorker(undefined, workerEnv);
    await gw.waitForShards(worker.workerId);
  });

  after(async () => {
    gw.fake.faults.silent = false;
    gw.fake.faults.loginFailure = undefined;
    await gw.stop();
  });

  async function paired(): Promise<{ sessionId: string; companion: Companion }> {
    return gw.pairedSession(t, gw.phone(fakeUser()));
  }

  const credsCount = async (sessionId: string) =>
    Number(
      (
        (await gw.env.db.query('SELECT COUNT(*) AS n FROM wa_auth_creds WHERE session_id = ?', [sessionId])) as {
          n: string;
        }[]
      )[0]!.n,
    );

  it('the phone unlinks the device: logged_out, credentials and keys gone, no reconnect', async () => {
    const { sessionId, companion } = await paired();
    gw.fake.phones.get(companion.phone)!.unlink(companion);
    const view = await gw.waitForStatus(sessionId, t.tokens.read, 'logged_out');
    assert.match(String(view['statusReason']), /401|loggedOut/);
    assert.equal(await credsCount(sessionId), 0);
    const keys = (await gw.env.db.query('SELECT COUNT(*) AS n FROM wa_auth_keys WHERE session_id = ?', [
      sessionId,
    ])) as { n: string }[];
    assert.equal(Number(keys[0]!.n), 0);
    const logins = gw.fake.loginsOf(companion).length;
    await pause(RETRY_WINDOW_MS);
    assert.equal(gw.fake.loginsOf(companion).length, logins, 'no login attempt after the unlink');
    assertError(
      await gw.call('GET', `/api/v1/sessions/${sessionId}/contacts/${bob.phone}@s.whatsapp.net/about`, t.tokens.read),
      501,
      'not_implemented',
    );
  });

  it('another client replaces the connection (440): offline with the reason, no reconnect fight', async () => {
    const { sessionId, companion } = await paired();
    const logins = gw.fake.loginsOf(companion).length;
    gw.fake.replace(companion);
    const view = await gw.waitForStatus(sessionId, t.tokens.read, 'offline', 30_000, (v) =>
      /440|connectionReplaced/.test(String(v['statusReason'])),
    );
    assert.equal(view['nextRetryAt'], null, 'no retry scheduled');
    await pause(RETRY_WINDOW_MS);
    assert.equal(gw.fake.loginsOf(companion).length, logins, 'the worker does not take the connection back');
    assert.equal(await credsCount(sessionId), 1, 'the credentials stay: the device is still linked');
  });

  it('a dropped socket: offline, then back online by logging in again, without pairing', async () => {
    const { sessionId, companion } = await paired();
    const logins = gw.fake.loginsOf(companion).length;
    const registrations = gw.fake.registrationCount;
    gw.fake.drop(companion);
    await waitFor(async () => gw.fake.loginsOf(companion).length > logins, 'a new login', 30_000);
    const view = await gw.waitForStatus(sessionId, t.tokens.read, 'online');
    assert.equal(view['phoneJid'], `${companion.phone}@s.whatsapp.net`);
    assert.deepEqual(
      gw.fake
        .loginsOf(companion)
        .slice(logins)
        .map((l) => l.outcome),
      ['success'],
    );
    assert.equal(gw.fake.registrationCount, registrations, 'no new pairing');
    const about = await gw.call(
      'GET',
      `/api/v1/sessions/${sessionId}/contacts/${bob.phone}@s.whatsapp.net/about`,
      t.tokens.read,
    );
    assert.equal(about.status, 200, about.text);
    assert.equal(about.body.about, 'bob');
  });

  it('WhatsApp rejects the client version (405): offline with a clear reason, no endless reconnect', async () => {
    const { sessionId, companion } = await paired();
    gw.fake.faults.loginFailure = 405;
    try {
      const logins = gw.fake.loginsOf(companion).length;
      gw.fake.drop(companion);
      await waitFor(async () => gw.fake.loginsOf(companion).length > logins, 'a login attempt', 30_000);
      const view = await waitFor(async () => {
        const v = await gw.session(sessionId, t.tokens.read);
        return v['status'] === 'offline' && /405/.test(String(v['statusReason'])) ? v : undefined;
      }, 'the session offline for 405');
      assert.match(String(view['statusReason']), /version/i);
      await pause(RETRY_WINDOW_MS);
      assert.deepEqual(
        gw.fake
          .loginsOf(companion)
          .slice(logins)
          .map((l) => l.outcome),
        ['failure 405'],
        'one refused login, then a long pause',
      );
      const logged = gw.logLines(worker).filter((l) => l['sessionId'] === sessionId && /405/.test(JSON.stringify(l)));
      assert.ok(
        logged.some((l) => l['level'] >= 40),
        'a warning in the worker log names the 405',
      );
    } finally {
      gw.fake.faults.loginFailure = undefined;
    }
  });

  it('a server that stops answering: live calls answer 504, never a made-up empty result; a drop ends pending calls with 501', async () => {
    const { sessionId, companion } = await paired();
    const base = `/api/v1/sessions/${sessionId}/contacts`;
    // The session answers live calls right before the server falls silent.
    await waitFor(
      async () => (await gw.call('GET', `${base}/${bob.phone}@s.whatsapp.net/about`, t.tokens.read)).status === 200,
      'a live answer',
    );
    gw.fake.faults.silent = true;
    try {
      assertError(await gw.call('GET', `${base}/${bob.phone}@s.whatsapp.net/about`, t.tokens.read), 504, 'timeout');
      assertError(await gw.call('GET', `${base}/${bob.phone}@s.whatsapp.net/picture`, t.tokens.read), 504, 'timeout');
      assertError(await gw.call('GET', `${base}/check?phone=${bob.phone}`, t.tokens.read), 504, 'timeout');
      const blocked = await gw.call('POST', `${base}/${bob.phone}@s.whatsapp.net/block`, t.tokens.send);
      assert.ok(blocked.status === 504 || blocked.status === 501, `block answered ${blocked.status}: ${blocked.text}`);
      assert.deepEqual([...gw.fake.phones.get(companion.phone)!.blocked], []);

      const pending = gw.call('GET', `${base}/${bob.phone}@s.whatsapp.net/about`, t.tokens.read);
      await pause(500);
      gw.fake.drop(companion);
      assertError(await pending, 501, 'not_implemented');
    } finally {
      gw.fake.faults.silent = false;
    }
    await gw.waitForStatus(sessionId, t.tokens.read, 'online');
    // Back after the drop: the same call answers the real about text again.
    await waitFor(
      async () =>
        (await gw.call('GET', `${base}/${bob.phone}@s.whatsapp.net/about`, t.tokens.read)).body.about === 'bob',
      'the about text after reconnecting',
      30_000,
    );
  });

  it('the worker is killed: another worker resumes the session from the credentials in MySQL, without pairing', async () => {
    const { sessionId, companion } = await paired();
    const registrations = gw.fake.registrationCount;
    const logins = gw.fake.loginsOf(companion).length;
    await worker.stop('SIGKILL');
    const next = gw.startWorker(undefined, workerEnv);
    worker = next;
    await waitFor(async () => gw.fake.loginsOf(companion).length > logins, 'a login from the new worker', 60_000);
    await gw.waitForShards(next.workerId);
    const view = await gw.waitForStatus(sessionId, t.tokens.read, 'online', 60_000);
    assert.equal(view['phoneJid'], `${companion.phone}@s.whatsapp.net`);
    assert.equal(gw.fake.registrationCount, registrations, 'no new pairing');
    assert.equal(gw.fake.clientsOf(companion.phone, companion.device).length, 1, 'one connection for the device');
    const about = await gw.call(
      'GET',
      `/api/v1/sessions/${sessionId}/contacts/${bob.phone}@s.whatsapp.net/about`,
      t.tokens.read,
    );
    assert.equal(about.status, 200, about.text);
  });
});
