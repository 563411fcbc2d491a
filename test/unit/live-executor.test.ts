import assert from 'node:assert/strict';
import { AppError } from '../../shared/errors.js';
import type { LiveJobEnvelope, LiveReply } from '../../shared/live/live-queues.js';
import type { LiveOpName, LiveInput } from '../../shared/live/operations.js';
import type { WhatsAppConnection } from '../../worker/driver/driver.js';
import { LiveExecutor } from '../../worker/live/live-executor.js';
import { RedisKeys } from '../../shared/redis-keys.js';
import { sessionOfflineError } from '../../shared/live/session-offline.js';
import { asRedis, silentLogger } from './fakes.js';

/** Records which driver calls were made; each answers what the test sets. */
class FakeConnection {
  calls: string[] = [];
  picture: { url: string; id: string | null } | undefined = { url: 'https://pps.example/x.jpg', id: '1' };
  failWith: Error | undefined;

  async updateBlock(jid: string, action: string): Promise<void> {
    this.calls.push(`${action} ${jid}`);
    if (this.failWith) throw this.failWith;
  }
  async fetchAbout(jid: string): Promise<{ about: string }> {
    this.calls.push(`about ${jid}`);
    if (this.failWith) throw this.failWith;
    return { about: 'hi' };
  }
  async profilePicture(
    jid: string,
    type: 'image' | 'preview',
  ): Promise<{ url: string; id: string | null } | undefined> {
    this.calls.push(`picture ${jid} ${type}`);
    return this.picture;
  }
}

const keys = new RedisKeys('wag', 16);

function setup(connected = true, handedOver = false) {
  const connection = new FakeConnection();
  const published: { channel: string; reply: LiveReply }[] = [];
  const publisher = asRedis({
    publish: async (channel: string, message: string) => {
      published.push({ channel, reply: JSON.parse(message) as LiveReply });
      return 1;
    },
  });
  const executor = new LiveExecutor(
    () => (connected ? (connection as unknown as WhatsAppConnection) : undefined),
    () => true,
    (sessionId) =>
      sessionOfflineError(
        asRedis({
          exists: async (...found: string[]) => (handedOver && found.includes(keys.handover(sessionId)) ? 1 : 0),
        }),
        keys,
        sessionId,
      ),
    publisher,
    silentLogger,
  );
  return { connection, published, executor };
}

function job<N extends LiveOpName>(op: N, input: LiveInput<N>, deadline: number): LiveJobEnvelope<N> {
  return { op, sessionId: 's1', input, deadline, replyTo: 'replies:api-1', sig: 'unchecked-here' };
}

const JID = '15550001111@s.whatsapp.net';

describe('unit: live executor', () => {
  it('does not run a job whose deadline has passed and answers timeout', async () => {
    const { connection, executor } = setup();
    const now = Date.now();
    const result = await executor.execute('j1', job('contacts.about', { jid: JID }, now - 1), now - 10_000);
    assert.deepEqual(result.ok ? 'ran' : result.error.code, 'timeout');
    assert.deepEqual(connection.calls, []);
  });

  it('runs a read operation even with little time left: no margin for reads', async () => {
    const { connection, executor } = setup();
    const now = Date.now();
    const result = await executor.execute('j1', job('contacts.about', { jid: JID }, now + 300), now - 9_700);
    assert.equal(result.ok, true);
    assert.deepEqual(connection.calls, [`about ${JID}`]);
  });

  it('does not start a mutating operation less than a second before its deadline', async () => {
    const { connection, executor } = setup();
    const now = Date.now();
    const result = await executor.execute('j1', job('contacts.block', { jid: JID }, now + 700), now - 9_300);
    assert.deepEqual(result, {
      ok: false,
      error: { code: 'timeout', message: 'the operation expired before the session could run it' },
    });
    assert.deepEqual(
      connection.calls,
      [],
      'a block started this late could land after the caller was told it timed out',
    );
  });

  it('runs a mutating operation with more than the one-second margin left', async () => {
    const { connection, executor } = setup();
    const now = Date.now();
    const result = await executor.execute('j1', job('contacts.block', { jid: JID }, now + 1_500), now - 8_500);
    assert.deepEqual(result, { ok: true, value: {} });
    assert.deepEqual(connection.calls, [`block ${JID}`]);
  });

  it('caps the margin at a quarter of a short window, so a short LIVE_TIMEOUT_MS still lets mutations run', async () => {
    const { connection, executor } = setup();
    const now = Date.now();
    // A 2 s window: the margin is 500 ms, not 1 s.
    const ran = await executor.execute('j1', job('contacts.unblock', { jid: JID }, now + 800), now - 1_200);
    assert.equal(ran.ok, true);
    const refused = await executor.execute('j2', job('contacts.unblock', { jid: JID }, now + 300), now - 1_700);
    assert.equal(refused.ok, false);
    assert.deepEqual(connection.calls, [`unblock ${JID}`]);
  });

  it('publishes the result to the channel the job names, under the job id', async () => {
    const { published, executor } = setup();
    const now = Date.now();
    await executor.execute('job-42', job('contacts.about', { jid: JID }, now + 5_000), now);
    assert.deepEqual(published, [
      { channel: 'replies:api-1', reply: { jobId: 'job-42', result: { ok: true, value: { about: 'hi' } } } },
    ]);
  });

  it('passes the picture type to the driver and answers its URL', async () => {
    const { connection, executor } = setup();
    const now = Date.now();
    const result = await executor.execute(
      'j1',
      job('contacts.picture', { jid: JID, type: 'preview' }, now + 5_000),
      now,
    );
    assert.deepEqual(connection.calls, [`picture ${JID} preview`]);
    assert.ok(result.ok);
    assert.equal((result.value as { url: string }).url, 'https://pps.example/x.jpg');
  });

  it('answers not_found when the contact has no picture', async () => {
    const { connection, executor } = setup();
    connection.picture = undefined;
    const now = Date.now();
    const result = await executor.execute('j1', job('contacts.picture', { jid: JID, type: 'image' }, now + 5_000), now);
    assert.equal(result.ok ? 'ok' : result.error.code, 'not_found');
  });

  it('answers not_implemented when the worker holds no connection for the session', async () => {
    const { executor } = setup(false);
    const now = Date.now();
    const result = await executor.execute('j1', job('contacts.about', { jid: JID }, now + 5_000), now);
    assert.equal(result.ok ? 'ok' : result.error.code, 'not_implemented');
  });

  it('answers unavailable (503) instead while the session is moving to this worker from another', async () => {
    const { executor } = setup(false, true);
    const now = Date.now();
    const result = await executor.execute('j1', job('contacts.about', { jid: JID }, now + 5_000), now);
    assert.equal(result.ok ? 'ok' : result.error.code, 'unavailable');
  });

  it('returns a typed driver error as it is and hides a crash behind internal', async () => {
    const { connection, executor } = setup();
    const now = Date.now();
    connection.failWith = new AppError('rate_limited', 'slow down', { retryAfterMs: 5 });
    const typed = await executor.execute('j1', job('contacts.about', { jid: JID }, now + 5_000), now);
    assert.deepEqual(typed, {
      ok: false,
      error: { code: 'rate_limited', message: 'slow down', details: { retryAfterMs: 5 } },
    });
    connection.failWith = new TypeError('secret internals');
    const crash = await executor.execute('j2', job('contacts.about', { jid: JID }, now + 5_000), now);
    assert.deepEqual(crash, { ok: false, error: { code: 'internal', message: 'the operation failed unexpectedly' } });
  });
});
