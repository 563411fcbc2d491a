import assert from 'node:assert/strict';
import type { BrowserContext, Page } from 'playwright-core';
import { pairingCode } from '../worker/driver/sim/connection.js';
import { simControl } from '../worker/driver/sim/control.js';
import { assertError } from './support/assert-error.js';
import { launchChromium, screenshot } from './support/chromium.js';
import { newSession, newTenant, seedContacts, type Tenant } from './support/fixtures.js';
import { testEnv } from './support/hooks.js';
import { call } from './support/http.js';
import { waitFor, type GatewayProcess } from './support/processes.js';
import { leaseHolders, newPhone, writeSimWorld } from './support/sim-world.js';
import type { RunningApi } from './support/test-env.js';
import { onMessage, subscribe } from '../shared/redis-pubsub.js';

const uniq = () => Math.random().toString(36).slice(2, 10);
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** A request that does not follow redirects, so a test sees the 302/303 itself. */
async function raw(method: string, url: string, headers: Record<string, string> = {}, body?: string) {
  const res = await fetch(url, { method, headers, body, redirect: 'manual' });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** Signs in on the login form like a browser and returns the `wag_admin=…` cookie. */
async function signIn(baseUrl: string, fields: Record<string, string>): Promise<string> {
  const res = await raw('POST', `${baseUrl}/admin/login`, FORM, new URLSearchParams(fields).toString());
  assert.equal(res.status, 303, res.text);
  const cookie = res.headers.get('set-cookie')?.split(';')[0];
  assert.ok(cookie, 'no session cookie');
  return cookie;
}

/** The form token of a page's first form. */
function csrfOf(pageHtml: string): string {
  const token = /name="_csrf" value="([^"]+)"/.exec(pageHtml)?.[1];
  assert.ok(token, 'the page has no form token');
  return token;
}

async function sessionCount(organizationId: string): Promise<number> {
  const [row] = (await testEnv.db.query('SELECT COUNT(*) AS n FROM wa_sessions WHERE organization_id = ?', [
    organizationId,
  ])) as { n: number | string }[];
  return Number(row!.n);
}

/** Counts full navigations of the page's main frame, to prove a change arrived without a reload. */
function countNavigations(page: Page): () => number {
  let count = 0;
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) count++;
  });
  return () => count;
}

