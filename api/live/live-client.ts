import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { RedisClient } from '../../shared/redis.js';
import type { Config } from '../../shared/config.js';
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import {
  LIVE_JOB_OPTIONS,
  liveQueueOptions,
  parseLiveMessage,
  replyChannel,
  type ArrivingLiveReply,
  type LiveJobEnvelope,
  type LiveQueue,
} from '../../shared/live/live-queues.js';
import {
  LIVE_OP_REQUIRES,
  parseLiveOutput,
  type LiveInput,
  type LiveOpName,
  type LiveOutput,
} from '../../shared/live/operations.js';
import type { RedisKeys } from '../../shared/redis-keys.js';
import type { JobSigningKey } from '../../shared/job-signing/job-signing-key.js';
import { shardOf } from '../../shared/shards.js';
import { isStoreUnavailable, StoreUnavailableError } from '../../shared/db/unavailable.js';
import { within } from '../../shared/within.js';
import { firstRefusal } from '../http/admission.js';
import { onMessage, subscribe } from '../../shared/redis-pubsub.js';
import { sessionOfflineError } from '../../shared/live/session-offline.js';

interface Pending {
  resolve: (result: ArrivingLiveReply['result']) => void;
  timer: NodeJS.Timeout;
  shard: number;
  /** The shard's lease when the job was queued: the owner expected to run it (null: none yet). */
  lease: string | null;
  /** When the job was queued, or when the shard last changed hands while it waited in the queue. */
  queuedAt: number;
  /** The shard changed hands while the job waited: its next owner has OWNER_WAIT_MS to take it. */
  moved?: boolean;
}

/** How long the reads that admit a live call may take (Redis answers them in well under a millisecond). */
const ADMISSION_READ_MS = 1_000;
/** How often the owners of shards with calls in flight are looked at. */
const OWNER_CHECK_MS = 250;
/**
 * How long a call queued on a shard nobody holds waits for someone to take it: a shard handed
 * over gracefully is free for a moment, one whose owner died stays free until another claims it.
 */
const OWNER_WAIT_MS = 1_000;
/** States in which a job is still in the queue, for whichever worker holds the shard next. */
const QUEUED_STATES = new Set(['waiting', 'prioritized', 'delayed', 'waiting-children']);

const OWNER_GONE =
  "no worker holds the session's shard right now (its worker is gone and another is taking it over); try again in a few seconds";

const REPLY_LOST =
  'the connection to Redis was cut while the operation ran, and its answer may have been lost; try again';

/**
 * Runs live operations on the worker that owns the session: checks presence and the shard's lease,
 * enqueues on the session's shard queue and waits for the reply on this instance's pub/sub
 * channel. The job carries its deadline, so a worker that picks it up too late drops it instead of
 * running it.
 *
 * A shard's lease is its owner's heartbeat (renewed several times a second, expiring within
 * LEASE_TTL_MS of its death): a call for a shard nobody takes within OWNER_WAIT_MS, and a call
 * whose owner vanished after taking it, are answered 503 as soon as the lease shows it, rather
 * than after LIVE_TIMEOUT_MS.
 */
export class LiveClient {
  readonly instanceId = randomUUID();
  private readonly queues: LiveQueue[] = [];
  private readonly pending = new Map<string, Pending>();
  private readonly channel: string;
  private ownerWatch: NodeJS.Timeout | undefined;
  private watching = false;

