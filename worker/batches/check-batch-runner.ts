import { randomBytes } from 'node:crypto';
import { DelayedError } from 'bullmq';
import {
  isFinalBatchStatus,
  type BatchJob,
  type CheckBatchJobData,
  type CheckBatchJobResult,
  type WaitingReason,
} from '../../shared/batches/check-batch-jobs.js';
import type { CheckAnswerCache } from '../../shared/checks/check-answers.js';
import type { Config } from '../../shared/config.js';
import { isStoreUnavailable } from '../../shared/db/unavailable.js';
import { AppError } from '../../shared/errors.js';
import type { JobSigner } from '../../shared/job-signing/job-signer.js';
import type { Logger } from '../../shared/logger.js';
import type { WhatsAppConnection } from '../driver/driver.js';
import { isLockConflict, type BatchWorkStore, type MemberState } from './batch-work-store.js';
import { chunkOutcomes, formToAsk } from './chunk-outcomes.js';
import type { SessionRateLimiter } from './session-rate-limiter.js';

export interface CheckBatchRunnerOptions extends Pick<
  Config['batches'],
  'chunkSize' | 'sessionPollMs' | 'backoffMs' | 'maxFailures'
> {
  /** BullMQ lock duration of batch jobs; renewed before every chunk. */
  lockMs: number;
  /** How long a session's claim on a chunk holds before another session may take the chunk over. */
  claimMs: number;
}

/** What a run of a batch job ended with (the job's return value, shown in Bull Board). */
type Next = { kind: 'finished'; result: CheckBatchJobResult } | { kind: 'later'; ms: number; data?: CheckBatchJobData };

/** Waits shorter than this are slept through; longer ones give the job back to the queue (delayed). */
const SLEEP_AT_MOST_MS = 2_000;
/** Back-off grows 2× per consecutive failure, up to this many doublings. */
const MAX_DOUBLINGS = 5;

export class LockLostError extends Error {
  override name = 'LockLostError';
}

/**
 * Runs one session's part of a bulk check: claims a chunk of the batch's pending numbers, asks
 * WhatsApp about the whole chunk in one query, and stores the answers before claiming the next.
 *
 * Pools: a batch checked through several sessions has one job per session, each on the queue of
 * its session's shard, so each runs on the worker that holds that session's connection (sessions
 * of one pool may live on shards of different workers). There is no coordinator: the sessions pull
 * chunks from the batch's pending rows in MySQL, each paced by its own budget, so N connected
 * sessions check about N times as fast, and a session that is offline simply stops pulling — the
 * numbers it would have checked stay pending for the others. A claim is held for `claimMs`: if the
 * worker holding it dies, the chunk is claimed again once it lapses. Whichever session finds
 * nothing pending records the batch as completed; the others then find it finished.
 *
 * Whatever must wait — the session is offline or at its daily cap, the pace budget is spent,
 * WhatsApp said rate-overlimit, the shard is being handed over, other sessions hold the last
 * chunks — gives the job back to the queue as a delayed job instead of holding a worker slot. Only
 * pending numbers are ever asked, so a number is asked twice only when a worker dies between
 * WhatsApp's answer and the write (one chunk at most).
 */
export class CheckBatchRunner {
  constructor(
    private readonly store: BatchWorkStore,
    private readonly answers: CheckAnswerCache,
    private readonly limiter: SessionRateLimiter,
    private readonly connectionOf: (sessionId: string) => WhatsAppConnection | undefined,
    private readonly options: CheckBatchRunnerOptions,
    private readonly signer: JobSigner,
    private readonly logger: Logger,
    private readonly onChecked: (numbers: number) => void = () => undefined,
  ) {}

  async process(job: BatchJob, token: string, signal: AbortSignal): Promise<CheckBatchJobResult> {
    const log = this.logger.child({ batchId: job.data.batchId, sessionId: job.data.sessionId, jobId: job.id });
    let next: Next;
    try {
      next = await this.run(job, token, signal, log);
    } catch (err) {
      if (err instanceof LockLostError) throw err;
      next = await this.failed(job, err, log);
    }
    if (next.kind === 'finished') return next.result;
    if (next.data) await this.updateData(job, next.data);
    await job.moveToDelayed(Date.now() + next.ms, token);
    throw new DelayedError();
  }

