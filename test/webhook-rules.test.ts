import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { refusedRange, resolveAllowed, urlProblem } from '../shared/webhooks/address-policy.js';
import { MAX_RETRY_DELAY_MS, retryDelayMs } from '../shared/webhooks/delivery-queue.js';
import { newWebhookSecret } from '../api/webhooks/webhook-service.js';
import { contactChanges } from '../worker/ingest/contact-events.js';
import { planIngest, type StoredContact } from '../worker/ingest/ingest-plan.js';
import { signatureHeader } from '../worker/webhooks/webhook-signer.js';

describe('webhook rules (pure)', () => {
  describe('address policy', () => {
    it('allows public unicast addresses only', () => {
      const refused: [string, string][] = [
        ['127.0.0.1', 'loopback'],
        ['127.255.0.9', 'loopback'],
        ['10.0.0.1', 'private'],
        ['172.16.5.4', 'private'],
        ['192.168.0.1', 'private'],
        ['169.254.169.254', 'linkLocal'],
        ['100.64.0.1', 'carrierGradeNat'],
        ['0.0.0.0', 'unspecified'],
        ['224.0.0.251', 'multicast'],
        ['255.255.255.255', 'broadcast'],
        ['::1', 'loopback'],
        ['::', 'unspecified'],
        ['fe80::1', 'linkLocal'],
        ['fd00:ec2::254', 'uniqueLocal'],
        ['ff02::1', 'multicast'],
        ['::ffff:127.0.0.1', 'ipv4Mapped'],
        ['::ffff:8.8.8.8', 'ipv4Mapped'],
        ['64:ff9b::a00:1', 'rfc6052'],
        ['2002:a00:1::', '6to4'],
      ];
      for (const [address, range] of refused) assert.equal(refusedRange(address), range, address);
      for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '2a00:1450:4001::200e'])
        assert.equal(refusedRange(address), undefined, address);
    });

    it('resolves names and refuses one with any refused address, unless private addresses are allowed', async () => {
      await assert.rejects(resolveAllowed('localhost', { allowHttp: false, allowPrivate: false }), /loopback/);
      await assert.rejects(resolveAllowed('169.254.169.254', { allowHttp: false, allowPrivate: false }), /linkLocal/);
      assert.ok((await resolveAllowed('localhost', { allowHttp: false, allowPrivate: true })).length > 0);
      assert.deepEqual(await resolveAllowed('8.8.8.8', { allowHttp: false, allowPrivate: false }), [
        { address: '8.8.8.8', family: 4 },
      ]);
    });

    it('wants https (http only when allowed), no credentials, no fragment', () => {
      const strict = { allowHttp: false, allowPrivate: false };
      assert.equal(urlProblem('https://example.com/h?x=1', strict), undefined);
      assert.match(urlProblem('http://example.com/h', strict)!, /https/);
      assert.equal(urlProblem('http://example.com/h', { ...strict, allowHttp: true }), undefined);
      assert.match(urlProblem('ftp://example.com/h', { ...strict, allowHttp: true })!, /http or https/);
      assert.match(urlProblem('https://u:p@example.com/h', strict)!, /credentials/);
      assert.match(urlProblem('https://example.com/h#x', strict)!, /fragment/);
      assert.match(urlProblem('example.com/h', strict)!, /absolute/);
    });
  });

  it('backs off 3× per failure from the base, capped at 6 h: 12 attempts span about a day', () => {
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => retryDelayMs(n, 5_000)),
      [5_000, 15_000, 45_000, 135_000],
    );
    assert.equal(retryDelayMs(30, 5_000), MAX_RETRY_DELAY_MS);
    const total = Array.from({ length: 11 }, (_, i) => retryDelayMs(i + 1, 5_000)).reduce((a, b) => a + b, 0);
    assert.ok(total > 20 * 3600_000 && total < 26 * 3600_000, `${total / 3600_000} h`);
  });

  it('signs as Standard Webhooks: one v1 signature per secret, each verifiable alone', () => {
    const [current, previous] = [newWebhookSecret(), newWebhookSecret()];
    assert.match(current, /^whsec_[A-Za-z0-9+/]{43}=$/);
    const body = JSON.stringify({ id: 'evt_1', type: 'session.qr', data: { qr: 'x' } });
    const timestamp = new Date();
    const header = signatureHeader([current, previous], 'evt_1', timestamp, body);
    assert.equal(header.split(' ').length, 2);
    const headers = {
      'webhook-id': 'evt_1',
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': header,
    };
    for (const secret of [current, previous])
      assert.deepEqual(new Webhook(secret).verify(body, headers), JSON.parse(body));
    assert.throws(() => new Webhook(newWebhookSecret()).verify(body, headers));
    assert.throws(() => new Webhook(current).verify(body, { ...headers, 'webhook-id': 'evt_2' }), 'the id is signed');
  });

  describe('contact changes reported by ingestion', () => {
    const stored = (over: Partial<StoredContact>): StoredContact => ({
      id: 1,
      lid: null,
      phoneJid: null,
      name: null,
      nameSource: null,
      businessName: null,
      dm: false,
      firstSeenAt: 1,
      updatedAt: 1,
      ...over,
    });

    it('reports new people, changed names and learned mappings; nothing for an unchanged or merely touched row', () => {
      const rows = [
        stored({ id: 1, lid: '1@lid', phoneJid: null, name: 'Ann', nameSource: 'push' }),
        stored({ id: 2, lid: '2@lid', phoneJid: '4900000002@s.whatsapp.net', name: 'Ben', nameSource: 'saved' }),
        stored({ id: 3, lid: '3@lid', name: 'Cy', nameSource: 'push' }),
      ];
      const plan = planIngest(rows, [
        {
          at: 10,
          ops: [
            { kind: 'mapping', lid: '1@lid', pn: '4900000001@s.whatsapp.net' },
            { kind: 'person', person: { lid: '2@lid' }, pushName: 'Benny' },
            { kind: 'person', person: { lid: '3@lid' }, pushName: 'Cyrus', dm: true },
            { kind: 'person', person: { lid: '4@lid', pn: '4900000004@s.whatsapp.net' }, pushName: 'Dee' },
          ],
        },
      ]);
      assert.deepEqual(
        contactChanges(plan).sort((a, b) => a.lid!.localeCompare(b.lid!)),
        [
          { lid: '1@lid', phoneNumber: '4900000001', name: 'Ann', changes: ['mapping'] },
          { lid: '3@lid', phoneNumber: null, name: 'Cyrus', changes: ['name'] },
          { lid: '4@lid', phoneNumber: '4900000004', name: 'Dee', changes: ['new'] },
        ],
        'Ben keeps his saved name over a push name: no change',
      );
    });

    it('reports a phone-only row folded into its LID row once, as the mapping of the row that stays', () => {
      const plan = planIngest(
        [
          stored({ id: 1, lid: '1@lid', name: 'Ann' }),
          stored({ id: 2, phoneJid: '4900000001@s.whatsapp.net', name: 'Ann (phone)' }),
        ],
        [{ at: 10, ops: [{ kind: 'mapping', lid: '1@lid', pn: '4900000001@s.whatsapp.net' }] }],
      );
      assert.deepEqual(contactChanges(plan), [
        { lid: '1@lid', phoneNumber: '4900000001', name: 'Ann', changes: ['mapping'] },
      ]);
    });
  });
});
