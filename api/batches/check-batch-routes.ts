import { MAX_BATCH_NUMBERS } from '../../shared/batches/check-batch-jobs.js';
import { AppError } from '../../shared/errors.js';
import { RESPONSE_SENT, type ApiRouter } from '../http/api-router.js';
import type { SessionAccess } from '../sessions/session-access.js';
import { CHECK_BATCH_BODY_LIMITS } from './check-batch-body.js';
import { batchOptionsOf } from './check-batch-input.js';
import type { CheckBatchService } from './check-batch-service.js';
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
  CreateCheckBatchQuery,
  ListCheckBatchesQuery,
  PooledBatchJsonBody,
} from './check-batch-schemas.js';
import type { CheckBatchStore, StoredBatch } from './check-batch-store.js';
import { streamCsv } from './check-batch-csv.js';

export interface CheckBatchRouteDeps {
  sessions: SessionAccess;
  service: CheckBatchService;
  store: CheckBatchStore;
}

export const BATCH_NOTE = `A batch runs on the workers that hold its sessions' WhatsApp connections, a chunk of numbers per WhatsApp query, each session paced by its own rate limit (BATCH_RATE_PER_MINUTE numbers a minute, and BATCH_DAILY_LIMIT a day when set) so the account is not banned. Numbers the answer cache knows (answered within CHECK_CACHE_TTL, or within maxAgeSeconds when given) are answered at once without asking WhatsApp. Brazilian, Mexican and Argentine numbers not found are asked again in their other national form; matchedAs says which form WhatsApp knows. Results are stored as they arrive. While no session is connected the batch waits (\`waitingForSession: true\`) and resumes by itself.`;

/** Must be registered before the stored `/contacts/{lid}` and live `/contacts/{jid}/…` routes. */
export function registerCheckBatchRoutes(api: ApiRouter, deps: CheckBatchRouteDeps): void {
  const pathOf = (sessionId: string, id: string) => `/api/v1/sessions/${sessionId}/contacts/check-batch/${id}`;

  const requireBatch = async (organizationId: string, sessionId: string, id: string): Promise<StoredBatch> => {
    const session = await deps.sessions.require(organizationId, sessionId);
    return deps.service.require({ organizationId, sessionId: session.id }, id);
  };

  api.add({
    method: 'post',
    path: '/api/v1/sessions/{session}/contacts/check-batch',
    operationId: 'createCheckBatch',
    summary: 'Check many phone numbers (bulk batch)',
    description: `Starts a batch checking up to ${MAX_BATCH_NUMBERS.toLocaleString('en')} phone numbers through this session (POST /api/v1/check-batches spreads a batch over several sessions). Send {"phones": [...]} or a bare JSON array as application/json, or one number per line as text/csv or text/plain (an optional header line \`phone\`). Numbers must carry their country code; they are validated against their country's numbering plan, normalised to E.164 digits and de-duplicated; an entry that is not a valid phone number gets its own \`invalid\` result row with the \`reason\` and never fails the batch. Answers 202 at once with the batch id (and its URL in Location); follow progress with GET. ${BATCH_NOTE}`,
    tags: ['Contacts'],
    capability: 'read',
    params: CheckBatchSessionPath,
    query: CreateCheckBatchQuery,
    bodyLimits: CHECK_BATCH_BODY_LIMITS,
    success: { status: 202, description: 'The batch is stored and queued.', schema: CheckBatchCreated },
    errors: ['validation_error', 'not_found', 'rate_limited'],
    handler: async ({ params, query, principal, req, res }) => {
      const session = await deps.sessions.require(principal.organizationId, params.session);
      const options = batchOptionsOf(req.body, query);
      if (options.sessions !== undefined)
        throw new AppError('validation_error', 'invalid parameter: sessions', {
          sessions: "a batch on a session's route uses that session; POST /api/v1/check-batches takes sessions",
        });
      const batch = await deps.service.create(principal, session.id, [session.id], req.body, options);
      res.setHeader('Location', pathOf(session.id, batch.id));
      return { id: batch.id, status: batch.status, total: batch.total };
    },
  });

  api.add({
    method: 'get',
    path: '/api/v1/sessions/{session}/contacts/check-batch',
    operationId: 'listCheckBatches',
    summary: "List a session's number-check batches",
    description:
      "The batches created on this session's route, newest first, cursor-paged (GET /api/v1/check-batches lists every batch of the organization, pooled ones included).",
    tags: ['Contacts'],
    capability: 'read',
    params: CheckBatchSessionPath,
    query: ListCheckBatchesQuery,
    success: { status: 200, description: 'One page of batches.', schema: CheckBatchPage },
    errors: ['validation_error', 'not_found'],
    handler: async ({ params, query, principal }) => {
      const session = await deps.sessions.require(principal.organizationId, params.session);
      return deps.service.list(
        { organizationId: principal.organizationId, sessionId: session.id },
        query.cursor,
        query.limit,
      );
    },
  });

  api.add({
    method: 'get',
    path: '/api/v1/sessions/{session}/contacts/check-batch/{id}',
    operationId: 'getCheckBatch',
    summary: 'Get the status and progress of a number-check batch',
    description: `Status, progress (done / total), counts, what each session did, what the batch waits for, timestamps and an ETA. ${BATCH_NOTE}`,
    tags: ['Contacts'],
    capability: 'read',
    params: CheckBatchPath,
    success: { status: 200, description: 'The batch.', schema: CheckBatchView },
    errors: ['validation_error', 'not_found'],
    handler: async ({ params, principal }) =>
      deps.service.view(await requireBatch(principal.organizationId, params.session, params.id), Date.now()),
  });

  api.add({
    method: 'get',
    path: '/api/v1/sessions/{session}/contacts/check-batch/{id}/results',
    operationId: 'getCheckBatchResults',
    summary: "Get a batch's results",
    description: RESULTS_DESCRIPTION,
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
        return RESPONSE_SENT;
      }
      return deps.service.results(batch, query.status, query.cursor, query.limit);
    },
  });

  api.add({
    method: 'delete',
    path: '/api/v1/sessions/{session}/contacts/check-batch/{id}',
    operationId: 'cancelCheckBatch',
    summary: 'Cancel a number-check batch',
    description: CANCEL_DESCRIPTION,
    tags: ['Contacts'],
    capability: 'read',
    params: CheckBatchPath,
    success: { status: 204, description: 'Cancelled; empty body.' },
    errors: ['validation_error', 'not_found', 'conflict'],
    handler: async ({ params, principal }) => {
      await deps.service.cancel(await requireBatch(principal.organizationId, params.session, params.id), principal);
      return undefined;
    },
  });

  documentContentTypes(api);
}

