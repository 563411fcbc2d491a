import { DelayedError, type Job } from 'bullmq';
import { isFinalBatchStatus, type CheckBatchJobData } from '../../shared/batches/check-batch-jobs.js';
import type { Config } from '../../shared/config.js';
import { isStoreUnavailable } from '../../shared/db/unavailable.js';
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { WhatsAppConnection } from '../driver/driver.js';
import type { BatchWorkStore } from './batch-work-store.js';
import type { SessionRateLimiter } from './session-rate-limiter.js';

export interface CheckBatchRunnerOptions extends Pick<Config['batches'], 'chunkSize' | 'sessionPollMs' | 'backoffMs' | 'maxFailures'> {
  /** BullMQ lock duration of batch jobs; renewed before every chunk. */
  lockMs: number;
}

/** What a run of a batch job ended with (the job's return value, shown in Bull Board). */
export interface CheckBatchJobResult {
  outcome: 'completed' | 'failed' | 'cancelled' | 'gone';
}

type Next = { kind: 'finished'; result: CheckBatchJobResult } | { kind: 'later'; ms: number; data?: CheckBatchJobData };

/** Waits shorter than this are slept through; longer ones give the job back to the queue (delayed). */
const SLEEP_AT_MOST_MS = 2_000;
/** Back-off grows 2× per consecutive failure, up to this many doublings. */
const MAX_DOUBLINGS = 5;

export class LockLostError extends Error {
  override name = 'LockLostError';
}

/**
 * Runs one bulk-check job: takes the batch's pending numbers a chunk at a time, asks WhatsApp
 * about a whole chunk in one query, and stores the answers before asking about the next chunk.
 *
 * Whatever must wait — the session is offline, the rate budget is spent, WhatsApp said
 * rate-overlimit, the shard is being handed over — gives the job back to the queue as a delayed
 * job instead of holding a worker slot; whichever worker owns the shard then picks it up and
 * continues from the numbers still pending. Only pending numbers are ever asked, so a number is
 * asked twice only when a worker dies between WhatsApp's answer and the write (one chunk at most).
 */
export class CheckBatchRunner {
  constructor(
    private readonly store: BatchWorkStore,
    private readonly limiter: SessionRateLimiter,
    private readonly connectionOf: (sessionId: string) => WhatsAppConnection | undefined,
    private readonly options: CheckBatchRunnerOptions,
    private readonly logger: Logger,
    private readonly onChecked: (numbers: number) => void = () => undefined,
  ) {}

  async process(job: Job<CheckBatchJobData, CheckBatchJobResult>, token: string, signal: AbortSignal): Promise<CheckBatchJobResult> {
    const log = this.logger.child({ batchId: job.data.batchId, jobId: job.id });
    let next: Next;
    try {
      next = await this.run(job, token, signal, log);
    } catch (err) {
      if (err instanceof LockLostError) throw err;
      next = await this.failed(job, err, log);
    }
    if (next.kind === 'finished') return next.result;
    if (next.data) await job.updateData(next.data);
    await job.moveToDelayed(Date.now() + next.ms, token);
    throw new DelayedError();
  }

