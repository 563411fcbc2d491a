import { isFinalBatchStatus, MAX_BATCH_NUMBERS } from '../../shared/batches/check-batch-jobs.js';
import type { Config } from '../../shared/config.js';
import { AppError } from '../../shared/errors.js';
import type { ApiRouter } from '../http/api-router.js';
import type { CursorCodec } from '../http/cursor.js';
import { cursorPage, idPosition, integerPosition } from '../http/paging.js';
import type { SessionAccess } from '../sessions/session-access.js';
import { assertCapability } from '../auth/authenticate.js';
import { creatorRef } from '../auth/principal.js';
import { CHECK_BATCH_BODY_LIMITS } from './check-batch-body.js';
import { batchRows, entriesOf } from './check-batch-input.js';
import { streamCsv } from './check-batch-csv.js';
import type { CheckBatchQueue } from './check-batch-queue.js';
import {
  CheckBatchCreated,
  CheckBatchCsvBody,
  CheckBatchJsonBody,
  CheckBatchPage,
  CheckBatchPath,
  CheckBatchResultPage,
  CheckBatchResultsCsv,
  CheckBatchResultsQuery,
  CheckBatchSessionPath,
  CheckBatchView,
  ListCheckBatchesQuery,
  type CheckBatchResult,
} from './check-batch-schemas.js';
import type { CheckBatchStore, StoredBatch, StoredResult } from './check-batch-store.js';

export interface CheckBatchRouteDeps {
  sessions: SessionAccess;
  store: CheckBatchStore;
  queue: CheckBatchQueue;
  cursors: CursorCodec;
  batches: Config['batches'];
}

const SEQ_POSITION = integerPosition(10);

const BATCH_NOTE = `A batch runs on the worker that holds the session's WhatsApp connection, a chunk of numbers per WhatsApp query, paced by a per-session rate limit (BATCH_RATE_PER_MINUTE numbers a minute) so the account is not banned. Results are stored as they arrive. While the session is disconnected the batch waits (\`waitingForSession: true\`) and resumes by itself.`;

