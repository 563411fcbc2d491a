import assert from 'node:assert/strict';
import { newTenant, seedContacts } from './support/fixtures.js';
import { get } from './support/http.js';

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
});
