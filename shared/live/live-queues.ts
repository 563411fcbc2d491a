import type { ConnectionOptions, DefaultJobOptions } from 'bullmq';
import type { RedisKeys } from '../redis-keys.js';
import type { LiveJobData, LiveJobResult, LiveOpName } from './operations.js';

/** Replies travel by pub/sub to the api instance that enqueued the job (one channel per instance). */
export interface LiveReply {
  jobId: string;
  result: LiveJobResult;
}

export interface LiveJobEnvelope<N extends LiveOpName = LiveOpName> extends LiveJobData<N> {
  replyTo: string;
  /** The api's signature of the rest (shared/job-signing): a worker runs nothing without it. */
  sig: string;
}

export function liveQueueOptions(keys: RedisKeys, shard: number, connection: ConnectionOptions) {
  return { prefix: keys.liveQueuePrefix(shard), connection };
}

export const LIVE_JOB_OPTIONS: DefaultJobOptions = {
  attempts: 1,
  // The result travels by pub/sub; keeping finished jobs would only cost Redis writes on the hot path.
  removeOnComplete: true,
  removeOnFail: { age: 3600, count: 5000 },
};

export function replyChannel(keys: RedisKeys, apiInstanceId: string): string {
  return `${keys.prefix}:live-replies:${apiInstanceId}`;
}
