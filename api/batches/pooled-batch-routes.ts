import { MAX_BATCH_NUMBERS, MAX_POOL_SESSIONS } from '../../shared/batches/check-batch-jobs.js';
import { AppError } from '../../shared/errors.js';
import { RESPONSE_SENT, type ApiRouter } from '../http/api-router.js';
import { batchOptionsOf } from './check-batch-input.js';
import { CHECK_BATCH_BODY_LIMITS } from './check-batch-body.js';
import { streamCsv } from './check-batch-csv.js';
import { BATCH_NOTE, CANCEL_DESCRIPTION, RESULTS_DESCRIPTION } from './check-batch-routes.js';
import type { CheckBatchService } from './check-batch-service.js';
import {
  CheckBatchCreated,
  CheckBatchPage,
  CheckBatchResultPage,
  CheckBatchResultsQuery,
  CheckBatchView,
  CreatePooledBatchQuery,
  ListCheckBatchesQuery,
  PooledBatchPath,
} from './check-batch-schemas.js';
import type { CheckBatchStore } from './check-batch-store.js';

export interface PooledBatchRouteDeps {
  service: CheckBatchService;
  store: CheckBatchStore;
}

/**
 * The organization's batches under /api/v1/check-batches: creating a batch checked through a pool
 * of its sessions, and reading or cancelling any of its batches (pooled or created on a session's
 * route). Another organization's batch is a 404 like a missing one.
 */
export function registerPooledBatchRoutes(api: ApiRouter, deps: PooledBatchRouteDeps): void {
  api.add({
    method: 'post',
    path: '/api/v1/check-batches',
    operationId: 'createPooledCheckBatch',
    summary: 'Check many phone numbers through several sessions (pooled bulk batch)',
    description: `Starts a batch checking up to ${MAX_BATCH_NUMBERS.toLocaleString('en')} phone numbers through 1–${MAX_POOL_SESSIONS} sessions of your organization: {"phones": [...], "sessions": [...]} as application/json, or one number per line as text/csv or text/plain with \`?sessions=a,b\`. Chunks go to whichever of the sessions are connected, each paced by its own rate limit, so N sessions check about N times as fast; a session that goes offline drops out and the others take over its numbers. Any session not of your organization (or unknown) is a 404 \`not_found\` naming it, and nothing is stored. Input rules as for a session's batch. Answers 202 with the batch id (and its URL in Location). ${BATCH_NOTE}`,
    tags: ['Contacts'],
    capability: 'read',
    query: CreatePooledBatchQuery,
    success: { status: 202, description: 'The batch is stored and queued.', schema: CheckBatchCreated },
    bodyLimits: CHECK_BATCH_BODY_LIMITS,
    errors: ['validation_error', 'not_found', 'rate_limited'],
    handler: async ({ query, principal, req, res }) => {
      const options = batchOptionsOf(req.body, query);
      if (options.sessions === undefined)
        throw new AppError('validation_error', 'invalid parameter: sessions', {
          sessions: 'is required: the sessions to check through',
        });
      const batch = await deps.service.create(principal, null, options.sessions, req.body, options);
      res.setHeader('Location', `/api/v1/check-batches/${batch.id}`);
      return { id: batch.id, status: batch.status, total: batch.total };
    },
  });

  api.add({
    method: 'get',
    path: '/api/v1/check-batches',
    operationId: 'listPooledCheckBatches',
    summary: "List the organization's number-check batches",
    description:
      "Every batch of your organization, pooled or created on a session's route, newest first, cursor-paged.",
    tags: ['Contacts'],
    capability: 'read',
    query: ListCheckBatchesQuery,
    success: { status: 200, description: 'One page of batches.', schema: CheckBatchPage },
    errors: ['validation_error'],
    handler: async ({ query, principal }) =>
      deps.service.list({ organizationId: principal.organizationId }, query.cursor, query.limit),
  });

  api.add({
    method: 'get',
    path: '/api/v1/check-batches/{id}',
    operationId: 'getPooledCheckBatch',
    summary: 'Get the status and progress of a number-check batch',
    description: `Status, progress, counts, what each of its sessions did (\`sessions\`), what the batch waits for, timestamps and an ETA. ${BATCH_NOTE}`,
    tags: ['Contacts'],
    capability: 'read',
    params: PooledBatchPath,
    success: { status: 200, description: 'The batch.', schema: CheckBatchView },
    errors: ['validation_error', 'not_found'],
    handler: async ({ params, principal }) =>
      deps.service.view(
        await deps.service.require({ organizationId: principal.organizationId }, params.id),
        Date.now(),
      ),
  });

  api.add({
    method: 'get',
    path: '/api/v1/check-batches/{id}/results',
    operationId: 'getPooledCheckBatchResults',
    summary: "Get a batch's results",
    description: RESULTS_DESCRIPTION,
    tags: ['Contacts'],
    capability: 'read',
    params: PooledBatchPath,
    query: CheckBatchResultsQuery,
    success: { status: 200, description: 'One page of results, or every result as CSV.', schema: CheckBatchResultPage },
    errors: ['validation_error', 'not_found'],
    handler: async ({ params, query, principal, req, res }) => {
      const batch = await deps.service.require({ organizationId: principal.organizationId }, params.id);
      if (req.accepts(['application/json', 'text/csv']) === 'text/csv') {
        await streamCsv(res, batch, query.status, deps.store);
        return RESPONSE_SENT;
      }
      return deps.service.results(batch, query.status, query.cursor, query.limit);
    },
  });

  // Cancelling stops work others may be waiting on: it needs `send`, not just `read`.
  api.add({
    method: 'delete',
    path: '/api/v1/check-batches/{id}',
    operationId: 'cancelPooledCheckBatch',
    summary: 'Cancel a number-check batch',
    description: CANCEL_DESCRIPTION,
    tags: ['Contacts'],
    capability: 'read',
    params: PooledBatchPath,
    success: { status: 204, description: 'Cancelled; empty body.' },
    errors: ['validation_error', 'not_found', 'conflict'],
    handler: async ({ params, principal }) => {
      await deps.service.cancel(
        await deps.service.require({ organizationId: principal.organizationId }, params.id),
        principal,
      );
      return undefined;
    },
  });
}
