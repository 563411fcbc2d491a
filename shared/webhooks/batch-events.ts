import type { EventData, NewEvent } from './events.js';
import { writeEvents, type TxQuery } from './outbox.js';

interface BatchRow {
  /** The batch's own session, or for a pooled batch its first session (events are numbered per session). */
  session_id: string | null;
  /** Null for a pooled batch (POST /api/v1/check-batches). */
  route_session_id: string | null;
  status: EventData<'check_batch.progress'>['status'];
  total: number;
  done: number;
  on_whatsapp: number;
  not_on_whatsapp: number;
  invalid: number;
  error_code: string | null;
  error_message: string | null;
  finished_at: number | string | null;
}

/**
 * Writes a check_batch event from the batch row as the caller's transaction sees it: `progress`,
 * or the event of the final status it has just been given (completed, failed, cancelled).
 * Used by the worker (progress, completion, failure) and the api (cancel, a batch finished on creation).
 */
export async function writeBatchEvent(
  query: TxQuery,
  batchId: string,
  kind: 'progress' | 'finished',
  publicUrl: string | undefined,
): Promise<void> {
  const [row] = (await query(
    `SELECT COALESCE(b.session_id, (SELECT m.session_id FROM check_batch_sessions m WHERE m.batch_id = b.id ORDER BY m.position LIMIT 1)) AS session_id,
            b.session_id AS route_session_id, status, total, done, on_whatsapp, not_on_whatsapp, invalid, error_code, error_message, finished_at FROM check_batches b WHERE b.id = ?`,
    [batchId],
  )) as BatchRow[];
  if (!row || row.session_id === null) return;
  const data: EventData<'check_batch.progress'> = {
    batchId,
    status: row.status,
    progress: { done: Number(row.done), total: Number(row.total) },
    counts: {
      onWhatsApp: Number(row.on_whatsapp),
      notOnWhatsApp: Number(row.not_on_whatsapp),
      invalid: Number(row.invalid),
    },
    resultsUrl: `${publicUrl ?? ''}${row.route_session_id === null ? `/api/v1/check-batches/${batchId}` : `/api/v1/sessions/${row.route_session_id}/contacts/check-batch/${batchId}`}/results`,
    error: row.error_code ? { code: row.error_code, message: row.error_message ?? '' } : null,
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
  };
  let event: NewEvent;
  if (kind === 'progress') event = { type: 'check_batch.progress', data };
  else if (row.status === 'completed' || row.status === 'failed' || row.status === 'cancelled')
    event = { type: `check_batch.${row.status}`, data };
  else return;
  await writeEvents(query, row.session_id, [event]);
}