export const RESULTS_DESCRIPTION =
  'One row per distinct number (and per distinct invalid entry), in input order; rows not checked yet are `pending`. Each row says when WhatsApp gave its answer (`checkedAt`), whether it came from the answer cache (`cached`), which form of the number WhatsApp knows (`matchedAs`) and why an entry is invalid (`reason`). Cursor-paged JSON by default; with `Accept: text/csv` every row (of the status filter, if given) as one CSV download, ignoring limit and cursor.';

export const CANCEL_DESCRIPTION =
  'Stops the batch: no further number is checked (a chunk already sent to WhatsApp is still recorded). Results so far stay readable; unchecked rows stay `pending`. Needs `read` and either `send` or to be the API key (or login subject) that created the batch. 409 `conflict` when the batch already completed, failed or was cancelled.';

/**
 * ApiRouter documents JSON bodies and one schema for every response type; these two routes also
 * speak CSV, so their entries are completed here (same declarations, just more media types).
 */
export function documentContentTypes(api: ApiRouter): void {
  for (const definition of api.registry.definitions) {
    if (definition.type !== 'route') continue;
    const { route } = definition;
    if (route.operationId === 'createCheckBatch' || route.operationId === 'createPooledCheckBatch') {
      const json = route.operationId === 'createCheckBatch' ? CheckBatchJsonBody : PooledBatchJsonBody;
      route.request = {
        ...route.request,
        body: {
          required: true,
          content: {
            'application/json': { schema: json },
            'text/csv': { schema: CheckBatchCsvBody },
            'text/plain': { schema: CheckBatchCsvBody },
          },
        },
      };
      const created = route.responses['202'];
      if (created && !('$ref' in created))
        created.headers = { Location: { description: 'URL of the new batch.', schema: { type: 'string' } } };
    }
    if (route.operationId === 'getCheckBatchResults' || route.operationId === 'getPooledCheckBatchResults') {
      const ok = route.responses['200'];
      if (ok && !('$ref' in ok))
        ok.content = {
          'application/json': { schema: CheckBatchResultPage },
          'text/csv': { schema: CheckBatchResultsCsv },
        };
    }
  }
}
