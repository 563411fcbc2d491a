import { isFinalBatchStatus, type NumberStatus, type WaitingReason } from '../../shared/batches/check-batch-jobs.js';
import type { CheckAnswerCache } from '../../shared/checks/check-answers.js';
import type { Config } from '../../shared/config.js';
import { AppError } from '../../shared/errors.js';
import { assertCapability } from '../auth/authenticate.js';
import { creatorRef, type Principal } from '../auth/principal.js';
import type { CursorCodec } from '../http/cursor.js';
import type { SessionAccess } from '../sessions/session-access.js';
import { batchRows, entriesOf, type BatchOptions } from './check-batch-input.js';
import type { CheckBatchQueue } from './check-batch-queue.js';
import type { CheckBatchResult, CheckBatchView } from './check-batch-schemas.js';
import type { BatchScope, CheckBatchStore, StoredBatch } from './check-batch-store.js';

export interface CheckBatchServiceDeps {
  sessions: SessionAccess;
  store: CheckBatchStore;
  queue: CheckBatchQueue;
  answers: CheckAnswerCache;
  cursors: CursorCodec;
  batches: Config['batches'];
}

/**
 * Bulk checks as the routes see them, for batches of one session (created on its route) and pooled
 * batches alike: a batch is read within a scope (the organization, or one of its sessions), and a
 * batch outside it is a 404 exactly like a missing one.
 */
export class CheckBatchService {
  constructor(private readonly deps: CheckBatchServiceDeps) {}

  /**
   * Stores a batch checked through `sessions` (each verified to be the organization's), answering
   * at once what the answer cache knows within the requested age, and queues one job per session.
   */
  async create(
    principal: Principal,
    routeSessionId: string | null,
    sessions: string[],
    body: unknown,
    options: BatchOptions,
  ): Promise<StoredBatch> {
    const { organizationId } = principal;
    for (const sessionId of sessions) {
      await this.deps.sessions.require(organizationId, sessionId).catch((err: unknown) => {
        throw err instanceof AppError && err.code === 'not_found'
          ? new AppError('not_found', 'session not found', { session: sessionId })
          : err;
      });
    }
    const rows = batchRows(entriesOf(body));
    const maxAgeMs = this.deps.answers.maxAgeMs(options.maxAgeSeconds);
    const numbers = rows.flatMap((r) => (r.normalized === null ? [] : [r.normalized]));
    const cached = await this.deps.answers.find(organizationId, numbers, maxAgeMs);
    const creator = { organizationId, ref: creatorRef(principal), maxPending: this.deps.batches.maxPendingPerOrg };
    const batch = await this.deps.store.create(creator, routeSessionId, sessions, rows, cached);
    if (!isFinalBatchStatus(batch.status)) await this.deps.queue.enqueue(batch.id, sessions);
    return batch;
  }

  async require(scope: BatchScope, id: string): Promise<StoredBatch> {
    const batch = await this.deps.store.get(scope, id);
    if (!batch) throw new AppError('not_found', 'batch not found', { id });
    return batch;
  }

  async list(
    scope: BatchScope,
    cursor: string | undefined,
    limit: number,
  ): Promise<{ data: CheckBatchView[]; nextCursor: string }> {
    const cursorScope = ['check-batches', scope.organizationId, scope.sessionId ?? ''].join('\u0001');
    const beforeId = cursor ? this.deps.cursors.decode(cursor, cursorScope) : undefined;
    const page = await this.deps.store.list(scope, beforeId, limit);
    const last = page.rows[page.rows.length - 1];
    const now = Date.now();
    return {
      data: page.rows.map((b) => this.view(b, now)),
      nextCursor: page.hasMore && last ? this.deps.cursors.encode(last.id, cursorScope) : '',
    };
  }

  async results(
    batch: StoredBatch,
    status: NumberStatus | undefined,
    cursor: string | undefined,
    limit: number,
  ): Promise<{ data: CheckBatchResult[]; nextCursor: string }> {
    const scope = ['check-batch-results', batch.id, status ?? ''].join('\u0001');
    let afterSeq = 0;
    if (cursor) {
      const position = this.deps.cursors.decode(cursor, scope);
      if (!/^\d{1,10}$/.test(position))
        throw new AppError('validation_error', 'invalid query parameter: cursor', { cursor: 'malformed cursor' });
      afterSeq = Number(position);
    }
    const page = await this.deps.store.results(batch.id, afterSeq, limit, status);
    const last = page.rows[page.rows.length - 1];
    return {
      data: page.rows.map(resultOf),
      nextCursor: page.hasMore && last ? this.deps.cursors.encode(String(last.seq), scope) : '',
    };
  }

