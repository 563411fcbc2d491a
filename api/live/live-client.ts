import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../../shared/config.js';
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { LIVE_JOB_OPTIONS, liveQueueOptions, parseLiveReply, replyChannel, type ArrivingLiveReply, type LiveJobEnvelope, type LiveQueue } from '../../shared/live/live-queues.js';
import { LIVE_OP_REQUIRES, parseLiveOutput, type LiveInput, type LiveOpName, type LiveOutput } from '../../shared/live/operations.js';
import type { RedisKeys } from '../../shared/redis-keys.js';
import type { JobSigningKey } from '../../shared/job-signing/job-signing-key.js';
import { shardOf } from '../../shared/shards.js';
import { isStoreUnavailable } from '../../shared/db/unavailable.js';
import { firstRefusal } from '../http/admission.js';

interface Pending {
  resolve: (result: ArrivingLiveReply['result']) => void;
  timer: NodeJS.Timeout;
}

/**
 * Runs live operations on the worker that owns the session: checks presence, enqueues on the
 * session's shard queue and waits for the reply on this instance's pub/sub channel. The job
 * carries its deadline, so a worker that picks it up too late drops it instead of running it.
 */
export class LiveClient {
  readonly instanceId = randomUUID();
  private readonly queues: LiveQueue[] = [];
  private readonly pending = new Map<string, Pending>();
  private readonly channel: string;

  constructor(
    private readonly config: Config,
    private readonly keys: RedisKeys,
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly signing: JobSigningKey,
    private readonly logger: Logger,
    private readonly observe: (op: LiveOpName, outcome: string, seconds: number) => void = () => undefined,
  ) {
    this.channel = replyChannel(keys, this.instanceId);
    for (let shard = 0; shard < config.shards.count; shard++) {
      const queue = new Queue<LiveJobEnvelope, void, LiveOpName>(keys.liveQueueName, { ...liveQueueOptions(keys, shard, redis), defaultJobOptions: LIVE_JOB_OPTIONS });
      queue.on('error', (err) => logger.debug({ err: err.message, shard }, 'live queue error'));
      this.queues.push(queue);
    }
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.onReply(message);
    });
  }

  async start(): Promise<void> {
    // The subscriber reconnects by itself and ioredis re-subscribes; failing here only delays readiness.
    await this.subscriber.subscribe(this.channel).catch((err: Error) => this.logger.warn({ err: err.message }, 'reply channel subscribe failed; will retry on reconnect'));
  }

  async stop(): Promise<void> {
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.resolve({ ok: false, error: { code: 'unavailable', message: 'gateway is shutting down' } });
    }
    this.pending.clear();
    await Promise.allSettled(this.queues.map((q) => q.close()));
  }

  /**
   * `gate` is the caller's own checks, still in flight (the rate limit, that the session is
   * theirs): the presence check runs beside them rather than after, nothing is enqueued before they
   * pass, and their refusal (429, 404) wins over anything presence says.
   */
  async run<N extends LiveOpName>(op: N, sessionId: string, input: LiveInput<N>, requestId?: string, gate?: Promise<unknown>): Promise<LiveOutput<N>> {
    const started = process.hrtime.bigint();
    let outcome = 'ok';
    try {
      return await this.runOnWorker(op, sessionId, input, requestId, gate);
    } catch (err) {
      outcome = err instanceof AppError ? err.code : 'internal';
      throw err;
    } finally {
      this.observe(op, outcome, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  private async runOnWorker<N extends LiveOpName>(
    op: N,
    sessionId: string,
    input: LiveInput<N>,
    requestId: string | undefined,
    gate: Promise<unknown> | undefined,
  ): Promise<LiveOutput<N>> {
    await this.admit(sessionId, LIVE_OP_REQUIRES[op], gate);
    const signer = await this.signing.signer();
    const jobId = randomUUID();
    const timeoutMs = this.config.live.timeoutMs;
    const data: LiveJobEnvelope<N> = signer.seal('live', jobId, { op, sessionId, input, deadline: Date.now() + timeoutMs, replyTo: this.channel, ...(requestId ? { requestId } : {}) });
    const reply = new Promise<ArrivingLiveReply['result']>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(jobId);
        resolve({ ok: false, error: { code: 'timeout', message: `no answer from the session's worker within ${timeoutMs} ms` } });
      }, timeoutMs);
      this.pending.set(jobId, { resolve, timer });
    });
    const queue = this.queues[shardOf(sessionId, this.config.shards.count)]!;
    try {
      await this.guard(() => queue.add(op, data, { jobId }));
    } catch (err) {
      const p = this.pending.get(jobId);
      if (p) clearTimeout(p.timer);
      this.pending.delete(jobId);
      throw err;
    }
    const result = await reply;
    if (result.ok) {
      const value = parseLiveOutput(op, result.value);
      if (value !== undefined) return value;
      this.logger.error({ op, jobId }, 'a worker answered a live operation in a shape this api does not know');
      throw new AppError('internal', 'the operation failed unexpectedly');
    }
    if (result.error.code === 'timeout') void queue.remove(jobId).catch(() => undefined);
    throw new AppError(result.error.code, result.error.message, result.error.details ?? {});
  }

  /**
   * Passes once the caller's gate passes and, for an `online` operation, the session is connected
   * (else 501): what a live operation needs before it may run, also when its answer comes from
   * stored data (a cached number check).
   */
  async admit(sessionId: string, requires: 'online' | 'held', gate?: Promise<unknown>): Promise<void> {
    const presence = requires === 'online' ? this.guard(() => this.redis.exists(this.keys.presence(sessionId))) : Promise.resolve(1);
    await firstRefusal([gate ?? Promise.resolve(), presence]);
    if ((await presence) === 0) throw new AppError('not_implemented', 'session is not connected; live operations need a connected session', { sessionId });
  }

  private onReply(message: string): void {
    const reply = parseLiveReply(message);
    if (!reply) {
      this.logger.warn({ channel: this.channel }, 'ignored a message on the live reply channel that is not a reply');
      return;
    }
    const p = this.pending.get(reply.jobId);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(reply.jobId);
    p.resolve(reply.result);
  }

  private async guard<T>(action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (isStoreUnavailable(err) || this.redis.status !== 'ready') throw new AppError('unavailable', 'Redis is unreachable; live operations are unavailable, stored endpoints still work');
      throw err;
    }
  }
}