  private async run(job: BatchJob, token: string, signal: AbortSignal, log: Logger): Promise<Next> {
    const { batchId } = job.data;
    for (;;) {
      if (signal.aborted) return { kind: 'later', ms: 0 };
      // Another worker may have taken the job after our lock lapsed (a stall); then it is theirs.
      if ((await job.extendLock(token, this.options.lockMs)) !== 1)
        throw new LockLostError(`lost the lock of batch job ${job.id}`);
      const state = await this.store.state(batchId);
      if (!state || isFinalBatchStatus(state.status))
        return {
          kind: 'finished',
          result: { outcome: state ? (state.status as CheckBatchJobResult['outcome']) : 'gone' },
        };
      // A job queued before pools names no session; the sweep queues one that does (only one job per
      // batch and session may run, see BatchWorkStore.claim).
      const { sessionId } = job.data;
      const member = sessionId === undefined ? undefined : await this.store.member(batchId, sessionId);
      // Or the session was deleted (its row went with it): the batch goes on through its other sessions.
      if (sessionId === undefined || !member) return { kind: 'finished', result: { outcome: 'gone' } };

      const connection = this.connectionOf(sessionId);
      if (!connection) {
        await this.waitFor(batchId, sessionId, member, 'session', null, log);
        return { kind: 'later', ms: this.options.sessionPollMs };
      }

      // Before spending budget: the last chunk's answers may have completed the batch, and a session
      // at its cap must still be able to see that.
      if (!(await this.store.hasPending(batchId))) {
        if (await this.store.finish(batchId, 'completed')) {
          await job.updateProgress(100);
          log.info({ total: state.total }, 'batch completed');
          return { kind: 'finished', result: { outcome: 'completed' } };
        }
        continue;
      }

      const grant = await this.limiter.take(sessionId, this.options.chunkSize);
      if (grant.kind === 'daily_limit') {
        await this.waitFor(batchId, sessionId, member, 'daily_limit', grant.resumesAt, log);
        // Looked at again like an offline session, not only at midnight: a raised cap (after a
        // restart) or a budget handed back by a refund is used as soon as it is there.
        return { kind: 'later', ms: Math.min(grant.waitMs, this.options.sessionPollMs) };
      }
      if (grant.kind === 'pace') {
        if (grant.waitMs > SLEEP_AT_MOST_MS) return { kind: 'later', ms: grant.waitMs };
        await sleep(grant.waitMs, signal);
        continue;
      }
      await this.waitFor(batchId, sessionId, member, null, null, log);

      const claim = randomBytes(12).toString('hex');
      const chunk = await this.store.claim(batchId, sessionId, claim, grant.count, this.options.claimMs);
      if (chunk.length < grant.count) await this.limiter.refund(sessionId, grant.count - chunk.length);
      if (chunk.length === 0) {
        const claimLapses = await this.store.nextClaimExpiry(batchId);
        if (claimLapses === undefined) continue;
        // Other sessions are asking about the last chunks; look again when the first claim lapses.
        return { kind: 'later', ms: Math.min(this.options.sessionPollMs, Math.max(100, claimLapses - Date.now())) };
      }

      if (signal.aborted) {
        await this.store.release(batchId, claim);
        return { kind: 'later', ms: 0 };
      }
      if (state.status !== 'running') await this.store.markRunning(batchId);
      let answers;
      try {
        // bulk: LIDs only from what the session already knows (no second query per number); the budget is taken above.
        answers = await connection.onWhatsApp(chunk.map(formToAsk), { bulk: true });
      } catch (err) {
        await this.store.release(batchId, claim);
        return this.checkFailed(job, err, log);
      }
      const answeredAt = Date.now();
      const outcomes = chunkOutcomes(chunk, answers, answeredAt);
      const progress = await this.store.record(batchId, sessionId, claim, outcomes, answeredAt);
      await this.remember(state.organizationId, outcomes, log);
      this.onChecked(chunk.length);
      if (job.data.failures || job.data.rateLimited) await this.updateData(job, { batchId, sessionId });
      await job.updateProgress(progress.total === 0 ? 100 : Math.floor((progress.done * 100) / progress.total));
    }
  }

