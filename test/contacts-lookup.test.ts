import assert from 'node:assert/strict';
import { assertError } from './support/assert-error.js';
import { newSession, newTenant, seedContacts, type Tenant } from './support/fixtures.js';
import { testEnv } from './support/hooks.js';
import { call, get } from './support/http.js';

const lookup = (t: Tenant, phone: string, session = t.sessionId, token = t.tokens.read) =>
  get(`/api/v1/sessions/${session}/contacts/lookup?phone=${encodeURIComponent(phone)}`, token);
const resolve = (t: Tenant, body: unknown, session = t.sessionId, token = t.tokens.read) =>
  call('POST', `/api/v1/sessions/${session}/contacts/resolve`, { token, body });

describe('contact look-up by phone and LID (stored data)', function () {
  this.timeout(30_000);
  let t: Tenant;

  before(async () => {
    t = await newTenant();
    await seedContacts(t.sessionId, [
      {
        lid: '205227043110953@lid',
        phone: '6281234567890',
        name: 'Alice',
        dm: true,
        groups: [{ jid: '120363000000000001@g.us', subject: 'Climbers', role: 'admin', tag: 'Ali' }],
      },
      { lid: '205227043110954@lid', phone: null, name: 'Bob (phone unknown)' },
      { lid: null, phone: '4915112345678', name: 'Carol (LID unknown)' },
    ]);
  });

  describe('GET …/contacts/lookup?phone=', () => {
    it('answers exactly what get-one answers for the contact with that number', async () => {
      const byPhone = await lookup(t, '+6281234567890');
      assert.equal(byPhone.status, 200, byPhone.text);
      const byLid = await get(`/api/v1/sessions/${t.sessionId}/contacts/205227043110953@lid`, t.tokens.read);
      assert.deepEqual(byPhone.body, byLid.body);
      assert.equal(byPhone.body.groups[0].tag, 'Ali');
      assert.deepEqual((await lookup(t, '6281234567890')).body, byLid.body, 'the + is optional');
    });

    it('finds a person known only by phone so far (identity.lid null)', async () => {
      const res = await lookup(t, '+4915112345678');
      assert.equal(res.status, 200);
      assert.equal(res.body.identity.lid, null);
      assert.equal(res.body.identity.name, 'Carol (LID unknown)');
    });

    it('answers 404 not_found for a number nothing is stored for, and for a session of another organization', async () => {
      assertError(await lookup(t, '+6281200000000'), 404, 'not_found');
      const stranger = await newTenant();
      const foreign = await lookup(t, '+6281234567890', t.sessionId, stranger.tokens.read);
      const missing = await lookup(t, '+6281234567890', 'sess_doesnotexist', stranger.tokens.read);
      assertError(foreign, 404, 'not_found');
      assert.deepEqual(foreign.body, missing.body);
      assertError(await lookup(t, '+6281234567890', await newSession(t.organizationId)), 404, 'not_found');
    });

    it('refuses a phone that is not E.164 with validation_error, and a missing one', async () => {
      for (const phone of ['abc', '+0123456', '12', '+62 812 3456 7890', '6281234567890@s.whatsapp.net']) {
        assert.ok('phone' in assertError(await lookup(t, phone), 400, 'validation_error'), phone);
      }
      assert.ok(
        'phone' in
          assertError(
            await get(`/api/v1/sessions/${t.sessionId}/contacts/lookup`, t.tokens.read),
            400,
            'validation_error',
          ),
      );
    });

    it('does not take the place of get-one for a LID, nor of the live check route', async () => {
      assertError(await get(`/api/v1/sessions/${t.sessionId}/contacts/lookup@lid`, t.tokens.read), 404, 'not_found');
      const check = await get(`/api/v1/sessions/${t.sessionId}/contacts/check?phone=%2B6281234567890`, t.tokens.read);
      assert.equal(
        check.body?.error?.code,
        'not_implemented',
        'the live check still answers (the session is not connected)',
      );
    });

    it('is served by the unique (session, phone) index, not a scan', async () => {
      const [plan] = (await testEnv.db.query(
        `EXPLAIN SELECT c.id FROM contacts c WHERE c.session_id = ? AND c.phone_jid = ?`,
        [t.sessionId, '6281234567890@s.whatsapp.net'],
      )) as { key: string; type: string }[];
      assert.equal(plan!.key, 'uq_contacts_session_phone');
    });
  });

  describe('POST …/contacts/resolve', () => {
    it('maps mixed phone numbers and LIDs in input order, null for the unknown, repeats answered each time', async () => {
      const ids = [
        '+6281234567890',
        '205227043110954@lid',
        '999999999999@lid',
        '4915112345678',
        '205227043110953@lid',
        '+6281200000000',
        '+6281234567890',
      ];
      const res = await resolve(t, { ids });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, {
        data: [
          { input: '+6281234567890', lid: '205227043110953@lid', phoneNumber: '6281234567890', name: 'Alice' },
          { input: '205227043110954@lid', lid: '205227043110954@lid', phoneNumber: null, name: 'Bob (phone unknown)' },
          null,
          { input: '4915112345678', lid: null, phoneNumber: '4915112345678', name: 'Carol (LID unknown)' },
          { input: '205227043110953@lid', lid: '205227043110953@lid', phoneNumber: '6281234567890', name: 'Alice' },
          null,
          { input: '+6281234567890', lid: '205227043110953@lid', phoneNumber: '6281234567890', name: 'Alice' },
        ],
      });
    });

    it('takes up to 1,000 ids and refuses more', async () => {
      const many = Array.from({ length: 1000 }, (_, i) =>
        i % 2 ? `+49151${String(i).padStart(7, '0')}` : `${300000000 + i}@lid`,
      );
      many[500] = '205227043110953@lid';
      const res = await resolve(t, { ids: many });
      assert.equal(res.status, 200);
      assert.equal(res.body.data.length, 1000);
      assert.equal(res.body.data.filter((d: unknown) => d !== null).length, 1);
      assert.equal(res.body.data[500].name, 'Alice');
      assert.ok('ids' in assertError(await resolve(t, { ids: [...many, '+6281234567890'] }), 400, 'validation_error'));
    });

    it('refuses malformed bodies with validation_error naming the offending id', async () => {
      const cases: [unknown, string][] = [
        [{ ids: [] }, 'ids'],
        [{}, 'ids'],
        [{ ids: '+6281234567890' }, 'ids'],
        [{ ids: ['+6281234567890', 'alice'] }, 'ids.1'],
        [{ ids: ['6281234567890@s.whatsapp.net'] }, 'ids.0'],
        [{ ids: [42] }, 'ids.0'],
        [{ ids: ['+6281234567890'], extra: true }, 'body'],
      ];
      for (const [body, field] of cases) {
        const details = assertError(await resolve(t, body), 400, 'validation_error');
        assert.ok(field in details, `${JSON.stringify(body)}: details name ${field}, got ${JSON.stringify(details)}`);
      }
    });

    it("answers 404 for another organization's session, and reads only this session's contacts", async () => {
      const stranger = await newTenant();
      const foreign = await resolve(t, { ids: ['+6281234567890'] }, t.sessionId, stranger.tokens.read);
      assertError(foreign, 404, 'not_found');
      assert.deepEqual(
        foreign.body,
        (await resolve(t, { ids: ['+6281234567890'] }, 'sess_doesnotexist', stranger.tokens.read)).body,
      );
      await seedContacts(stranger.sessionId, [
        { lid: '205227043110953@lid', phone: '6281234567890', name: 'Their Alice' },
      ]);
      assert.equal((await resolve(t, { ids: ['205227043110953@lid'] })).body.data[0].name, 'Alice');
      assert.equal((await resolve(stranger, { ids: ['205227043110953@lid'] })).body.data[0].name, 'Their Alice');
    });

    it('needs the read capability', async () => {
      assertError(await resolve(t, { ids: ['+6281234567890'] }, t.sessionId, t.tokens.none), 403, 'forbidden');
      assertError(await lookup(t, '+6281234567890', t.sessionId, t.tokens.none), 403, 'forbidden');
    });
  });
});
