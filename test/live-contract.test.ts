import assert from 'node:assert/strict';
import { Queue } from 'bullmq';
import { ApiRouter } from '../api/http/api-router.js';
import { z } from '../api/http/zod.js';
import { LiveClient } from '../api/live/live-client.js';
import { loadConfig } from '../shared/config.js';
import { AppError } from '../shared/errors.js';
import { JobSigningKey } from '../shared/job-signing/job-signing-key.js';
import {
  parseLiveMessage,
  replyChannel,
  type LiveJobEnvelope,
  type LiveReply,
  type LiveTaken,
} from '../shared/live/live-queues.js';
import { LIVE_OPERATIONS, parseLiveOutput, type LiveOpName } from '../shared/live/operations.js';
import { createLogger } from '../shared/logger.js';
import { RedisKeys } from '../shared/redis-keys.js';
import { shardOf } from '../shared/shards.js';
import { testEnv } from './support/hooks.js';

describe('the live contract (shared/live): one schema per operation, checked where it crosses a process', function () {
  this.timeout(30_000);

  it('accepts a reply or a taken notice in shape and refuses anything else on the reply channel', () => {
    const reply: LiveReply = { jobId: 'j1', result: { ok: true, value: { about: 'hi' } } };
    assert.deepEqual(parseLiveMessage(JSON.stringify(reply)), reply);
    const failure: LiveReply = {
      jobId: 'j2',
      result: { ok: false, error: { code: 'not_found', message: 'no such user', details: { jid: 'x' } } },
    };
    assert.deepEqual(parseLiveMessage(JSON.stringify(failure)), failure);
    const taken: LiveTaken = { jobId: 'j3', takenUnder: '7:worker-a' };
    assert.deepEqual(parseLiveMessage(JSON.stringify(taken)), taken);
    for (const raw of [
      'not json',
      'null',
      '{"result":{"ok":true,"value":{}}}',
      '{"jobId":"j","result":{"value":{}}}',
      '{"jobId":"j","result":{"ok":false,"error":{"code":"teapot","message":"x"}}}',
      '{"jobId":"j","takenUnder":7}',
    ]) {
      assert.equal(parseLiveMessage(raw), undefined, raw);
    }
  });

  it("checks a worker's answer against its operation's output schema", () => {
    assert.deepEqual(parseLiveOutput('contacts.about', { about: 'hi', setAt: 5 }), { about: 'hi', setAt: 5 });
    assert.deepEqual(parseLiveOutput('contacts.picture', { url: 'u', type: 'preview', id: null, fetchedAt: 1 }), {
      url: 'u',
      type: 'preview',
      id: null,
      fetchedAt: 1,
    });
    assert.equal(parseLiveOutput('contacts.about', { about: 1 }), undefined);
    assert.equal(parseLiveOutput('contacts.picture', { url: 'u', type: 'huge', id: null, fetchedAt: 1 }), undefined);
    assert.equal(
      parseLiveOutput('contacts.check', { isOnWhatsApp: true, query: '1' }),
      undefined,
      'jid is required (null when not on WhatsApp)',
    );
    assert.equal(parseLiveOutput('session.pairingCode', { code: 'ABCD1234' }), undefined);
    for (const op of Object.keys(LIVE_OPERATIONS) as LiveOpName[])
      assert.ok(LIVE_OPERATIONS[op].input instanceof z.ZodObject, `${op} has an input schema`);
  });

  it("answers 500 `internal` when a worker's reply is out of shape, never passing it on", async () => {
    const config = loadConfig(testEnv.env());
    // A prefix no worker consumes: this test plays the worker.
    const keys = new RedisKeys(`${testEnv.redisPrefix}:contract`, config.shards.count);
    const subscriber = testEnv.redis.duplicate();
    const live = new LiveClient(
      config,
      keys,
      testEnv.redis,
      subscriber,
      new JobSigningKey(config.jobSigningSecret, testEnv.db),
      createLogger('silent', 'contract-test'),
    );
    const sessionId = 'sess_contract';
    const queue = new Queue<LiveJobEnvelope>(keys.liveQueueName, {
      prefix: keys.liveQueuePrefix(shardOf(sessionId, config.shards.count)),
      connection: testEnv.redis,
    });
    try {
      await live.start();
      await testEnv.redis.set(keys.presence(sessionId), 'test-worker', 'PX', 30_000);
      const answer = live.run('contacts.about', sessionId, { jid: '14155550123@s.whatsapp.net' });
      let job: { id?: string } | undefined;
      for (let i = 0; i < 100 && !job; i++) [job] = await queue.getWaiting();
      assert.ok(job?.id, 'the job was enqueued');
      await testEnv.redis.publish(
        replyChannel(keys, live.instanceId),
        JSON.stringify({ jobId: job.id, result: { ok: true, value: { text: 'not an about' } } }),
      );
      await assert.rejects(answer, (err: unknown) => err instanceof AppError && err.code === 'internal');
    } finally {
      await live.stop();
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      subscriber.disconnect();
    }
  });

  it('types a route handler by its success schema (a wrong shape does not compile)', () => {
    const api = new ApiRouter();
    api.add({
      method: 'get',
      path: '/contract',
      operationId: 'contract',
      summary: 'contract',
      description: 'contract',
      tags: ['Test'],
      capability: 'read',
      success: { status: 200, description: 'ok', schema: LIVE_OPERATIONS['contacts.about'].output },
      errors: [],
      // @ts-expect-error -- `about` must be a string: the build fails when handlers are no longer typed by their schema.
      handler: () => Promise.resolve({ about: 1 }),
    });
    api.add({
      method: 'get',
      path: '/contract-ok',
      operationId: 'contractOk',
      summary: 'contract',
      description: 'contract',
      tags: ['Test'],
      capability: 'read',
      success: { status: 200, description: 'ok', schema: LIVE_OPERATIONS['contacts.about'].output },
      errors: [],
      handler: () => Promise.resolve({ about: 'hi' }),
    });
    assert.equal(api.declared.length, 2);
  });
});
