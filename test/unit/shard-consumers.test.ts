import assert from 'node:assert/strict';
import type { JobSigner } from '../../shared/job-signing/job-signer.js';
import type { LiveJob } from '../../shared/live/live-queues.js';
import { RedisKeys } from '../../shared/redis-keys.js';
import type { LiveExecutor } from '../../worker/live/live-executor.js';
import { ShardConsumers } from '../../worker/live/shard-consumers.js';
import { asRedis, silentLogger } from './fakes.js';

function setup() {
  const published: { channel: string; message: unknown }[] = [];
  const executed: string[] = [];
  const publisher = asRedis({
    publish: async (channel: string, message: string) => {
      published.push({ channel, message: JSON.parse(message) });
      return 1;
    },
  });
  const executor = {
    execute: async (jobId: string) => {
      executed.push(jobId);
      return { ok: true, value: {} };
    },
  } as unknown as LiveExecutor;
  const signer = { verify: () => true } as unknown as JobSigner;
  let lease = '';
  const consumers = new ShardConsumers(
    asRedis({}),
    publisher,
    () => lease,
    new RedisKeys('unit', 16),
    executor,
    2,
    signer,
    silentLogger,
  );
  const handOver = (held: string, job: { id: string; lease?: string }) => {
    lease = held;
    return (
      consumers as unknown as {
        handOver(shard: number, running: Set<Promise<void>>, job: LiveJob): Promise<void>;
      }
    ).handOver(3, new Set(), {
      id: job.id,
      name: 'contacts.about',
      timestamp: Date.now(),
      data: {
        op: 'contacts.about',
        sessionId: 's1',
        input: { jid: 'x' },
        deadline: Date.now() + 5_000,
        replyTo: 'replies:api-1',
        sig: 's',
        ...(job.lease ? { lease: job.lease } : {}),
      },
    } as unknown as LiveJob);
  };
  return { published, executed, handOver };
}

describe('unit: shard consumers', () => {
  it('says nothing more than the reply for a job queued under the lease it holds', async () => {
    const { published, executed, handOver } = setup();
    await handOver('4:w1', { id: 'j1', lease: '4:w1' });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(executed, ['j1']);
    assert.deepEqual(published, []);
  });

  it('tells the api it took a job queued under another lease, or while nobody held the shard, before running it', async () => {
    const { published, executed, handOver } = setup();
    await handOver('5:w1', { id: 'j2', lease: '4:w1' });
    await handOver('5:w1', { id: 'j3' });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(executed, ['j2', 'j3']);
    assert.deepEqual(published, [
      { channel: 'replies:api-1', message: { jobId: 'j2', takenUnder: '5:w1' } },
      { channel: 'replies:api-1', message: { jobId: 'j3', takenUnder: '5:w1' } },
    ]);
  });
});