  constructor(
    private readonly config: Config,
    private readonly keys: RedisKeys,
    private readonly redis: RedisClient,
    private readonly subscriber: RedisClient,
    private readonly signing: JobSigningKey,
    private readonly logger: Logger,
    private readonly observe: (op: LiveOpName, outcome: string, seconds: number) => void = () => undefined,
  ) {
    this.channel = replyChannel(keys, this.instanceId);
    for (let shard = 0; shard < config.shards.count; shard++) {
      const queue = new Queue<LiveJobEnvelope, void, LiveOpName>(keys.liveQueueName, {
        ...liveQueueOptions(keys, shard, redis),
        defaultJobOptions: LIVE_JOB_OPTIONS,
      });
      queue.on('error', (err) => logger.debug({ err: err.message, shard }, 'live queue error'));
      this.queues.push(queue);
    }
    onMessage(subscriber, (channel: string, message: string) => {
      if (channel === this.channel) this.onReply(message);
    });
    // Pub/sub keeps nothing for a subscriber that is away: a reply published while this one
    // reconnected (a Redis failover, a network cut) is lost.
    let replyGap = false;
    subscriber.on('close', () => (replyGap = true));
    subscriber.on('ready', () => {
      if (!replyGap) return;
      replyGap = false;
      void this.afterReplyGap();
    });
  }

  async start(): Promise<void> {
    // The subscriber reconnects by itself and ioredis re-subscribes; failing here only delays readiness.
    this.ownerWatch = setInterval(() => void this.watchOwners(), OWNER_CHECK_MS);
    this.ownerWatch.unref();
    await subscribe(this.subscriber, this.channel).catch((err: Error) =>
      this.logger.warn({ err: err.message }, 'reply channel subscribe failed; will retry on reconnect'),
    );
  }