  /**
   * Cancelling stops work someone else may be waiting for: it needs `send`, or to be the API key
   * (or login subject) that created the batch. 409 when the batch already completed, failed or was cancelled.
   */
  async cancel(batch: StoredBatch, principal: Principal): Promise<void> {
    const creator = creatorRef(principal);
    if (creator === null || batch.createdBy !== creator) assertCapability(principal, 'send');
    if (!(await this.deps.store.cancel(batch.id))) {
      const now = await this.deps.store.get({ organizationId: batch.organizationId }, batch.id);
      throw new AppError('conflict', `the batch is already ${now?.status ?? batch.status}`, {
        status: now?.status ?? batch.status,
      });
    }
    await this.deps.queue.discard(
      batch.id,
      batch.members.map((m) => m.sessionId),
    );
  }

  view(batch: StoredBatch, now: number): CheckBatchView {
    const waiting = waitingOf(batch);
    return {
      id: batch.id,
      sessionId: batch.sessionId,
      sessions: batch.members.map((m) => ({
        sessionId: m.sessionId,
        checked: m.checked,
        queries: m.queries,
        waitingFor: m.waitingFor,
        resumesAt: m.resumesAt,
      })),
      status: batch.status,
      waitingForSession: waiting.waitingFor === 'session',
      waitingFor: waiting.waitingFor,
      resumesAt: waiting.resumesAt,
      progress: { done: batch.done, total: batch.total },
      counts: { onWhatsApp: batch.onWhatsApp, notOnWhatsApp: batch.notOnWhatsApp, invalid: batch.invalid },
      cached: batch.cached,
      createdAt: batch.createdAt,
      startedAt: batch.startedAt,
      finishedAt: batch.finishedAt,
      eta: waiting.waitingFor === null ? etaOf(batch, this.deps.batches.ratePerMinute, now) : null,
      error: batch.errorCode ? { code: batch.errorCode, message: batch.errorMessage ?? '' } : null,
    };
  }
}

/**
 * An unfinished batch waits when none of its sessions can check: for a session when none is
 * connected, for the daily limit when at least one connected session is capped for the day (it
 * resumes at the earliest of their resume times).
 */
function waitingOf(batch: StoredBatch): { waitingFor: WaitingReason | null; resumesAt: number | null } {
  const none = { waitingFor: null, resumesAt: null };
  if (
    isFinalBatchStatus(batch.status) ||
    batch.members.length === 0 ||
    batch.members.some((m) => m.waitingFor === null)
  )
    return none;
  const capped = batch.members.filter((m) => m.waitingFor === 'daily_limit');
  if (capped.length === 0) return { waitingFor: 'session', resumesAt: null };
  const resumes = capped.flatMap((m) => (m.resumesAt === null ? [] : [m.resumesAt]));
  return { waitingFor: 'daily_limit', resumesAt: resumes.length > 0 ? Math.min(...resumes) : null };
}

/** From the pace observed since the batch started, never faster than its checking sessions' rate limits allow. */
function etaOf(batch: StoredBatch, ratePerMinute: number, now: number): number | null {
  if (isFinalBatchStatus(batch.status)) return null;
  const remaining = batch.total - batch.done;
  if (remaining <= 0) return now;
  const asked = batch.members.reduce((sum, m) => sum + m.checked, 0);
  const elapsed = batch.startedAt === null ? 0 : now - batch.startedAt;
  const checking = Math.max(1, batch.members.filter((m) => m.waitingFor === null).length);
  const speeds: number[] = [];
  if (asked > 0 && elapsed > 0) speeds.push(asked / elapsed);
  if (ratePerMinute > 0) speeds.push((checking * ratePerMinute) / 60_000);
  if (speeds.length === 0) return null;
  return now + Math.ceil(remaining / Math.min(...speeds));
}

function resultOf(row: Awaited<ReturnType<CheckBatchStore['results']>>['rows'][number]): CheckBatchResult {
  return {
    phone: row.phone,
    normalized: row.normalized,
    status: row.status,
    jid: row.jid,
    ...(row.lid ? { lid: row.lid } : {}),
    checkedAt: row.checkedAt,
    cached: row.cached,
    matchedAs: row.matchedAs,
    reason: row.reason as CheckBatchResult['reason'],
  };
}