  /** Records what this session waits for, when that changed. */
  private async waitFor(
    batchId: string,
    sessionId: string,
    member: MemberState,
    reason: WaitingReason | null,
    resumesAt: number | null,
    log: Logger,
  ): Promise<void> {
    if (member.waitingFor === reason && member.resumesAt === resumesAt) return;
    await this.store.setWaiting(batchId, sessionId, reason, resumesAt);
    if (reason === 'session') log.info('batch waits for this session to come online; its other sessions go on');
    if (reason === 'daily_limit')
      log.info({ resumesAt }, 'this session reached BATCH_DAILY_LIMIT; it resumes when the UTC day turns');
  }

  /** Feeds the answer cache; an answer not cached is only a later re-ask, so a failure here never fails the chunk. */
  private async remember(
    organizationId: string,
    outcomes: ReturnType<typeof chunkOutcomes>,
    log: Logger,
  ): Promise<void> {
    try {
      await this.answers.save(
        organizationId,
        outcomes.flatMap((o) => (o.kind === 'final' ? [o.answer] : [])),
      );
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not store the answers in the answer cache');
    }
  }

  private async checkFailed(job: BatchJob, err: unknown, log: Logger): Promise<Next> {
    const code = err instanceof AppError ? err.code : undefined;
    if (code === 'rate_limited') {
      const rateLimited = (job.data.rateLimited ?? 0) + 1;
      const ms = this.backoff(rateLimited);
      log.warn(
        { rateLimited, backoffMs: ms },
        'WhatsApp answered rate-overlimit; backing off before retrying the chunk',
      );
      return { kind: 'later', ms, data: { ...job.data, rateLimited } };
    }
    // The connection closed under the call: the next run finds the session offline and waits.
    if (code === 'not_implemented') return { kind: 'later', ms: this.options.sessionPollMs };
    return this.failed(job, err, log);
  }

  /** A server error or an unexpected one: retried with back-off, and the batch fails once it keeps happening. */
  private async failed(job: BatchJob, err: unknown, log: Logger): Promise<Next> {
    if (isStoreUnavailable(err)) {
      log.warn({ err: (err as Error).message }, 'MySQL or Redis unreachable during a batch; retrying later');
      return { kind: 'later', ms: this.options.sessionPollMs };
    }
    // Sessions of one pool write the same batch at once; MySQL asks to retry, which costs nothing.
    if (isLockConflict(err)) {
      log.info({ err: (err as Error).message }, 'lock conflict with another session of the batch; retrying at once');
      return { kind: 'later', ms: 0 };
    }
    const failures = (job.data.failures ?? 0) + 1;
    const appError = err instanceof AppError ? err : undefined;
    if (failures < this.options.maxFailures) {
      const ms = this.backoff(failures);
      log.warn({ err: appError?.message ?? err, failures, backoffMs: ms }, 'batch chunk failed; retrying');
      return { kind: 'later', ms, data: { ...job.data, failures } };
    }
    const error = appError
      ? { code: appError.code, message: appError.message }
      : { code: 'internal', message: 'the batch failed unexpectedly' };
    log.error({ err, failures }, 'batch failed: the same chunk kept failing');
    await this.store.finish(job.data.batchId, 'failed', {
      code: error.code,
      message: `${error.message} (${failures} attempts in a row)`,
    });
    return { kind: 'finished', result: { outcome: 'failed' } };
  }

  /** Data a worker writes back is signed like the api's, or the next run would refuse it. */
  private updateData(job: BatchJob, data: CheckBatchJobData): Promise<void> {
    return job.updateData(this.signer.seal('check-batch', job.id!, data));
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
