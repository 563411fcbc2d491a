import assert from 'node:assert/strict';
import { FakeGateway, fakeUser, type FakeTenant } from './support/fake-gateway.js';
import { waitFor } from './support/processes.js';
import type { FakeUser } from './fake-whatsapp/world.js';

describe('baileys driver against the fake WhatsApp server: bulk number checks', function () {
  this.timeout(180_000);
  const gw = new FakeGateway();
  const registered: FakeUser[] = Array.from({ length: 120 }, () => fakeUser());
  /** People whose LID the session learnt from its history sync. */
  const known = registered.slice(0, 10);
  const unregistered: string[] = Array.from({ length: 180 }, () => fakeUser().phone);
  let t: FakeTenant;
  let sessionId: string;

  before(async () => {
    await gw.start();
    for (const user of registered) gw.fake.world.addUser(user);
    t = await gw.tenant();
    const worker = gw.startWorker(undefined, {
      BATCH_RATE_PER_MINUTE: '0',
      BATCH_SESSION_POLL_MS: '200',
      BATCH_BACKOFF_MS: '50',
      BATCH_CHUNK_SIZE: '50',
    });
    await gw.waitForShards(worker.workerId);
    const phone = gw.phone(fakeUser(), { history: { chats: [], groups: [], mappings: known, pushNames: [] } });
    ({ sessionId } = await gw.pairedSession(t, phone));
  });

  after(async () => {
    await gw.stop();
  });

  it('checks a few hundred numbers in chunked usync queries, each number asked once, with no LID look-ups', async () => {
    const base = `/api/v1/sessions/${sessionId}/contacts/check-batch`;
    const phones = [
      ...registered.map((u) => `+${u.phone}`),
      ...unregistered,
      `00${registered[0]!.phone}`,
      `+${unregistered[0]}`,
    ];
    const queriesBefore = gw.fake.usyncQueries.length;
    // The first chunk meets WhatsApp's rate limit: it is retried after a pause, not failed or counted twice.
    gw.fake.faults.rateLimitedTimes.set('usync', 1);
    const created = await gw.call('POST', base, t.tokens.read, { phones });
    assert.equal(created.status, 202, created.text);
    assert.equal(created.body.total, 300, 'duplicates in the input are checked once');
    const id: string = created.body.id;
    const done = await waitFor(
      async () => {
        const res = await gw.call('GET', `${base}/${id}`, t.tokens.read);
        return ['completed', 'failed'].includes(res.body.status) ? res.body : undefined;
      },
      'the batch to finish',
      120_000,
    );
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.deepEqual(done.counts, { onWhatsApp: 120, notOnWhatsApp: 180, invalid: 0 });

    const queries = gw.fake.usyncQueries.slice(queriesBefore);
    const refused = queries.filter((q) => q.refused);
    const answered = queries.filter((q) => !q.refused);
    assert.equal(refused.length, 1);
    assert.ok(
      answered.every((q) => q.protocols.join() === 'contact'),
      `only contact queries: ${JSON.stringify(answered.map((q) => q.protocols))}`,
    );
    assert.ok(
      answered.every((q) => q.users.length <= 50),
      'chunks of at most BATCH_CHUNK_SIZE numbers',
    );
    assert.equal(answered.length, 6);
    const asked = answered.flatMap((q) => q.users);
    assert.equal(new Set(asked).size, asked.length, 'no number answered twice');
    assert.deepEqual(new Set(asked), new Set([...registered.map((u) => u.phone), ...unregistered]));

    const results = (await gw.call('GET', `${base}/${id}/results?limit=1000`, t.tokens.read)).body.data as Record<
      string,
      any
    >[];
    assert.equal(results.length, 300);
    const byNumber = new Map(results.map((r) => [r['normalized'], r]));
    for (const user of registered) {
      const row = byNumber.get(user.phone)!;
      assert.equal(row['status'], 'on_whatsapp');
      assert.equal(row['jid'], `${user.phone}@s.whatsapp.net`);
      if (known.includes(user)) assert.equal(row['lid'], user.lid, 'a LID the session already knew is given');
      else assert.equal(row['lid'] ?? null, null, 'no LID looked up for the others');
    }
    for (const digits of unregistered) assert.equal(byNumber.get(digits)!['status'], 'not_on_whatsapp');
  });
});
