import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { assertError } from './support/assert-error.js';
import { newTenant, type Tenant } from './support/fixtures.js';
import { testEnv } from './support/hooks.js';
import { call } from './support/http.js';
import type { RunningApi } from './support/test-env.js';

const CHROMIUM = '/usr/bin/chromium';
const SHARDS = 16;
const EXPECTED_QUEUES = [
  ...Array.from({ length: SHARDS }, (_, i) => [`live shard ${i}`, `batch shard ${i}`]).flat(),
  'webhook deliveries',
];
const uniq = () => Math.random().toString(36).slice(2, 10);

/** A request that does not follow redirects, so a test sees the 302/303 itself. */
async function raw(method: string, url: string, headers: Record<string, string> = {}, body?: string) {
  const res = await fetch(url, { method, headers, body, redirect: 'manual' });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const BROWSER_ACCEPT = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

async function login(baseUrl: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return raw('POST', `${baseUrl}/admin/login`, { ...FORM, ...headers }, form(fields));
}

/** `wag_admin=<value>` from a login response, ready for a Cookie header. */
function sessionCookie(res: { headers: Headers }): string {
  const setCookie = res.headers.get('set-cookie');
  assert.ok(setCookie, 'no Set-Cookie on the login response');
  return setCookie.split(';')[0]!;
}

function queueList(baseUrl: string, headers: Record<string, string>) {
  return call('GET', '/admin/queues/api/queues', { baseUrl, headers });
}

describe('Bull Board at /admin/queues', function () {
  this.timeout(60_000);
  let tenant: Tenant;
  /** An api whose ADMIN_ORGANIZATIONS names the tenant's organization. */
  let listed: RunningApi;
  let base: string;

  before(async () => {
    tenant = await newTenant();
    listed = await testEnv.startApi({ ADMIN_ORGANIZATIONS: tenant.organizationId }, `api-board-${uniq()}`);
    base = listed.baseUrl;
  });

  after(async () => {
    await listed?.process.stop();
  });

  describe('deny by default (ADMIN_ORGANIZATIONS unset)', () => {
    it("refuses every organization's manage caller with 403 on the board, also once signed in (for the console of its own organization)", async () => {
      const unlisted = testEnv.api.baseUrl;
      for (const token of [
        tenant.tokens.manage,
        tenant.tokens.all,
        testEnv.jwks.sign({ org: tenant.organizationId, role: 'owner' }),
      ]) {
        assertError(await queueList(unlisted, { authorization: `Bearer ${token}` }), 403, 'forbidden');
        const res = await login(unlisted, { token });
        assert.equal(res.status, 303);
        assert.equal(
          res.headers.get('location'),
          '/admin',
          'signed in for the console, not sent to a board that refuses them',
        );
        assertError(await queueList(unlisted, { cookie: sessionCookie(res) }), 403, 'forbidden');
      }
    });
  });

  describe('in headless Chromium', () => {
    let context: BrowserContext;
    let userDataDir: string;

    before(async function () {
      if (!existsSync(CHROMIUM)) {
        throw new Error(
          `Chromium is missing at ${CHROMIUM}: install the Debian package (apt-get install -y chromium); scripts/test.sh installs it when run as root`,
        );
      }
      userDataDir = mkdtempSync(path.join(tmpdir(), 'wag-chromium-'));
      context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
    });

    after(async () => {
      await context?.close();
      if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    });

    beforeEach(async () => {
      await context.clearCookies();
    });

    it("sends a browser without a session to the login form, and after a manage key shows every shard's live and batch queue", async () => {
      const page = await context.newPage();
      await page.goto(`${base}/admin/queues`);
      assert.equal(new URL(page.url()).pathname, '/admin/login');

      await page.fill('#token', tenant.tokens.manage);
      await Promise.all([page.waitForURL(`${base}/admin/queues`), page.click('button[type=submit]')]);
      for (const name of EXPECTED_QUEUES) {
        await page.getByText(name, { exact: true }).first().waitFor({ state: 'visible', timeout: 15_000 });
      }
      await page.close();
    });

    it('keeps a key without the manage capability on the login form, saying why', async () => {
      const page = await context.newPage();
      await page.goto(`${base}/admin/login`);
      await page.fill('#token', tenant.tokens.read);
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url() === `${base}/admin/login` && r.request().method() === 'POST'),
        page.click('button[type=submit]'),
      ]);
      assert.equal(response.status(), 403);
      assert.match(await page.locator('[role=alert]').innerText(), /manage/);
      assert.deepEqual(await context.cookies(base), []);
      await page.goto(`${base}/admin/queues`);
      assert.equal(new URL(page.url()).pathname, '/admin/login');
      await page.close();
    });
  });

  describe('GET /admin/queues without credentials', () => {
    it('redirects a browser to /admin/login', async () => {
      const res = await raw('GET', `${base}/admin/queues`, BROWSER_ACCEPT);
      assert.equal(res.status, 302);
      assert.equal(res.headers.get('location'), '/admin/login');
    });

    it('answers 401 unauthorized to a client that does not ask for HTML', async () => {
      assertError(await queueList(base, {}), 401, 'unauthorized');
    });
  });

  describe('Bearer tokens', () => {
    it("lists every shard's live and batch queue to a manage API key", async () => {
      const res = await queueList(base, { authorization: `Bearer ${tenant.tokens.manage}` });
      assert.equal(res.status, 200);
      const names = (res.body.queues as { displayName?: string; name: string }[]).map((q) => q.displayName ?? q.name);
      assert.deepEqual([...names].sort(), [...EXPECTED_QUEUES].sort());
    });

    it('serves the board page to a manage login JWT', async () => {
      const token = testEnv.jwks.sign({ org: tenant.organizationId, role: 'owner' });
      const res = await raw('GET', `${base}/admin/queues`, { ...BROWSER_ACCEPT, authorization: `Bearer ${token}` });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    });

    it('returns 403 forbidden to a token without the manage capability', async () => {
      for (const token of [
        tenant.tokens.read,
        tenant.tokens.send,
        testEnv.jwks.sign({ org: tenant.organizationId, role: 'member' }),
      ]) {
        const details = assertError(await queueList(base, { authorization: `Bearer ${token}` }), 403, 'forbidden');
        assert.equal(details['required'], 'manage');
      }
    });

    it('returns 401 unauthorized to an invalid or revoked token', async () => {
      const other = await newTenant();
      await testEnv.admin.revokeApiKey(other.keyIds.manage);
      for (const token of [
        'wag_000000000000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
        other.tokens.manage,
        'nonsense',
      ]) {
        assertError(await queueList(base, { authorization: `Bearer ${token}` }), 401, 'unauthorized');
      }
    });
  });

  describe('POST /admin/login', () => {
    it('sets an HttpOnly, SameSite=Strict session cookie scoped to /admin and redirects to the board', async () => {
      const res = await login(base, { token: tenant.tokens.manage });
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('location'), '/admin/queues');
      const setCookie = res.headers.get('set-cookie') ?? '';
      assert.match(setCookie, /^wag_admin=[^;]+;/);
      assert.match(setCookie, /; HttpOnly/i);
      assert.match(setCookie, /; SameSite=Strict/i);
      assert.match(setCookie, /; Path=\/admin(;|$)/);
      assert.doesNotMatch(
        setCookie,
        /; Secure/i,
        'a cookie over plain http must not be Secure, or the browser drops it',
      );
      const maxAge = Number(/Max-Age=(\d+)/i.exec(setCookie)?.[1]);
      assert.ok(maxAge > 3600 && maxAge <= 12 * 3600, `Max-Age ${maxAge}`);
      assert.ok(!setCookie.includes(tenant.tokens.manage.slice(4)), 'the cookie must not carry the key');

      const board = await queueList(base, { cookie: sessionCookie(res) });
      assert.equal(board.status, 200);
      assert.equal(board.body.queues.length, EXPECTED_QUEUES.length);
    });

    it('marks the cookie Secure when the request came over https (X-Forwarded-Proto)', async () => {
      const res = await login(base, { token: tenant.tokens.manage }, { 'x-forwarded-proto': 'https' });
      assert.equal(res.status, 303);
      assert.match(res.headers.get('set-cookie') ?? '', /; Secure/i);
    });

    it('accepts a manage login JWT, and the session ends no later than the JWT', async () => {
      const token = testEnv.jwks.sign({ org: tenant.organizationId, role: 'admin' }, { expiresIn: '5m' });
      const res = await login(base, { token });
      assert.equal(res.status, 303);
      const maxAge = Number(/Max-Age=(\d+)/i.exec(res.headers.get('set-cookie') ?? '')?.[1]);
      assert.ok(maxAge > 0 && maxAge <= 300, `Max-Age ${maxAge}`);
      assert.equal((await queueList(base, { cookie: sessionCookie(res) })).status, 200);
    });

    it('answers the form with 403 and no cookie for a key without manage', async () => {
      const res = await login(base, { token: tenant.tokens.read });
      assert.equal(res.status, 403);
      assert.equal(res.headers.get('set-cookie'), null);
      assert.match(res.text, /manage/);
    });

    it('answers the form with 401 and no cookie for an invalid token, an empty form and operator credentials that are not configured', async () => {
      for (const fields of <Record<string, string>[]>[
        { token: 'wag_000000000000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
        {},
        { user: 'ops', password: 'some-password-123' },
      ]) {
        const res = await login(base, fields);
        assert.equal(res.status, 401, JSON.stringify(fields));
        assert.equal(res.headers.get('set-cookie'), null);
        assert.match(res.headers.get('content-type') ?? '', /text\/html/);
      }
    });
  });

  describe('the session cookie', () => {
    it('is refused when tampered with', async () => {
      const cookie = sessionCookie(await login(base, { token: tenant.tokens.manage }));
      const [name, value] = cookie.split('=') as [string, string];
      const [payload, signature] = value.split('.') as [string, string];
      const forgedPayload = Buffer.from(
        JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), kind: 'operator' }),
      ).toString('base64url');
      for (const forged of [
        `${name}=${forgedPayload}.${signature}`,
        `${name}=${payload}.${signature.slice(0, -2)}xx`,
        `${name}=garbage`,
      ]) {
        const page = await raw('GET', `${base}/admin/queues`, { ...BROWSER_ACCEPT, cookie: forged });
        assert.equal(page.status, 302, forged);
        assertError(await queueList(base, { cookie: forged }), 401, 'unauthorized');
      }
    });

    it('stops working once its API key is revoked', async () => {
      const { key, token } = await testEnv.admin.createApiKey(tenant.organizationId, `board-${uniq()}`, ['manage']);
      const cookie = sessionCookie(await login(base, { token }));
      assert.equal((await queueList(base, { cookie })).status, 200);
      await testEnv.admin.revokeApiKey(key.id);
      assertError(await queueList(base, { cookie }), 401, 'unauthorized');
    });

    it("is cleared by POST /admin/logout from this server's own page", async () => {
      const res = await raw('POST', `${base}/admin/logout`, { 'sec-fetch-site': 'same-origin' });
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('location'), '/admin/login');
      assert.match(res.headers.get('set-cookie') ?? '', /^wag_admin=;.*Expires=Thu, 01 Jan 1970/i);
    });

    it('is not cleared by a link (GET /admin/logout shows a sign-out form) nor by a post from another site', async () => {
      const page = await raw('GET', `${base}/admin/logout`, BROWSER_ACCEPT);
      assert.equal(page.status, 200);
      assert.equal(page.headers.get('set-cookie'), null);
      assert.match(page.text, /<form[^>]+method="post" action="\/admin\/logout"/);
      for (const crossSite of [{ 'sec-fetch-site': 'cross-site' }, { origin: 'https://evil.example' }] as Record<
        string,
        string
      >[]) {
        const res = await raw('POST', `${base}/admin/logout`, crossSite);
        assert.equal(res.status, 403, JSON.stringify(crossSite));
        assert.equal(res.headers.get('set-cookie'), null);
      }
    });
  });

  describe('operator credentials and the organization allow-list (ADMIN_USER, ADMIN_PASSWORD, ADMIN_ORGANIZATIONS)', () => {
    const user = 'ops';
    const password = `pw-${uniq()}-${uniq()}`;
    const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
    let api: RunningApi;
    let outsider: Tenant;

    before(async () => {
      outsider = await newTenant();
      api = await testEnv.startApi(
        { ADMIN_USER: user, ADMIN_PASSWORD: password, ADMIN_ORGANIZATIONS: tenant.organizationId },
        `api-admin-${uniq()}`,
      );
    });

    after(async () => {
      await api?.process.stop();
    });

    it('accepts the operator credentials as HTTP Basic', async () => {
      assert.equal((await queueList(api.baseUrl, basic(user, password))).status, 200);
    });

    it('returns 401 for wrong operator credentials', async () => {
      for (const headers of [basic(user, 'wrong-password-1'), basic('someone', password), basic('', '')]) {
        assertError(await queueList(api.baseUrl, headers), 401, 'unauthorized');
      }
    });

    it('offers user and password on the login form and signs the operator in with them', async () => {
      const page = await raw('GET', `${api.baseUrl}/admin/login`);
      assert.match(page.text, /name="password"/);
      const res = await login(api.baseUrl, { user, password });
      assert.equal(res.status, 303);
      assert.equal((await queueList(api.baseUrl, { cookie: sessionCookie(res) })).status, 200);
      assert.equal((await login(api.baseUrl, { user, password: 'not-the-password' })).status, 401);
    });

    it('admits manage callers of a listed organization and refuses others with 403, also after they sign in for the console', async () => {
      assert.equal((await queueList(api.baseUrl, { authorization: `Bearer ${tenant.tokens.manage}` })).status, 200);
      assertError(
        await queueList(api.baseUrl, { authorization: `Bearer ${outsider.tokens.manage}` }),
        403,
        'forbidden',
      );
      const signedIn = await login(api.baseUrl, { token: outsider.tokens.manage });
      assert.equal(signedIn.status, 303);
      assert.equal(signedIn.headers.get('location'), '/admin', 'the console serves them their own organization');
      assertError(await queueList(api.baseUrl, { cookie: sessionCookie(signedIn) }), 403, 'forbidden');
    });

    it('is off where it is not configured: Basic is refused and the form has no password field', async () => {
      assertError(await queueList(base, basic(user, password)), 401, 'unauthorized');
      assert.doesNotMatch((await raw('GET', `${base}/admin/login`)).text, /name="password"/);
    });

    it('does not take a cookie issued by another instance with a different ADMIN_SESSION_SECRET', async () => {
      const cookie = sessionCookie(await login(base, { token: tenant.tokens.manage }));
      assertError(await queueList(api.baseUrl, { cookie }), 401, 'unauthorized');
    });
  });
});