  private async run(job: Job<CheckBatchJobData, CheckBatchJobResult>, token: string, signal: AbortSignal, log: Logger): Promise<Next> {
    const { batchId } = job.data;
    for (;;) {
      if (signal.aborted) return { kind: 'later', ms: 0 };
      // Another worker may have taken the job after our lock lapsed (a stall); then it is theirs.
      if ((await job.extendLock(token, this.options.lockMs)) !== 1) throw new LockLostError(`lost the lock of batch job ${job.id}`);
      const state = await this.store.state(batchId);
      if (!state || isFinalBatchStatus(state.status)) return { kind: 'finished', result: { outcome: state ? (state.status as CheckBatchJobResult['outcome']) : 'gone' } };

      const connection = this.connectionOf(state.sessionId);
      if (!connection) {
        if (!state.waitingForSession) {
          await this.store.setWaiting(batchId, true);
          log.info({ sessionId: state.sessionId }, 'batch waits for its session to come online');
        }
        return { kind: 'later', ms: this.options.sessionPollMs };
      }
      if (state.waitingForSession) await this.store.setWaiting(batchId, false);

      const chunk = await this.store.nextPending(batchId, this.options.chunkSize);
      if (chunk.length === 0) {
        // Not completed when a cancel landed in between: the cancel stands.
        if (!(await this.store.finish(batchId, 'completed'))) return { kind: 'finished', result: { outcome: 'cancelled' } };
        await job.updateProgress(100);
        log.info({ total: state.total }, 'batch completed');
        return { kind: 'finished', result: { outcome: 'completed' } };
      }

      const wait = await this.limiter.take(state.sessionId, chunk.length);
      if (wait > SLEEP_AT_MOST_MS) return { kind: 'later', ms: wait };
      if (wait > 0) {
        await sleep(wait, signal);
        continue;
      }

      if (signal.aborted) return { kind: 'later', ms: 0 };
      if (state.status !== 'running') await this.store.markRunning(batchId);
      let answers;
      try {
        // bulk: LIDs only from what the session already knows (no second query per number); the budget is taken above.
        answers = await connection.onWhatsApp(chunk.map((n) => n.normalized), { bulk: true });
      } catch (err) {
        return this.checkFailed(job, err, log);
      }
      const progress = await this.store.record(batchId, chunk, answers);
      this.onChecked(chunk.length);
      if (job.data.failures || job.data.rateLimited) await job.updateData({ batchId });
      await job.updateProgress(progress.total === 0 ? 100 : Math.floor((progress.done * 100) / progress.total));
    }
  }

  private async checkFailed(job: Job<CheckBatchJobData, CheckBatchJobResult>, err: unknown, log: Logger): Promise<Next> {
    const code = err instanceof AppError ? err.code : undefined;
    if (code === 'rate_limited') {
      const rateLimited = (job.data.rateLimited ?? 0) + 1;
      const ms = this.backoff(rateLimited);
      log.warn({ rateLimited, backoffMs: ms }, 'WhatsApp answered rate-overlimit; backing off before retrying the chunk');
      return { kind: 'later', ms, data: { ...job.data, rateLimited } };
    }
    // The connection closed under the call: the next run finds the session offline and waits.
    if (code === 'not_implemented') return { kind: 'later', ms: this.options.sessionPollMs };
    return this.failed(job, err, log);
  }

  /** A server error or an unexpected one: retried with back-off, and the batch fails once it keeps happening. */
  private async failed(job: Job<CheckBatchJobData, CheckBatchJobResult>, err: unknown, log: Logger): Promise<Next> {
    if (isStoreUnavailable(err)) {
      log.warn({ err: (err as Error).message }, 'MySQL or Redis unreachable during a batch; retrying later');
      return { kind: 'later', ms: this.options.sessionPollMs };
    }
    const failures = (job.data.failures ?? 0) + 1;
    const appError = err instanceof AppError ? err : undefined;
    if (failures < this.options.maxFailures) {
      const ms = this.backoff(failures);
      log.warn({ err: appError?.message ?? err, failures, backoffMs: ms }, 'batch chunk failed; retrying');
      return { kind: 'later', ms, data: { ...job.data, failures } };
    }
    const error = appError ? { code: appError.code, message: appError.message } : { code: 'internal', message: 'the batch failed unexpectedly' };
    log.error({ err, failures }, 'batch failed: the same chunk kept failing');
    await this.store.finish(job.data.batchId, 'failed', { code: error.code, message: `${error.message} (${failures} attempts in a row)` });
    return { kind: 'finished', result: { outcome: 'failed' } };
  }

  private backoff(attempt: number): number {
    return this.options.backoffMs * 2 ** Math.min(attempt - 1, MAX_DOUBLINGS);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
