import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { LiveClient } from '../../api/live/live-client.js';
import { loadConfig } from '../../shared/config.js';
import { AppError } from '../../shared/errors.js';
import { JobSigningKey } from '../../shared/job-signing/job-signing-key.js';
import type { LiveJobEnvelope } from '../../shared/live/live-queues.js';
import { RedisKeys } from '../../shared/redis-keys.js';
import { asRedis, silentLogger, sleep } from './fakes.js';

const TIMEOUT_MS = 150;

/** Stands in for the reply subscriber: the test publishes by emitting `message`. */
class FakeSubscriber extends EventEmitter {
  channels: string[] = [];
  async subscribe(channel: string) {
    this.channels.push(channel);
    return 1;
  }
}

interface Added {
  name: string;
  data: LiveJobEnvelope;
  jobId: string;
}

const realAdd = Object.getOwnPropertyDescriptor(Queue.prototype, 'add')!;
const realRemove = Object.getOwnPropertyDescriptor(Queue.prototype, 'remove')!;
let added: Added[] = [];
let removed: string[] = [];
let addFails: Error | undefined;

function setup(present: boolean | 'redis down' | 'redis silent' = true, timeoutMs = TIMEOUT_MS) {
  const config = loadConfig({
    LIVE_TIMEOUT_MS: String(timeoutMs),
    SHARD_COUNT: '2',
    JOB_SIGNING_SECRET: 'x'.repeat(32),
    LOG_LEVEL: 'silent',
  });
  // Never connected: the queues' commands are replaced below and presence is answered here.
  const redis = new Redis({ lazyConnect: true, port: 1, retryStrategy: () => null, maxRetriesPerRequest: null });
  redis.on('error', () => undefined);
  Object.assign(redis, {
    status: 'ready',
    exists: async () => {
      if (present === 'redis down') throw new Error('Connection is closed.');
      // A client retrying through a failover: the command neither answers nor fails.
      if (present === 'redis silent') return new Promise<never>(() => undefined);
      return present ? 1 : 0;
    },
    // The shard's lease: a worker holds it (the owner-gone answers are tested with real workers).
    get: async () => {
      if (present === 'redis down') throw new Error('Connection is closed.');
      return '1:unit-worker';
    },
  });
  const subscriber = new FakeSubscriber();
  const client = new LiveClient(
    config,
    new RedisKeys('unit', config.shards.count),
    redis,
    asRedis(subscriber),
    new JobSigningKey(config.jobSigningSecret, {} as DataSource),
    silentLogger,
  );
  const pending = () => (client as unknown as { pending: Map<string, unknown> }).pending.size;
  const reply = (jobId: string, result: unknown) =>
    subscriber.emit('message', subscriber.channels[0], JSON.stringify({ jobId, result }));
  return { client, subscriber, redis, pending, reply };
}

/** Waits until the client has enqueued `count` jobs (it signs first, asynchronously). */
async function enqueued(count: number): Promise<Added> {
  for (let i = 0; i < 100 && added.length < count; i++) await sleep(2);
  assert.equal(added.length, count);
  return added[count - 1]!;
}