describe('operator console at /admin', function () {
  this.timeout(120_000);
  const me = { phone: newPhone(), name: 'Console phone' };
  let mine: Tenant;
  let other: Tenant;
  let worker: GatewayProcess;
  let workerId: string;
  let base: string;
  let context: BrowserContext;
  let closeBrowser: () => Promise<void>;

  before(async () => {
    mine = await newTenant();
    other = await newTenant();
    base = testEnv.api.baseUrl;
    const world = writeSimWorld(`console-${uniq()}`, {
      accounts: [{ phone: me.phone, lid: `9${me.phone}@lid`, name: me.name }],
      sessions: {},
      pairing: { qrIntervalMs: 1_500 },
    });
    workerId = `console-${uniq()}`;
    worker = testEnv.startWorker(world, {}, workerId);
    await waitFor(async () => (await leaseHolders()).get(workerId) === 16, 'the worker to own every shard', 30_000);
    ({ context, close: closeBrowser } = await launchChromium());
  });

  after(async () => {
    await closeBrowser?.();
    await worker?.stop();
  });

  beforeEach(async () => {
    await context.clearCookies();
  });

  async function signInInBrowser(
    page: Page,
    baseUrl: string,
    path: string,
    fields: { token?: string; user?: string; password?: string },
  ) {
    await page.goto(`${baseUrl}${path}`);
    assert.equal(new URL(page.url()).pathname, '/admin/login');
    if (fields.token) await page.fill('#token', fields.token);
    if (fields.user) await page.fill('#user', fields.user);
    if (fields.password) await page.fill('#password', fields.password);
    await Promise.all([
      page.waitForURL((url) => url.pathname === path.split('?')[0]),
      page.click('button[type=submit]'),
    ]);
  }

  describe('in headless Chromium', () => {
    it('signs in, creates a session, follows its rotating QR, pairs it and sees online without a reload, logs it out and deletes it', async () => {
      const page = await context.newPage();
      const navigations = countNavigations(page);
      await signInInBrowser(page, base, '/admin/sessions', { token: mine.tokens.manage });
      await screenshot(page, '01-sessions');

      await page.fill('#create-name', 'Front desk');
      await Promise.all([
        page.waitForURL(/\/admin\/sessions\/sess_[^/?]+\?notice=created$/),
        page.click('form[method=post][action="/admin/sessions"] button[type=submit]'),
      ]);
      const sessionId = decodeURIComponent(/\/admin\/sessions\/([^/?]+)/.exec(page.url())![1]!);
      assert.match(await page.locator('[role=status]').first().innerText(), /Session created/);
      assert.equal(
        (await call('GET', `/api/v1/sessions/${sessionId}`, { token: mine.tokens.read })).body.name,
        'Front desk',
        'created through the same service as the API',
      );

      const qr = page.locator('#qr-image');
      await qr.waitFor({ state: 'visible', timeout: 20_000 });
      assert.match((await qr.getAttribute('src')) ?? '', /^data:image\/png;base64,/);
      const firstQr = await qr.getAttribute('data-qr-id');
      const firstImage = await qr.getAttribute('src');
      assert.ok(firstQr);
      await screenshot(page, '02-session-pairing-qr');
      const loadedAt = navigations();
      await waitFor(
        async () => ((await qr.getAttribute('data-qr-id')) !== firstQr ? true : undefined),
        'the QR image to change as the sim rotates it',
        20_000,
      );
      const nextImage = await qr.getAttribute('src');
      assert.match(nextImage ?? '', /^data:image\/png;base64,/);
      assert.notEqual(nextImage, firstImage, 'the image shown is the new code, not only its id');
      assert.equal(navigations(), loadedAt, 'the QR changed without a reload');

      await simControl(testEnv.redis, testEnv.redisPrefix, { sessionId, action: 'pair', phone: me.phone });
      await page.locator('#session-status', { hasText: 'online' }).waitFor({ timeout: 20_000 });
      assert.equal(navigations(), loadedAt, 'online appeared without a reload');
      assert.ok(await page.locator('#qr').isHidden(), 'the QR is gone once paired');
      assert.ok(await page.locator('#paired').isVisible());
      await screenshot(page, '03-session-online');

      await Promise.all([
        page.waitForURL(/notice=logged_out$/),
        page.click(`form[action$="/sessions/${sessionId}/logout"] button`),
      ]);
      assert.equal(await page.locator('#session-status').innerText(), 'logged_out');
      assert.equal(
        (await call('GET', `/api/v1/sessions/${sessionId}`, { token: mine.tokens.read })).body.status,
        'logged_out',
      );
      await screenshot(page, '04-session-logged-out');

      await Promise.all([page.waitForURL(/\/delete$/), page.click('text=Delete session…')]);
      await screenshot(page, '05-session-delete-confirm');
      assert.equal(
        (await call('GET', `/api/v1/sessions/${sessionId}`, { token: mine.tokens.read })).status,
        200,
        'nothing is deleted before the confirmation',
      );
      await Promise.all([page.waitForURL(/\/admin\/sessions\?notice=deleted$/), page.click('button.danger')]);
      assertError(await call('GET', `/api/v1/sessions/${sessionId}`, { token: mine.tokens.read }), 404, 'not_found');
      assert.equal(await page.locator(`a[href="/admin/sessions/${sessionId}"]`).count(), 0);

      await Promise.all([page.waitForURL(/\/admin\/login$/), page.click('header form[action="/admin/logout"] button')]);
      await page.goto(`${testEnv.api.baseUrl}/admin/sessions`);
      assert.match(page.url(), /\/admin\/login/, 'signed out: the console sends the browser to the login form');
      await page.close();
    });

    it('shows a pairing code for a phone number, large, with when it stops working', async () => {
      const sessionId = await newSession(mine.organizationId);
      const page = await context.newPage();
      await signInInBrowser(page, base, `/admin/sessions/${sessionId}`, { token: mine.tokens.manage });
      await page.fill('#pairing-phone', `+${me.phone}`);
      await page.click('form[action$="/pairing-code"] button');
      const code = page.locator('#pairing-code');
      await code.waitFor({ timeout: 20_000 });
      assert.equal(await code.innerText(), pairingCode(sessionId, me.phone));
      assert.ok(
        Number.parseFloat(await code.evaluate((el) => getComputedStyle(el).fontSize)) >= 32,
        'the code is shown large',
      );
      assert.match(await page.locator('[role=status]').innerText(), /works until about .* UTC/);
      await screenshot(page, '06-session-pairing-code');
      await page.close();
    });

    it("lists the organization's sessions with status, phone, LID, shard, worker and stored contacts, filters by status, and never another organization's", async () => {
      const seeded = await newSession(mine.organizationId);
      await seedContacts(seeded, [{ name: 'A' }, { name: 'B' }, { name: 'C' }]);
      const page = await context.newPage();
      await signInInBrowser(page, base, '/admin/sessions', { token: mine.tokens.manage });
      const row = page.locator('tr', { has: page.locator(`a[href="/admin/sessions/${seeded}"]`) });
      assert.equal(await row.locator('td[data-label="Stored contacts"]').innerText(), '3');
      assert.equal(await row.locator('td[data-label="Worker"]').innerText(), workerId);
      const shard = (await call('GET', `/api/v1/sessions/${seeded}`, { token: mine.tokens.read })).body.shard as number;
      assert.equal(await row.locator('td[data-label="Shard"]').innerText(), String(shard));
      assert.equal(await page.locator(`a[href="/admin/sessions/${other.sessionId}"]`).count(), 0);
      assert.equal(await page.getByText(other.sessionId).count(), 0);
      assert.equal(
        await page.locator('th', { hasText: 'Organization' }).count(),
        0,
        'an organization sees no organization column',
      );
      assert.equal(
        await page.locator('a', { hasText: 'Workers and shards' }).count(),
        0,
        'workers and shards are not offered to an organization',
      );

      await page.selectOption('#filter-status', 'logged_out');
      await Promise.all([page.waitForURL(/status=logged_out/), page.click('button:has-text("Filter")')]);
      assert.equal(
        await page.locator(`a[href="/admin/sessions/${seeded}"]`).count(),
        0,
        'a pairing session is not logged_out',
      );
      await page.selectOption('#filter-status', 'pairing');
      await Promise.all([page.waitForURL(/status=pairing/), page.click('button:has-text("Filter")')]);
      assert.equal(await page.locator(`a[href="/admin/sessions/${seeded}"]`).count(), 1);
      await screenshot(page, '07-sessions-filtered');
      await page.close();
    });

    it('escapes what it shows: a session named like markup stays text', async () => {
      const name = `<img src=x id=injected onerror="document.title='owned'">`;
      const created = await call('POST', '/api/v1/sessions', { token: mine.tokens.manage, body: { name } });
      const page = await context.newPage();
      await signInInBrowser(page, base, `/admin/sessions/${created.body.id}`, { token: mine.tokens.manage });
      assert.equal(await page.locator('#injected').count(), 0);
      assert.equal(await page.locator('h1').innerText(), name);
      await page.goto(`${base}/admin/sessions`);
      assert.equal(await page.locator('#injected').count(), 0);
      await page.close();
    });

    it('is usable on a phone screen: nothing wider than the screen, every field labelled, landmarks present', async () => {
      const phone = await launchChromium({ viewport: { width: 390, height: 844 } });
      try {
        const sessionId = await newSession(mine.organizationId);
        const page = await phone.context.newPage();
        await signInInBrowser(page, base, `/admin/sessions/${sessionId}`, { token: mine.tokens.manage });
        await page.locator('#qr-image').waitFor({ state: 'visible', timeout: 20_000 });
        for (const path of [`/admin/sessions/${sessionId}`, '/admin/sessions', '/admin/batches']) {
          await page.goto(`${base}${path}`);
          const layout = await page.evaluate(() => ({
            overflow: document.documentElement.scrollWidth - window.innerWidth,
            unlabelled: [...document.querySelectorAll('input:not([type=hidden]), select')].filter(
              (el) => (el as HTMLInputElement).labels?.length === 0 && !el.getAttribute('aria-label'),
            ).length,
            landmarks: ['header', 'nav', 'main'].filter((tag) => document.querySelector(tag) === null),
          }));
          assert.ok(layout.overflow <= 0, `${path} is ${layout.overflow}px wider than the phone`);
          assert.equal(layout.unlabelled, 0, `${path} has unlabelled fields`);
          assert.deepEqual(layout.landmarks, [], `${path} lacks landmarks`);
        }
        await page.goto(`${base}/admin/sessions/${sessionId}`);
        await page.locator('#qr-image').waitFor({ state: 'visible', timeout: 20_000 });
        await screenshot(page, '08-phone-session-pairing');
        await page.goto(`${base}/admin/sessions`);
        await screenshot(page, '09-phone-sessions');
      } finally {
        await phone.close();
      }
    });
  });

  describe('batches', () => {
    it("lists running and finished check batches of the organization with progress and a CSV of the results, and none of another organization's", async () => {
      const offline = await newSession(mine.organizationId);
      const waiting = await call('POST', `/api/v1/sessions/${offline}/contacts/check-batch`, {
        token: mine.tokens.read,
        body: { phones: ['+14155550101', '+14155550102', 'nope'] },
      });
      assert.equal(waiting.status, 202);
      const done = await call('POST', `/api/v1/sessions/${offline}/contacts/check-batch`, {
        token: mine.tokens.read,
        body: { phones: ['not a number', 'nor this'] },
      });
      assert.equal(done.body.status, 'completed');
      const foreign = await call('POST', `/api/v1/sessions/${other.sessionId}/contacts/check-batch`, {
        token: other.tokens.read,
        body: { phones: ['bad'] },
      });

      const page = await context.newPage();
      await signInInBrowser(page, base, '/admin/batches', { token: mine.tokens.manage });
      const running = page.locator('table', { has: page.locator('caption', { hasText: 'Running and queued' }) });
      const row = running.locator('tr', { hasText: waiting.body.id });
      assert.equal(await row.locator('progress').getAttribute('max'), '3');
      assert.equal(await row.locator('progress').getAttribute('value'), '1', 'the invalid entry is answered at once');
      const finished = page.locator('table', { has: page.locator('caption', { hasText: 'Recently finished' }) });
      assert.equal(await finished.locator('tr', { hasText: done.body.id }).count(), 1);
      assert.equal(await page.getByText(foreign.body.id).count(), 0);
      await screenshot(page, '11-batches');

      const href = await finished
        .locator('tr', { hasText: done.body.id })
        .locator('a', { hasText: 'CSV' })
        .getAttribute('href');
      const cookie = (await context.cookies(`${base}/admin/`)).map((c) => `${c.name}=${c.value}`).join('; ');
      const csv = await raw('GET', `${base}${href}`, { cookie });
      assert.equal(csv.status, 200);
      assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
      const [header, ...lines] = csv.text.trim().split('\n');
      assert.equal(header, 'phone,normalized,status,jid,lid,checkedAt,cached,matchedAs,reason');
      assert.deepEqual(
        lines.map((line) => line.split(',').slice(0, 5).join(',')),
        ['not a number,,invalid,,', 'nor this,,invalid,,'],
      );
      const foreignCsv = await raw('GET', `${base}/admin/batches/${foreign.body.id}/results.csv`, { cookie });
      assert.equal(foreignCsv.status, 404);
      await page.close();
    });
  });

  describe('forms are safe by construction', () => {
    let cookie: string;
    let token: string;

    before(async () => {
      cookie = await signIn(base, { token: mine.tokens.manage });
      const page = await raw('GET', `${base}/admin/sessions`, { cookie, accept: 'text/html' });
      assert.equal(page.status, 200);
      token = csrfOf(page.text);
    });

    const create = (headers: Record<string, string>, fields: Record<string, string>) =>
      raw(
        'POST',
        `${base}/admin/sessions`,
        { ...FORM, cookie, accept: 'text/html', ...headers },
        new URLSearchParams(fields).toString(),
      );

    it('creates a session with the form token from a page of this site', async () => {
      const before = await sessionCount(mine.organizationId);
      const res = await create({ origin: base, 'sec-fetch-site': 'same-origin' }, { _csrf: token, name: 'by form' });
      assert.equal(res.status, 303);
      assert.match(res.headers.get('location') ?? '', /^\/admin\/sessions\/sess_/);
      assert.equal(await sessionCount(mine.organizationId), before + 1);
    });

    it('refuses a state change without the token, with a wrong one, or with another session’s, and changes nothing', async () => {
      const otherCookie = await signIn(base, { token: mine.tokens.manage });
      const otherToken = csrfOf((await raw('GET', `${base}/admin/sessions`, { cookie: otherCookie })).text);
      assert.notEqual(otherToken, token, 'each sign-in has its own token');
      const before = await sessionCount(mine.organizationId);
      for (const fields of <Record<string, string>[]>[
        {},
        { _csrf: '' },
        { _csrf: `${token.slice(0, -2)}xx` },
        { _csrf: otherToken },
      ]) {
        const res = await create({ origin: base }, { ...fields, name: 'forged' });
        assert.equal(res.status, 403, JSON.stringify(fields));
        assert.match(res.text, /security token/);
      }
      const victim = await newSession(mine.organizationId);
      for (const action of ['delete', 'logout']) {
        const res = await raw(
          'POST',
          `${base}/admin/sessions/${victim}/${action}`,
          { ...FORM, cookie, origin: base },
          '',
        );
        assert.equal(res.status, 403, action);
      }
      assert.equal(
        await sessionCount(mine.organizationId),
        before + 1,
        'only the victim session was added, by the test itself',
      );
      assert.equal((await call('GET', `/api/v1/sessions/${victim}`, { token: mine.tokens.read })).status, 200);
    });

    it('refuses a state change sent from another site even with the right token', async () => {
      const before = await sessionCount(mine.organizationId);
      for (const headers of <Record<string, string>[]>[
        { origin: 'http://evil.example' },
        { origin: 'null' },
        { 'sec-fetch-site': 'cross-site' },
        { 'sec-fetch-site': 'same-site' },
      ]) {
        const res = await create(headers, { _csrf: token, name: 'cross-site' });
        assert.equal(res.status, 403, JSON.stringify(headers));
        assert.match(res.text, /cross-site request refused/);
      }
      assert.equal(await sessionCount(mine.organizationId), before);
    });

    it('lets a Bearer caller read the pages but never send the forms', async () => {
      const headers = { authorization: `Bearer ${mine.tokens.manage}` };
      assert.equal((await raw('GET', `${base}/admin/sessions`, headers)).status, 200);
      const res = await raw(
        'POST',
        `${base}/admin/sessions`,
        { ...FORM, ...headers, origin: base },
        new URLSearchParams({ _csrf: token }).toString(),
      );
      assert.equal(res.status, 403);
    });

    it('serves every page with a policy that allows no inline script or style and nothing from another site, and no inline script or style in the markup', async () => {
      const sessionId = await newSession(mine.organizationId);
      for (const path of [
        '/admin/sessions',
        `/admin/sessions/${sessionId}`,
        `/admin/sessions/${sessionId}/delete`,
        '/admin/batches',
        '/admin/login',
      ]) {
        const page = await raw('GET', `${base}${path}`, { cookie, accept: 'text/html' });
        assert.equal(page.status, 200, path);
        const csp = page.headers.get('content-security-policy') ?? '';
        assert.match(csp, /default-src 'none'/, path);
        assert.match(csp, /frame-ancestors 'none'/, path);
        assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:|\*/, path);
        assert.doesNotMatch(
          page.text,
          /<script(?![^>]*\ssrc=)[^>]*>|<style|<[a-z][^>]*\s(?:style|on[a-z]+)\s*=/i,
          `${path} has inline script or style`,
        );
        assert.doesNotMatch(page.text, /https?:\/\//, `${path} refers to another site`);
      }
    });

    it('answers the pairing poll of another organization’s session exactly like a missing one', async () => {
      const poll = await call('GET', `/admin/sessions/${other.sessionId}/pairing`, { headers: { cookie } });
      const missing = await call('GET', `/admin/sessions/sess_doesnotexist/pairing`, { headers: { cookie } });
      assertError(poll, 404, 'not_found');
      assert.deepEqual(poll.body, missing.body);
      for (const path of [`/admin/sessions/${other.sessionId}`, `/admin/sessions/${other.sessionId}/delete`]) {
        assert.equal((await raw('GET', `${base}${path}`, { cookie, accept: 'text/html' })).status, 404, path);
      }
      const token2 = csrfOf((await raw('GET', `${base}/admin/sessions`, { cookie })).text);
      const res = await raw(
        'POST',
        `${base}/admin/sessions/${other.sessionId}/delete`,
        { ...FORM, cookie, origin: base },
        new URLSearchParams({ _csrf: token2 }).toString(),
      );
      assert.equal(res.status, 404);
      assert.equal(
        (await call('GET', `/api/v1/sessions/${other.sessionId}`, { token: other.tokens.read })).status,
        200,
        "the other organization's session is untouched",
      );
    });

    it('sends a browser without a session to the login form and refuses a script with 401, and a key without manage with 403', async () => {
      const page = await raw('GET', `${base}/admin/sessions?status=online`, { accept: 'text/html' });
      assert.equal(page.status, 302);
      assert.equal(
        page.headers.get('location'),
        `/admin/login?next=${encodeURIComponent('/admin/sessions?status=online')}`,
      );
      assertError(await call('GET', '/admin/sessions/x/pairing'), 401, 'unauthorized');
      assertError(
        await call('GET', `/admin/sessions/${mine.sessionId}/pairing`, { token: mine.tokens.read }),
        403,
        'forbidden',
      );
    });

    it('returns only to a page of the admin area after signing in', async () => {
      for (const next of ['https://evil.example/', '//evil.example/admin', '/admin/../api', '/elsewhere']) {
        const res = await raw(
          'POST',
          `${base}/admin/login`,
          FORM,
          new URLSearchParams({ token: mine.tokens.manage, next }).toString(),
        );
        assert.equal(res.status, 303, next);
        assert.equal(res.headers.get('location'), '/admin', next);
      }
      const res = await raw(
        'POST',
        `${base}/admin/login`,
        FORM,
        new URLSearchParams({ token: mine.tokens.manage, next: '/admin/batches' }).toString(),
      );
      assert.equal(res.headers.get('location'), '/admin/batches');
    });
  });

  describe('operators and ADMIN_ORGANIZATIONS', () => {
    const user = 'ops';
    const password = `pw-${uniq()}-${uniq()}`;
    let api: RunningApi;
    let adminOrg: Tenant;

    before(async () => {
      adminOrg = await newTenant();
      api = await testEnv.startApi(
        { ADMIN_USER: user, ADMIN_PASSWORD: password, ADMIN_ORGANIZATIONS: adminOrg.organizationId },
        `api-console-${uniq()}`,
      );
    });

    after(async () => {
      await api?.process.stop();
    });

    it('shows an operator every worker with its shards, sessions and leases, and each shard’s queues linked to Bull Board', async () => {
      const page = await context.newPage();
      await signInInBrowser(page, api.baseUrl, '/admin/workers', { user, password });
      const workerRow = page
        .locator('tr', { has: page.locator(`td[data-label="Worker"] code`, { hasText: workerId }) })
        .first();
      assert.equal(
        await workerRow.locator('td[data-label="Shards"]').innerText(),
        Array.from({ length: 16 }, (_, i) => i).join(', '),
      );
      assert.match(await workerRow.locator('td[data-label="Last heartbeat"]').innerText(), /\d+ s ago/);
      assert.match(await workerRow.locator('td[data-label="Next lease expiry"]').innerText(), /^in \d+ s$/);
      const n = (
        (await testEnv.db.query(`SELECT COUNT(*) AS n FROM wa_sessions WHERE status <> 'logged_out'`)) as {
          n: string;
        }[]
      )[0]!.n;
      const sessions = Number(await workerRow.locator('td[data-label="Sessions"]').innerText());
      assert.ok(sessions > 0 && sessions <= Number(n), `${sessions} sessions of ${n}`);
      const shard3 = page.locator('tr', { has: page.locator('td[data-label="Shard"]', { hasText: /^3$/ }) });
      assert.equal(
        await shard3.locator('td[data-label="Live queue"] a').getAttribute('href'),
        '/admin/queues/queue/shard-3.live',
      );
      assert.match(await shard3.locator('td[data-label="Batch queue"]').innerText(), /^\d+ \/ \d+ \/ \d+$/);
      await screenshot(page, '12-workers');
      for (const tenant of [mine, other]) {
        await page.goto(`${api.baseUrl}/admin/sessions?org=${tenant.organizationId}`);
        assert.equal(
          await page.locator(`a[href="/admin/sessions/${tenant.sessionId}"]`).count(),
          1,
          'an operator sees every organization',
        );
      }
      await screenshot(page, '13-sessions-every-organization');
      await page.close();
    });

    it('links the console and Bull Board both ways for a caller of ADMIN_ORGANIZATIONS, and Bull Board loads nothing from another site', async () => {
      const page = await context.newPage();
      const foreign: string[] = [];
      page.on('request', (request) => {
        if (!request.url().startsWith(api.baseUrl) && !request.url().startsWith('data:')) foreign.push(request.url());
      });
      await signInInBrowser(page, api.baseUrl, '/admin/sessions', { token: adminOrg.tokens.manage });
      await Promise.all([
        page.waitForURL(`${api.baseUrl}/admin/queues`),
        page.click('a:has-text("Queues (Bull Board)")'),
      ]);
      await page.getByText('live shard 0', { exact: true }).first().waitFor({ timeout: 15_000 });
      const board = await raw('GET', `${api.baseUrl}/admin/queues`, {
        cookie: (await context.cookies(`${api.baseUrl}/admin/`)).map((c) => `${c.name}=${c.value}`).join('; '),
        accept: 'text/html',
      });
      assert.doesNotMatch(board.text, /fonts\.googleapis/);
      assert.match(board.text, /"miscLinks":\[\{"text":"Console[^"]*","url":"\/admin"\}/);
      assert.doesNotMatch(board.headers.get('content-security-policy') ?? '', /https?:/);
      await screenshot(page, '10-bull-board');
      assert.deepEqual(foreign, [], 'requests left the gateway');
      await page.close();
    });

    it("lets a manage caller of ADMIN_ORGANIZATIONS see every organization, and any other organization's manage caller only its own, without Bull Board or workers", async () => {
      const admin = await signIn(api.baseUrl, { token: adminOrg.tokens.manage });
      for (const tenant of [mine, other]) {
        const list = await raw('GET', `${api.baseUrl}/admin/sessions?org=${tenant.organizationId}`, { cookie: admin });
        assert.ok(list.text.includes(`/admin/sessions/${tenant.sessionId}"`), tenant.organizationId);
      }
      assert.equal((await raw('GET', `${api.baseUrl}/admin/workers`, { cookie: admin })).status, 200);

      const login = await raw(
        'POST',
        `${api.baseUrl}/admin/login`,
        FORM,
        new URLSearchParams({ token: mine.tokens.manage }).toString(),
      );
      assert.equal(login.status, 303);
      assert.equal(login.headers.get('location'), '/admin', 'a caller Bull Board refuses lands on the console');
      assert.equal(
        (
          await raw(
            'POST',
            `${api.baseUrl}/admin/login`,
            FORM,
            new URLSearchParams({ token: adminOrg.tokens.manage }).toString(),
          )
        ).headers.get('location'),
        '/admin/queues',
      );
      const own = login.headers.get('set-cookie')!.split(';')[0]!;
      const list = await raw('GET', `${api.baseUrl}/admin/sessions?org=${other.organizationId}`, { cookie: own });
      assert.ok(list.text.includes(mine.sessionId));
      assert.ok(!list.text.includes(other.sessionId));
      assert.ok(!list.text.includes('/admin/queues"'), 'no link to a board that would refuse them');
      assert.equal(
        (await raw('GET', `${api.baseUrl}/admin/workers`, { cookie: own, accept: 'text/html' })).status,
        403,
      );
      assertError(
        await call('GET', '/admin/queues/api/queues', { baseUrl: api.baseUrl, headers: { cookie: own } }),
        403,
        'forbidden',
      );
    });
  });

  describe('the CLI', () => {
    it('creates, lists, logs out and deletes sessions through the same service, scoped to --org', async () => {
      const { execFile } = await import('node:child_process');
      const { REPO_ROOT } = await import('./support/processes.js');
      const cli = (args: string[]) =>
        new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
          execFile(
            process.execPath,
            ['dist/api/cli/main.js', ...args, '--json'],
            { cwd: REPO_ROOT, env: { ...process.env, ...testEnv.env() }, timeout: 30_000 },
            (err, stdout, stderr) =>
              resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
          );
        });
      const announced: string[] = [];
      const control = testEnv.subscriber();
      await subscribe(control, testEnv.keys.control());
      onMessage(control, (_channel: string, message: string) => announced.push(message));
      let session: { id: string; status: string };
      try {
        const created = await cli(['session', 'create', '--org', mine.organizationId, '--name', 'from the CLI']);
        assert.equal(created.code, 0, created.stderr);
        session = JSON.parse(created.stdout) as { id: string; status: string };
        assert.equal(session.status, 'pairing');
        // Announced like an API creation, so its worker connects it at once rather than at its next reconcile.
        await waitFor(
          async () => announced.some((m) => m.includes(session.id)) || undefined,
          'the creation to be announced on the control channel',
          5_000,
        );
      } finally {
        control.disconnect();
      }
      await waitFor(
        async () => (await testEnv.redis.exists(`${testEnv.redisPrefix}:qr:${session.id}`)) === 1,
        'a QR code for the CLI-created session',
        15_000,
      );

      const listed = await cli(['session', 'list', '--org', mine.organizationId, '--status', 'pairing']);
      assert.equal(listed.code, 0, listed.stderr);
      assert.ok((JSON.parse(listed.stdout) as { id: string }[]).some((s) => s.id === session.id));

      const foreign = await cli(['session', 'delete', other.sessionId, '--org', mine.organizationId]);
      assert.equal(foreign.code, 1);
      assert.match(foreign.stderr, /not_found/);
      assert.equal(
        (await call('GET', `/api/v1/sessions/${other.sessionId}`, { token: other.tokens.read })).status,
        200,
      );

      await simControl(testEnv.redis, testEnv.redisPrefix, { sessionId: session.id, action: 'pair', phone: me.phone });
      await waitFor(
        async () =>
          (await call('GET', `/api/v1/sessions/${session.id}`, { token: mine.tokens.read })).body.status === 'online'
            ? true
            : undefined,
        'the CLI session online',
      );
      const loggedOut = await cli(['session', 'logout', session.id, '--org', mine.organizationId]);
      assert.equal(loggedOut.code, 0, loggedOut.stderr);
      assert.equal(
        (await call('GET', `/api/v1/sessions/${session.id}`, { token: mine.tokens.read })).body.status,
        'logged_out',
      );

      const deleted = await cli(['session', 'delete', session.id, '--org', mine.organizationId]);
      assert.equal(deleted.code, 0, deleted.stderr);
      assertError(await call('GET', `/api/v1/sessions/${session.id}`, { token: mine.tokens.read }), 404, 'not_found');
    });
  });
});
