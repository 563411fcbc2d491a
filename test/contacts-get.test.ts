import assert from 'node:assert/strict';
import { assertError, assertUnauthorized } from './support/assert-error.js';
import { newSession, newTenant, seedContacts } from './support/fixtures.js';
import { get } from './support/http.js';
import { testEnv } from './support/hooks.js';

describe('GET /api/v1/sessions/{session}/contacts/{lid}', () => {
  it('returns identity, dm flag and every group with nickname and role', async () => {
    const t = await newTenant();
    await seedContacts(t.sessionId, [
      {
        lid: '205227043110953@lid',
        phone: '6281234567890',
        name: 'Alice',
        businessName: 'Acme Corp',
        dm: true,
        firstSeenAt: 1719662400000,
        updatedAt: 1719662500000,
        groups: [
          { jid: '120363000000000001@g.us', subject: 'Climbers', role: 'admin', tag: 'Ali', lastSeen: 1719662600000 },
          { jid: '120363000000000002@g.us', subject: 'Family', role: 'member', tag: null, lastSeen: 1719662400000 },
        ],
      },
    ]);
    const res = await get(`/api/v1/sessions/${t.sessionId}/contacts/205227043110953@lid`, t.tokens.read);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      dm: true,
      groups: [
        { jid: '120363000000000001@g.us', name: 'Climbers', role: 'admin', tag: 'Ali', lastSeen: 1719662600000 },
        { jid: '120363000000000002@g.us', name: 'Family', role: 'member', tag: null, lastSeen: 1719662400000 },
      ],
      identity: {
        id: res.body.identity.id,
        lid: '205227043110953@lid',
        name: 'Alice',
        businessName: 'Acme Corp',
        phoneJid: '6281234567890@s.whatsapp.net',
        phoneNumber: '6281234567890',
        firstSeenAt: 1719662400000,
        updatedAt: 1719662500000,
      },
    });
    assert.equal(typeof res.body.identity.id, 'number');
  });

  it('returns 404 not_found when no contact with that lid is stored for the session', async () => {
    const t = await newTenant();
    const res = await get(`/api/v1/sessions/${t.sessionId}/contacts/999999999@lid`, t.tokens.read);
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'not_found');
  });

  it("returns 404 for another organization's session, exactly like a missing session", async () => {
    const owner = await newTenant();
    const stranger = await newTenant();
    await seedContacts(owner.sessionId, [{ lid: '111@lid', name: 'Bob' }]);
    const foreign = await get(`/api/v1/sessions/${owner.sessionId}/contacts/111@lid`, stranger.tokens.read);
    const missing = await get(`/api/v1/sessions/sess_doesnotexist/contacts/111@lid`, stranger.tokens.read);
    assert.equal(foreign.status, 404);
    assert.deepEqual(foreign.body, missing.body);
    assert.deepEqual(foreign.body, { error: { code: 'not_found', message: 'session not found', details: {} } });
  });

  it('returns exactly the keys of the contract, at every level', async () => {
    const t = await newTenant();
    await seedContacts(t.sessionId, [
      {
        lid: '300000000000001@lid',
        name: 'Keys',
        phone: '6281200000001',
        dm: true,
        groups: [{ jid: '120363000000000003@g.us', subject: 'G' }],
      },
    ]);
    const res = await get(`/api/v1/sessions/${t.sessionId}/contacts/300000000000001@lid`, t.tokens.read);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(Object.keys(res.body).sort(), ['dm', 'groups', 'identity']);
    assert.deepEqual(Object.keys(res.body.identity).sort(), [
      'businessName',
      'firstSeenAt',
      'id',
      'lid',
      'name',
      'phoneJid',
      'phoneNumber',
      'updatedAt',
    ]);
    assert.deepEqual(Object.keys(res.body.groups[0]).sort(), ['jid', 'lastSeen', 'name', 'role', 'tag']);
  });

  it('returns nulls, dm false and no groups for a contact known only by its lid', async () => {
    const t = await newTenant();
    await seedContacts(t.sessionId, [
      { lid: '300000000000002@lid', firstSeenAt: 1719662400000, updatedAt: 1719662400001 },
    ]);
    const res = await get(`/api/v1/sessions/${t.sessionId}/contacts/300000000000002@lid`, t.tokens.read);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      dm: false,
      groups: [],
      identity: {
        id: res.body.identity.id,
        lid: '300000000000002@lid',
        name: null,
        businessName: null,
        phoneJid: null,
        phoneNumber: null,
        firstSeenAt: 1719662400000,
        updatedAt: 1719662400001,
      },
    });
  });

  it('lists groups most recently seen first, with a null name for a group whose subject is unknown', async () => {
    const t = await newTenant();
    await seedContacts(t.sessionId, [
      {
        lid: '300000000000003@lid',
        name: 'Groupie',
        groups: [
          { jid: '120363000000000010@g.us', subject: 'Old', role: 'member', lastSeen: 1000 },
          { jid: '120363000000000011@g.us', role: 'superadmin', tag: '👑', lastSeen: 3000 },
          { jid: '120363000000000012@g.us', subject: 'Middle', role: 'admin', lastSeen: 2000 },
        ],
      },
    ]);
    const res = await get(`/api/v1/sessions/${t.sessionId}/contacts/300000000000003@lid`, t.tokens.read);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.groups, [
      { jid: '120363000000000011@g.us', name: null, role: 'superadmin', tag: '👑', lastSeen: 3000 },
      { jid: '120363000000000012@g.us', name: 'Middle', role: 'admin', tag: null, lastSeen: 2000 },
      { jid: '120363000000000010@g.us', name: 'Old', role: 'member', tag: null, lastSeen: 1000 },
    ]);
  });

  it('returns unicode names exactly as stored', async () => {
    const t = await newTenant();
    await seedContacts(t.sessionId, [
      { lid: '300000000000004@lid', name: 'Zoë 李小龙 🦊', businessName: 'Café ☕', dm: true },
    ]);
    const res = await get(`/api/v1/sessions/${t.sessionId}/contacts/300000000000004@lid`, t.tokens.read);
    assert.equal(res.body.identity.name, 'Zoë 李小龙 🦊');
    assert.equal(res.body.identity.businessName, 'Café ☕');
  });

  it('accepts the lid percent-encoded', async () => {
    const t = await newTenant();
    await seedContacts(t.sessionId, [{ lid: '300000000000005@lid', name: 'Encoded', dm: true }]);
    const res = await get(
      `/api/v1/sessions/${t.sessionId}/contacts/${encodeURIComponent('300000000000005@lid')}`,
      t.tokens.read,
    );
    assert.equal(res.status, 200);
    assert.equal(res.body.identity.name, 'Encoded');
  });

  it('does not count group memberships stored under another session', async () => {
    const t = await newTenant();
    const other = await newSession(t.organizationId);
    await seedContacts(t.sessionId, [{ lid: '300000000000006@lid', name: 'Here', dm: true }]);
    await seedContacts(other, [
      { lid: '300000000000006@lid', name: 'There', groups: [{ jid: '120363000000000020@g.us', subject: 'Elsewhere' }] },
    ]);
    const res = await get(`/api/v1/sessions/${t.sessionId}/contacts/300000000000006@lid`, t.tokens.read);
    assert.equal(res.status, 200);
    assert.equal(res.body.identity.name, 'Here');
    assert.deepEqual(res.body.groups, []);
  });

  it('returns 404 for a contact stored only under another session of the same organization', async () => {
    const t = await newTenant();
    const other = await newSession(t.organizationId);
    await seedContacts(other, [{ lid: '300000000000007@lid', name: 'Elsewhere', dm: true }]);
    const res = await get(`/api/v1/sessions/${t.sessionId}/contacts/300000000000007@lid`, t.tokens.read);
    assertError(res, 404, 'not_found');
  });

  it('answers a missing contact with the not_found envelope', async () => {
    const t = await newTenant();
    const res = await get(`/api/v1/sessions/${t.sessionId}/contacts/999999999@lid`, t.tokens.read);
    assertError(res, 404, 'not_found');
    assert.equal(res.body.error.message, 'contact not found');
  });

  it('returns 404 not_found for a lid no contact can have (non-ASCII), not an error', async () => {
    const t = await newTenant();
    for (const lid of ['李@lid', '🦊', 'zoë@lid']) {
      const res = await get(`/api/v1/sessions/${t.sessionId}/contacts/${encodeURIComponent(lid)}`, t.tokens.read);
      assertError(res, 404, 'not_found');
    }
  });

  it('serves a login JWT of the owning organization, and 404s one of another organization', async () => {
    const t = await newTenant();
    const stranger = await newTenant();
    await seedContacts(t.sessionId, [{ lid: '300000000000008@lid', name: 'Jwt', dm: true }]);
    const path = `/api/v1/sessions/${t.sessionId}/contacts/300000000000008@lid`;
    const own = await get(path, testEnv.jwks.sign({ org: t.organizationId, role: 'member' }));
    assert.equal(own.status, 200);
    assert.equal(own.body.identity.name, 'Jwt');
    const foreign = await get(path, testEnv.jwks.sign({ org: stranger.organizationId, role: 'owner' }));
    assertError(foreign, 404, 'not_found');
    assert.deepEqual(foreign.body, { error: { code: 'not_found', message: 'session not found', details: {} } });
  });

  it('requires authentication', async () => {
    const t = await newTenant();
    await seedContacts(t.sessionId, [{ lid: '300000000000009@lid', dm: true }]);
    assertUnauthorized(await get(`/api/v1/sessions/${t.sessionId}/contacts/300000000000009@lid`));
  });

  it('requires the read capability', async () => {
    const t = await newTenant();
    await seedContacts(t.sessionId, [{ lid: '300000000000010@lid', dm: true }]);
    const res = await get(`/api/v1/sessions/${t.sessionId}/contacts/300000000000010@lid`, t.tokens.manage);
    assertError(res, 403, 'forbidden');
  });
});