  async stop(): Promise<void> {
    if (this.ownerWatch) clearInterval(this.ownerWatch);
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
  async run<N extends LiveOpName>(
    op: N,
    sessionId: string,
    input: LiveInput<N>,
    requestId?: string,
    gate?: Promise<unknown>,
  ): Promise<LiveOutput<N>> {
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
    const lease = await this.admit(sessionId, LIVE_OP_REQUIRES[op], gate);
    const shard = shardOf(sessionId, this.config.shards.count);
    const signer = await this.signing.signer();
    const jobId = randomUUID();
    const timeoutMs = this.config.live.timeoutMs;
    const data: LiveJobEnvelope<N> = signer.seal('live', jobId, {
      op,
      sessionId,
      input,
      deadline: Date.now() + timeoutMs,
      replyTo: this.channel,
      ...(lease !== null ? { lease } : {}),
      ...(requestId ? { requestId } : {}),
    });
    const reply = new Promise<ArrivingLiveReply['result']>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(jobId);
        resolve({
          ok: false,
          error: { code: 'timeout', message: `no answer from the session's worker within ${timeoutMs} ms` },
        });
      }, timeoutMs);
      this.pending.set(jobId, { resolve, timer, shard, lease, queuedAt: Date.now() });
    });
    const queue = this.queues[shard]!;
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
   * (else 501, or 503 while it moves to another worker): what a live operation needs before it may
   * run, also when its answer comes from stored data (a cached number check). Answers the shard's
   * lease (null: nobody holds it right now).
   */
  async admit(sessionId: string, requires: 'online' | 'held', gate?: Promise<unknown>): Promise<string | null> {
    const presence =
      requires === 'online' ? this.read(() => this.redis.exists(this.keys.presence(sessionId))) : Promise.resolve(1);
    const lease = this.read(() => this.redis.get(this.keys.lease(shardOf(sessionId, this.config.shards.count))));
    await firstRefusal([gate ?? Promise.resolve(), presence, lease]);
    if ((await presence) === 0) throw await this.read(() => sessionOfflineError(this.redis, this.keys, sessionId));
    return lease;
  }

  /**
   * For every shard with calls in flight, reads its lease. A call whose owner is no longer the
   * lease holder keeps waiting while its job is still queued (the next owner runs it); one the
   * vanished owner had taken is answered 503 at once, and so is a queued one nobody has held the
   * shard for during OWNER_WAIT_MS, once it is out of the queue (so it cannot run after its caller
   * was told it failed).
   */
  private async watchOwners(): Promise<void> {
    if (this.watching || this.pending.size === 0) return;
    this.watching = true;
    try {
      const shards = new Set([...this.pending.values()].map((p) => p.shard));
      await Promise.all(
        [...shards].map(async (shard) => {
          const lease = await this.redis.get(this.keys.lease(shard));
          const now = Date.now();
          const moved = [...this.pending].filter(
            ([, p]) =>
              p.shard === shard &&
              (p.lease !== lease || ((lease === null || p.moved) && now - p.queuedAt > OWNER_WAIT_MS)),
          );
          await Promise.all(moved.map(([jobId, p]) => this.ownerChanged(jobId, p, lease)));
        }),
      );
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'could not look at the shard owners');
    } finally {
      this.watching = false;
    }
  }

  private async ownerChanged(jobId: string, p: Pending, lease: string | null): Promise<void> {
    const queue = this.queues[p.shard]!;
    const state = await queue.getJobState(jobId);
    if (QUEUED_STATES.has(state)) {
      if (p.lease !== lease) {
        // The shard changed hands, or its owner just went: the call waits OWNER_WAIT_MS from now for
        // the next owner to take the job (a new owner whose consumer is slow to start after a Redis
        // failover would otherwise hold the caller for seconds).
        p.lease = lease;
        p.queuedAt = Date.now();
        p.moved = true;
        return;
      }
      if (Date.now() - p.queuedAt <= OWNER_WAIT_MS || (await queue.remove(jobId)) !== 1) return;
    } else if (p.lease === lease) {
      // The new owner said it took the job (a taken notice came while the state was read): it answers.
      return;
    } else if (p.lease === null && lease !== null) {
      // Queued while nobody held the shard: only its new owner could take it, and it answers.
      p.lease = lease;
      return;
    }
    this.settle(jobId, p, { ok: false, error: { code: 'unavailable', message: OWNER_GONE } });
  }

  /** Answers a call still waiting on `p`, once. */
  private settle(jobId: string, p: Pending, result: ArrivingLiveReply['result']): void {
    if (this.pending.get(jobId) !== p) return;
    clearTimeout(p.timer);
    this.pending.delete(jobId);
    p.resolve(result);
  }

  /**
   * Once the reply channel is back: a call whose job already left the queue may have been answered
   * into the gap, so it hears 503 now rather than 504 after LIVE_TIMEOUT_MS; a call still queued
   * keeps waiting (its reply comes once a worker runs it).
   */
  private async afterReplyGap(): Promise<void> {
    await Promise.all(
      [...this.pending].map(async ([jobId, p]) => {
        const state = await this.queues[p.shard]!.getJobState(jobId).catch(() => 'unknown');
        if (!QUEUED_STATES.has(state))
          this.settle(jobId, p, { ok: false, error: { code: 'unavailable', message: REPLY_LOST } });
      }),
    );
  }

  private onReply(message: string): void {
    const reply = parseLiveMessage(message);
    if (!reply) {
      this.logger.warn({ channel: this.channel }, 'ignored a message on the live reply channel that is not a reply');
      return;
    }
    const p = this.pending.get(reply.jobId);
    if (!p) return;
    if ('takenUnder' in reply) {
      p.lease = reply.takenUnder;
      return;
    }
    this.settle(reply.jobId, p, reply.result);
  }

  /**
   * A read that decides whether a call may be queued, bounded: a client that keeps retrying
   * through a Redis failover would otherwise hold the caller for the failover's length. A read is
   * safe to give up on (nothing was written).
   */
  private read<T>(action: () => Promise<T>): Promise<T> {
    return this.guard(() =>
      within(action(), ADMISSION_READ_MS, () => new StoreUnavailableError('Redis did not answer in time')),
    );
  }

  private async guard<T>(action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (isStoreUnavailable(err) || this.redis.status !== 'ready')
        throw new AppError(
          'unavailable',
          'Redis is unreachable; live operations are unavailable, stored endpoints still work',
        );
      throw err;
    }
  }
}