/** Must be registered before the stored `/contacts/{lid}` and live `/contacts/{jid}/…` routes. */
export function registerCheckBatchRoutes(api: ApiRouter, deps: CheckBatchRouteDeps): void {
  const pathOf = (sessionId: string, id: string) => `/api/v1/sessions/${sessionId}/contacts/check-batch/${id}`;

  const requireBatch = async (organizationId: string, sessionId: string, id: string): Promise<StoredBatch> => {
    const session = await deps.sessions.require(organizationId, sessionId);
    const batch = await deps.store.get(session.id, id);
    if (!batch) throw new AppError('not_found', 'batch not found', { id });
    return batch;
  };

  api.add({
    method: 'post',
    path: '/api/v1/sessions/{session}/contacts/check-batch',
    operationId: 'createCheckBatch',
    summary: 'Check many phone numbers (bulk batch)',
    description: `Starts a batch checking up to ${MAX_BATCH_NUMBERS.toLocaleString('en')} phone numbers. Send {"phones": [...]} or a bare JSON array as application/json, or one number per line as text/csv or text/plain (an optional header line \`phone\`). Numbers are normalised to E.164 digits and de-duplicated; an entry that is not a phone number gets its own \`invalid\` result row and never fails the batch. Answers 202 at once with the batch id (and its URL in Location); follow progress with GET. ${BATCH_NOTE}`,
    tags: ['Contacts'],
    capability: 'read',
    params: CheckBatchSessionPath,
    bodyLimits: CHECK_BATCH_BODY_LIMITS,
    success: { status: 202, description: 'The batch is stored and queued.', schema: CheckBatchCreated },
    errors: ['validation_error', 'not_found', 'rate_limited'],
    handler: async ({ params, principal, req, res }) => {
      const session = await deps.sessions.require(principal.organizationId, params.session);
      const rows = batchRows(entriesOf(req.body));
      const batch = await deps.store.create(session.id, rows, { organizationId: principal.organizationId, ref: creatorRef(principal), maxPending: deps.batches.maxPendingPerOrg });
      if (!isFinalBatchStatus(batch.status)) await deps.queue.enqueue(batch.id, session.id);
      res.setHeader('Location', pathOf(session.id, batch.id));
      return { id: batch.id, status: batch.status, total: batch.total };
    },
  });

  api.add({
    method: 'get',
    path: '/api/v1/sessions/{session}/contacts/check-batch',
    operationId: 'listCheckBatches',
    summary: "List a session's number-check batches",
    description: 'Newest first, cursor-paged.',
    tags: ['Contacts'],
    capability: 'read',
    params: CheckBatchSessionPath,
    query: ListCheckBatchesQuery,
    success: { status: 200, description: 'One page of batches.', schema: CheckBatchPage },
    errors: ['validation_error', 'not_found'],
    handler: async ({ params, query, principal }) => {
      const session = await deps.sessions.require(principal.organizationId, params.session);
      const page = await cursorPage(deps.cursors, {
        scope: ['check-batches', session.id],
        cursor: query.cursor,
        position: idPosition,
        read: async (beforeId) => {
          const stored = await deps.store.list(session.id, beforeId, query.limit);
          return { ...stored, last: stored.rows[stored.rows.length - 1]?.id };
        },
      });
      const now = Date.now();
      return { data: page.data.map((b) => viewOf(b, deps.batches.ratePerMinute, now)), nextCursor: page.nextCursor };
    },
  });

  api.add({
    method: 'get',
    path: '/api/v1/sessions/{session}/contacts/check-batch/{id}',
    operationId: 'getCheckBatch',
    summary: 'Get the status and progress of a number-check batch',
    description: `Status, progress (done / total), counts, timestamps and an ETA. ${BATCH_NOTE}`,
    tags: ['Contacts'],
    capability: 'read',
    params: CheckBatchPath,
    success: { status: 200, description: 'The batch.', schema: CheckBatchView },
    errors: ['validation_error', 'not_found'],
    handler: async ({ params, principal }) => viewOf(await requireBatch(principal.organizationId, params.session, params.id), deps.batches.ratePerMinute, Date.now()),
  });

  api.add({
    method: 'get',
    path: '/api/v1/sessions/{session}/contacts/check-batch/{id}/results',
    operationId: 'getCheckBatchResults',
    summary: "Get a batch's results",
    description:
      'One row per distinct number (and per distinct invalid entry), in input order; rows not checked yet are `pending`. Cursor-paged JSON by default; with `Accept: text/csv` every row (of the status filter, if given) as one CSV download, ignoring limit and cursor.',
    tags: ['Contacts'],
    capability: 'read',
    params: CheckBatchPath,
    query: CheckBatchResultsQuery,
    success: { status: 200, description: 'One page of results, or every result as CSV.', schema: CheckBatchResultPage },
    errors: ['validation_error', 'not_found'],
    handler: async ({ params, query, principal, req, res }) => {
      const batch = await requireBatch(principal.organizationId, params.session, params.id);
      if (req.accepts(['application/json', 'text/csv']) === 'text/csv') {
        await streamCsv(res, batch, query.status, deps.store);
        return undefined;
      }
      const page = await cursorPage(deps.cursors, {
        scope: ['check-batch-results', batch.id, query.status],
        cursor: query.cursor,
        position: SEQ_POSITION,
        read: async (afterSeq) => {
          const stored = await deps.store.results(batch.id, afterSeq ?? 0, query.limit, query.status);
          return { ...stored, last: stored.rows[stored.rows.length - 1]?.seq };
        },
      });
      return { data: page.data.map(resultOf), nextCursor: page.nextCursor };
    },
  });

  api.add({
    method: 'delete',
    path: '/api/v1/sessions/{session}/contacts/check-batch/{id}',
    operationId: 'cancelCheckBatch',
    summary: 'Cancel a number-check batch',
    description:
      'Stops the batch: no further number is checked (a chunk already sent to WhatsApp is still recorded). Results so far stay readable; unchecked rows stay `pending`. Needs `read` and either `send` or to be the API key (or login subject) that created the batch. 409 `conflict` when the batch already completed, failed or was cancelled.',
    tags: ['Contacts'],
    capability: 'read',
    params: CheckBatchPath,
    success: { status: 204, description: 'Cancelled; empty body.' },
    errors: ['validation_error', 'not_found', 'conflict'],
    handler: async ({ params, principal }) => {
      const batch = await requireBatch(principal.organizationId, params.session, params.id);
      const creator = creatorRef(principal);
      if (creator === null || batch.createdBy !== creator) assertCapability(principal, 'send');
      if (!(await deps.store.cancel(batch.sessionId, batch.id))) {
        const now = await deps.store.get(batch.sessionId, batch.id);
        throw new AppError('conflict', `the batch is already ${now?.status ?? batch.status}`, { status: now?.status ?? batch.status });
      }
      await deps.queue.discard(batch.id, batch.sessionId);
      return undefined;
    },
  });

  documentContentTypes(api);
}