describe('unit: live client', () => {
  let clients: ReturnType<typeof setup>[] = [];
  const make = (present: boolean | 'redis down' | 'redis silent' = true, timeoutMs = TIMEOUT_MS) => {
    const c = setup(present, timeoutMs);
    clients.push(c);
    return c;
  };

  beforeEach(() => {
    added = [];
    removed = [];
    addFails = undefined;
    Queue.prototype.add = async function (this: Queue, name: string, data: LiveJobEnvelope, opts?: { jobId?: string }) {
      if (addFails) throw addFails;
      added.push({ name, data, jobId: opts!.jobId! });
      return {} as never;
    } as typeof Queue.prototype.add;
    Queue.prototype.remove = async function (jobId: string) {
      removed.push(jobId);
      return 1;
    };
  });
  afterEach(async () => {
    Object.defineProperty(Queue.prototype, 'add', realAdd);
    Object.defineProperty(Queue.prototype, 'remove', realRemove);
    // Inherited from BullMQ's getters: the stand-ins are own properties that shadow them.
    Reflect.deleteProperty(Queue.prototype, 'getJobState');
    Reflect.deleteProperty(Queue.prototype, 'getJob');
    for (const c of clients) {
      await c.client.stop();
      c.redis.disconnect();
    }
    clients = [];
  });

  it('answers the call with the reply to its job and forgets the job', async () => {
    const { client, subscriber, pending, reply } = make();
    await client.start();
    const call = client.run('contacts.about', 'session-1', { jid: 'x@s.whatsapp.net' });
    const job = await enqueued(1);
    assert.equal(
      job.data.replyTo,
      subscriber.channels[0],
      'the worker must answer on the channel this instance listens to',
    );
    assert.ok(
      job.data.deadline > Date.now() && job.data.deadline <= Date.now() + TIMEOUT_MS,
      'the job carries its deadline',
    );
    assert.equal(pending(), 1);
    reply(job.jobId, { ok: true, value: { about: 'hello' } });
    assert.deepEqual(await call, { about: 'hello' });
    assert.equal(pending(), 0);
  });

  it('ignores replies to jobs it is not waiting for, and malformed ones', async () => {
    const { client, pending, reply, subscriber } = make();
    await client.start();
    const call = client.run('contacts.about', 'session-1', { jid: 'x@s.whatsapp.net' });
    const job = await enqueued(1);
    reply('someone-else', { ok: true, value: { about: 'wrong' } });
    subscriber.emit('message', subscriber.channels[0], '{not json');
    subscriber.emit(
      'message',
      'another-channel',
      JSON.stringify({ jobId: job.jobId, result: { ok: true, value: { about: 'wrong channel' } } }),
    );
    assert.equal(pending(), 1);
    reply(job.jobId, { ok: true, value: { about: 'right' } });
    assert.deepEqual(await call, { about: 'right' });
  });

  it('answers timeout when no reply comes in LIVE_TIMEOUT_MS, and removes the job so no worker runs it late', async () => {
    const { client, pending, reply } = make();
    await client.start();
    const started = Date.now();
    const call = client.run('contacts.block', 'session-1', { jid: 'x@s.whatsapp.net' });
    const job = await enqueued(1);
    await assert.rejects(call, (err: AppError) => err.code === 'timeout');
    assert.ok(Date.now() - started >= TIMEOUT_MS - 5, 'timed out early');
    assert.equal(pending(), 0);
    assert.deepEqual(removed, [job.jobId]);
    reply(job.jobId, { ok: true, value: {} });
  });

  it('turns a worker error into the same AppError, without removing the job', async () => {
    const { client, reply } = make();
    await client.start();
    const call = client.run('contacts.about', 'session-1', { jid: 'x@s.whatsapp.net' });
    const job = await enqueued(1);
    reply(job.jobId, { ok: false, error: { code: 'not_found', message: 'nobody', details: { jid: 'x' } } });
    await assert.rejects(call, (err: AppError) => err.code === 'not_found' && err.message === 'nobody');
    assert.deepEqual(removed, []);
  });

  it('forgets the job when it could not be enqueued', async () => {
    const { client, pending } = make();
    await client.start();
    addFails = new Error('boom');
    await assert.rejects(client.run('contacts.about', 'session-1', { jid: 'x@s.whatsapp.net' }), /boom/);
    assert.equal(pending(), 0);
  });

  it('answers every waiting call unavailable when it stops', async () => {
    const { client, pending } = make();
    await client.start();
    const call = client.run('contacts.about', 'session-1', { jid: 'x@s.whatsapp.net' });
    await enqueued(1);
    await client.stop();
    await assert.rejects(call, (err: AppError) => err.code === 'unavailable');
    assert.equal(pending(), 0);
  });

  it('refuses an operation needing a connected session at once (501) and enqueues nothing', async () => {
    const { client } = make(false);
    await assert.rejects(
      client.run('contacts.about', 'session-1', { jid: 'x@s.whatsapp.net' }),
      (err: AppError) => err.code === 'not_implemented',
    );
    assert.deepEqual(added, []);
  });

  it("lets the caller's refusal win over the presence check and enqueues nothing", async () => {
    const { client } = make('redis down');
    const gate = sleep(20).then(() => {
      throw new AppError('rate_limited', 'too many');
    });
    await assert.rejects(
      client.run('contacts.about', 'session-1', { jid: 'x@s.whatsapp.net' }, undefined, gate),
      (err: AppError) => err.code === 'rate_limited',
    );
    assert.deepEqual(added, []);
  });

  it('answers unavailable when Redis cannot tell whether the session is connected', async () => {
    const { client, redis } = make('redis down');
    Object.assign(redis, { status: 'reconnecting' });
    await assert.rejects(
      client.run('contacts.about', 'session-1', { jid: 'x@s.whatsapp.net' }),
      (err: AppError) => err.code === 'unavailable',
    );
  });

  /**
   * A call is in flight under lease `1:unit-worker` when the shard's lease becomes `2:unit-worker`
   * (the worker restarted under its id) and its job is no longer queued; `notice`: the new owner
   * said it took the job. What the caller hears within two looks at the owners.
   */
  async function leaseChangesAfterTaken(notice: boolean) {
    const { client, redis, reply, subscriber } = make(true, 5_000);
    let lease = '1:unit-worker';
    Object.assign(redis, { get: async () => lease });
    Queue.prototype.getJobState = async () => 'unknown' as never;
    await client.start();
    let settled = false;
    const call = client.run('contacts.about', 'session-1', { jid: 'x@s.whatsapp.net' });
    void call.then(
      () => (settled = true),
      () => (settled = true),
    );
    const job = await enqueued(1);
    assert.equal(job.data.lease, '1:unit-worker', 'the job names the owner the api expects');
    lease = '2:unit-worker';
    if (notice)
      subscriber.emit('message', subscriber.channels[0], JSON.stringify({ jobId: job.jobId, takenUnder: lease }));
    await sleep(600);
    return { call, settled, reply: () => reply(job.jobId, { ok: true, value: { about: 'hi' } }) };
  }

  it("keeps waiting for a job the shard's new owner says it took, a worker restarted under its id included", async () => {
    const { call, settled, reply } = await leaseChangesAfterTaken(true);
    assert.equal(settled, false, 'the new owner answers it');
    reply();
    assert.deepEqual(await call, { about: 'hi' });
  });

  it("answers 503 for a job the shard's next owner leaves in the queue for a second, and takes the job out", async () => {
    const { client, redis } = make(true, 5_000);
    let lease = '1:unit-worker';
    Object.assign(redis, { get: async () => lease });
    Queue.prototype.getJobState = async () => 'waiting' as never;
    await client.start();
    const call = client.run('contacts.about', 'session-1', { jid: 'x@s.whatsapp.net' });
    const job = await enqueued(1);
    await sleep(400);
    lease = '2:other-worker';
    const changed = Date.now();
    await assert.rejects(call, (err: AppError) => err.code === 'unavailable');
    const waited = Date.now() - changed;
    assert.ok(waited >= 1_000 && waited < 2_000, `answered ${waited} ms after the shard changed hands`);
    assert.deepEqual(removed, [job.jobId], 'it can no longer run after its caller was told it failed');
  });

  it('answers 503 at once for a job the previous owner took before it went', async () => {
    const { call, settled } = await leaseChangesAfterTaken(false);
    assert.equal(settled, true);
    await assert.rejects(call, (err: AppError) => err.code === 'unavailable');
  });

  it('answers 503 at once for a call whose job left the queue while the reply channel was away, and keeps waiting for a queued one', async () => {
    const { client, subscriber, reply } = make(true, 5_000);
    await client.start();
    const states = new Map<string, string>();
    Queue.prototype.getJobState = async (jobId: string) => (states.get(jobId) ?? 'unknown') as never;
    const taken = client.run('contacts.about', 'session-1', { jid: 'x@s.whatsapp.net' });
    const takenJob = await enqueued(1);
    const queued = client.run('contacts.about', 'session-1', { jid: 'y@s.whatsapp.net' });
    const queuedJob = await enqueued(2);
    states.set(takenJob.jobId, 'completed');
    states.set(queuedJob.jobId, 'waiting');
    subscriber.emit('close');
    subscriber.emit('ready');
    await assert.rejects(taken, (err: AppError) => err.code === 'unavailable');
    reply(queuedJob.jobId, { ok: true, value: { about: 'still here' } });
    assert.deepEqual(await queued, { about: 'still here' });
  });

  it('answers unavailable within a second when Redis neither answers nor fails, and enqueues nothing', async () => {
    const { client } = make('redis silent', 5_000);
    const started = Date.now();
    await assert.rejects(
      client.run('contacts.about', 'session-1', { jid: 'x@s.whatsapp.net' }),
      (err: AppError) => err.code === 'unavailable',
    );
    assert.ok(Date.now() - started < 1_500, `answered after ${Date.now() - started} ms`);
    assert.deepEqual(added, []);
  });

  it('runs pairing on an unconnected session: it only needs the worker to hold a connection', async () => {
    const { client, reply } = make(false);
    await client.start();
    const call = client.run('session.pairingCode', 'session-1', { phone: '15550001111' });
    const job = await enqueued(1);
    reply(job.jobId, { ok: true, value: { code: 'ABCD1234', expiresAt: 1 } });
    assert.deepEqual(await call, { code: 'ABCD1234', expiresAt: 1 });
  });
});
