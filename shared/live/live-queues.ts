import type { ConnectionOptions, DefaultJobOptions, Job, Queue, Worker } from 'bullmq';
import { z } from 'zod';
import type { RedisKeys } from '../redis-keys.js';
import { LiveError, type LiveJobData, type LiveJobResult, type LiveOpName } from './operations.js';

/** Replies travel by pub/sub to the api instance that enqueued the job (one channel per instance). */
export interface LiveReply {
  jobId: string;
  result: LiveJobResult;
}

/** A reply as it arrives: the value is checked against its operation's schema by the one who knows the operation. */
const ArrivingLiveReply = z.object({
  jobId: z.string(),
  result: z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), value: z.unknown() }),
    z.object({ ok: z.literal(false), error: LiveError }),
  ]),
});
export type ArrivingLiveReply = z.output<typeof ArrivingLiveReply>;

/** The reply, or undefined for anything that is not one (validated as control messages are). */
export function parseLiveReply(raw: string): ArrivingLiveReply | undefined {
  let message: unknown;
  try {
    message = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const parsed = ArrivingLiveReply.safeParse(message);
  return parsed.success ? parsed.data : undefined;
}

export interface LiveJobEnvelope<N extends LiveOpName = LiveOpName> extends LiveJobData<N> {
  replyTo: string;
  /** The api's signature of the rest (shared/job-signing): a worker runs nothing without it. */
  sig: string;
}

/**
 * Both ends of a live queue: jobs are named for their operation and return nothing (the answer
 * travels by pub/sub, see LiveReply).
 */
export type LiveQueue = Queue<LiveJobEnvelope, void, LiveOpName>;
export type LiveWorker = Worker<LiveJobEnvelope, void, LiveOpName>;
export type LiveJob = Job<LiveJobEnvelope, void, LiveOpName>;

export function liveQueueOptions(keys: RedisKeys, shard: number, connection: ConnectionOptions) {
  return { prefix: keys.liveQueuePrefix(shard), connection };
}

/**
 * The result travels by pub/sub, but a job taken is kept for as long as its caller may wait, with
 * the lease of the consumer that took it (`processedBy`): when the shard's lease changes while a
 * call is in flight, the api tells a job the new owner took (it answers) from one the gone owner
 * took (503 at once). BullMQ trims the kept jobs inside the same completion script.
 */
export function liveJobOptions(timeoutMs: number): DefaultJobOptions {
  return {
    attempts: 1,
    removeOnComplete: { age: Math.ceil(timeoutMs / 1000) + 5, count: 20_000 },
    removeOnFail: { age: 3600, count: 5000 },
  };
}

export function replyChannel(keys: RedisKeys, apiInstanceId: string): string {
  return `${keys.prefix}:live-replies:${apiInstanceId}`;
}