/**
 * ApiRouter documents JSON bodies and one schema for every response type; these two routes also
 * speak CSV, so their entries are completed here (same declarations, just more media types).
 */
function documentContentTypes(api: ApiRouter): void {
  for (const definition of api.registry.definitions) {
    if (definition.type !== 'route') continue;
    const { route } = definition;
    if (route.operationId === 'createCheckBatch') {
      route.request = {
        ...route.request,
        body: {
          required: true,
          content: { 'application/json': { schema: CheckBatchJsonBody }, 'text/csv': { schema: CheckBatchCsvBody }, 'text/plain': { schema: CheckBatchCsvBody } },
        },
      };
      const created = route.responses['202'];
      if (created && !('$ref' in created)) created.headers = { Location: { description: 'URL of the new batch.', schema: { type: 'string' } } };
    }
    if (route.operationId === 'getCheckBatchResults') {
      const ok = route.responses['200'];
      if (ok && !('$ref' in ok)) ok.content = { 'application/json': { schema: CheckBatchResultPage }, 'text/csv': { schema: CheckBatchResultsCsv } };
    }
  }
}

function viewOf(batch: StoredBatch, ratePerMinute: number, now: number): CheckBatchView {
  return {
    id: batch.id,
    sessionId: batch.sessionId,
    status: batch.status,
    waitingForSession: batch.waitingForSession,
    progress: { done: batch.done, total: batch.total },
    counts: { onWhatsApp: batch.onWhatsApp, notOnWhatsApp: batch.notOnWhatsApp, invalid: batch.invalid },
    createdAt: batch.createdAt,
    startedAt: batch.startedAt,
    finishedAt: batch.finishedAt,
    eta: etaOf(batch, ratePerMinute, now),
    error: batch.errorCode ? { code: batch.errorCode, message: batch.errorMessage ?? '' } : null,
  };
}

/** From the pace observed since the batch started, never faster than the configured rate limit. */
function etaOf(batch: StoredBatch, ratePerMinute: number, now: number): number | null {
  if (isFinalBatchStatus(batch.status) || batch.waitingForSession) return null;
  const remaining = batch.total - batch.done;
  if (remaining <= 0) return now;
  const checked = batch.onWhatsApp + batch.notOnWhatsApp;
  const elapsed = batch.startedAt === null ? 0 : now - batch.startedAt;
  const speeds: number[] = [];
  if (checked > 0 && elapsed > 0) speeds.push(checked / elapsed);
  if (ratePerMinute > 0) speeds.push(ratePerMinute / 60_000);
  if (speeds.length === 0) return null;
  return now + Math.ceil(remaining / Math.min(...speeds));
}

function resultOf(row: StoredResult): CheckBatchResult {
  return {
    phone: row.phone,
    normalized: row.normalized,
    status: row.status,
    jid: row.jid,
    ...(row.lid ? { lid: row.lid } : {}),
    checkedAt: row.checkedAt,
  };
}
