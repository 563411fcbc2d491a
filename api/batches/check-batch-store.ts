import type { DataSource } from 'typeorm';
import { FINAL_BATCH_STATUSES, type BatchStatus, type NumberStatus } from '../../shared/batches/check-batch-jobs.js';
import { AppError } from '../../shared/errors.js';
import { EVERY_ORGANIZATION, type OrganizationScope } from '../auth/organization-scope.js';
import { ulid } from '../../shared/ids.js';
import type { BatchInputRow } from './check-batch-input.js';

export interface StoredBatch {
  id: string;
  sessionId: string;
  status: BatchStatus;
  waitingForSession: boolean;
  total: number;
  done: number;
  onWhatsApp: number;
  notOnWhatsApp: number;
  invalid: number;
  errorCode: string | null;
  errorMessage: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Who created it (`api_key:<id>` or `jwt:<sub>`); null when unknown. */
  createdBy: string | null;
}

/** Who creates a batch, and the cap on the numbers their organization may have waiting. */
export interface BatchCreator {
  organizationId: string;
  ref: string | null;
  /** Most numbers of the organization's unfinished batches still unchecked, this batch included; 0 = no cap. */
  maxPending: number;
}

export interface StoredResult {
  seq: number;
  phone: string;
  normalized: string | null;
  status: NumberStatus;
  jid: string | null;
  lid: string | null;
  checkedAt: number | null;
}

interface BatchRow {
  id: string;
  session_id: string;
  status: BatchStatus;
  waiting_for_session: number;
  total: number;
  done: number;
  on_whatsapp: number;
  not_on_whatsapp: number;
  invalid: number;
  error_code: string | null;
  error_message: string | null;
  created_at: number | string;
  started_at: number | string | null;
  finished_at: number | string | null;
  created_by: string | null;
}

/** Rows per INSERT statement: large enough to be fast, small enough for any max_allowed_packet. */
const INSERT_ROWS = 2_000;
const BATCH_COLUMNS = `id, session_id, status, waiting_for_session, total, done, on_whatsapp, not_on_whatsapp, invalid, error_code, error_message, created_at, started_at, finished_at, created_by`;
/** When a batch is refused for the pending cap: numbers get checked (and cancels land) within about this long. */
const PENDING_CAP_RETRY_S = 60;
const nullableNumber = (v: number | string | null) => (v === null ? null : Number(v));

export const newBatchId = () => `batch_${ulid()}`;

/** The api's side of bulk checks in MySQL: create a batch with its numbers, read progress and results, cancel. */
export class CheckBatchStore {
  constructor(private readonly db: DataSource) {}

  /**
   * Stores the batch and every input row in one transaction, so a batch is either complete or
   * absent. Invalid entries are answered at once; a batch of nothing but invalid entries is
   * completed on creation. Refused with 429 when it would take the organization's unchecked
   * numbers over the cap: checked under a lock on the organization's row, so batches created at
   * the same moment cannot pass it together.
   */
  async create(sessionId: string, rows: BatchInputRow[], creator: BatchCreator): Promise<StoredBatch> {
    const id = newBatchId();
    const now = Date.now();
    const invalid = rows.filter((r) => r.normalized === null).length;
    const status: BatchStatus = invalid === rows.length ? 'completed' : 'queued';
    await this.db.transaction(async (tx) => {
      const requested = rows.length - invalid;
      if (creator.maxPending > 0 && requested > 0) {
        await tx.query('SELECT id FROM organizations WHERE id = ? FOR UPDATE', [creator.organizationId]);
        const [{ pending }] = (await tx.query(
          `SELECT COALESCE(SUM(b.total - b.done), 0) AS pending FROM check_batches b JOIN wa_sessions s ON s.id = b.session_id
            WHERE s.organization_id = ? AND b.status IN ('queued', 'running')`,
          [creator.organizationId],
        )) as [{ pending: number | string }];
        if (Number(pending) + requested > creator.maxPending) {
          throw new AppError(
            'rate_limited',
            `your organization has ${Number(pending)} numbers waiting to be checked; this batch would add ${requested}, over the cap of ${creator.maxPending} (BATCH_MAX_PENDING_PER_ORG). Wait for batches to finish or cancel some`,
            { limit: creator.maxPending, pending: Number(pending), requested, retryAfterSeconds: PENDING_CAP_RETRY_S },
          );
        }
      }
      await tx.query(
        `INSERT INTO check_batches (id, session_id, status, total, done, invalid, created_at, updated_at, finished_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [id, sessionId, status, rows.length, invalid, invalid, now, now, status === 'completed' ? now : null, creator.ref],
      );
      for (let start = 0; start < rows.length; start += INSERT_ROWS) {
        const slice = rows.slice(start, start + INSERT_ROWS);
        const args: unknown[] = [];
        slice.forEach((row, i) => {
          const valid = row.normalized !== null;
          args.push(id, start + i + 1, row.phone, row.normalized, valid ? 'pending' : 'invalid', valid ? null : now);
        });
        await tx.query(`INSERT INTO check_batch_numbers (batch_id, seq, phone, normalized, status, checked_at) VALUES ${slice.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')}`, args);
      }
    });
    return (await this.get(sessionId, id))!;
  }

  async get(sessionId: string, id: string): Promise<StoredBatch | undefined> {
    const [row] = (await this.db.query(`SELECT ${BATCH_COLUMNS} FROM check_batches WHERE id = ? AND session_id = ?`, [id, sessionId])) as BatchRow[];
    return row && toBatch(row);
  }

  /** Newest first; `beforeId` is the last id of the previous page (ids sort by creation time). */
  async list(sessionId: string, beforeId: string | undefined, limit: number): Promise<{ rows: StoredBatch[]; hasMore: boolean }> {
    const rows = (await this.db.query(
      `SELECT ${BATCH_COLUMNS} FROM check_batches WHERE session_id = ? ${beforeId ? 'AND id < ?' : ''} ORDER BY id DESC LIMIT ?`,
      beforeId ? [sessionId, beforeId, limit + 1] : [sessionId, limit + 1],
    )) as BatchRow[];
    return { rows: rows.slice(0, limit).map(toBatch), hasMore: rows.length > limit };
  }

  /**
   * Batches of every session in scope, newest first: the unfinished ones (`running`: queued or
   * running) or the finished ones. For the console; the API lists one session's batches.
   */
  async acrossSessions(scope: OrganizationScope, running: boolean, limit: number): Promise<(StoredBatch & { organizationId: string })[]> {
    const statuses = running ? ['queued', 'running'] : FINAL_BATCH_STATUSES;
    const args: unknown[] = [...statuses];
    let organization = '';
    if (scope !== EVERY_ORGANIZATION) {
      organization = 'AND s.organization_id = ?';
      args.push(scope);
    }
    const rows = (await this.db.query(
      `SELECT ${BATCH_COLUMNS.split(', ').map((c) => `b.${c}`).join(', ')}, s.organization_id FROM check_batches b JOIN wa_sessions s ON s.id = b.session_id
        WHERE b.status IN (${statuses.map(() => '?').join(', ')}) ${organization} ORDER BY b.id DESC LIMIT ?`,
      [...args, limit],
    )) as (BatchRow & { organization_id: string })[];
    return rows.map((row) => ({ ...toBatch(row), organizationId: row.organization_id }));
  }

  /** Result rows in input order after `afterSeq`; one extra row is read to know whether more follow. */
  async results(batchId: string, afterSeq: number, limit: number, status: NumberStatus | undefined): Promise<{ rows: StoredResult[]; hasMore: boolean }> {
    const rows = (await this.db.query(
      `SELECT seq, phone, normalized, status, jid, lid, checked_at FROM check_batch_numbers
        WHERE batch_id = ? ${status ? 'AND status = ?' : ''} AND seq > ? ORDER BY seq LIMIT ?`,
      status ? [batchId, status, afterSeq, limit + 1] : [batchId, afterSeq, limit + 1],
    )) as { seq: number; phone: string; normalized: string | null; status: NumberStatus; jid: string | null; lid: string | null; checked_at: number | string | null }[];
    return {
      rows: rows.slice(0, limit).map((r) => ({ seq: Number(r.seq), phone: r.phone, normalized: r.normalized, status: r.status, jid: r.jid, lid: r.lid, checkedAt: nullableNumber(r.checked_at) })),
      hasMore: rows.length > limit,
    };
  }

  /** True when the batch was unfinished and is now cancelled. */
  async cancel(sessionId: string, id: string): Promise<boolean> {
    const now = Date.now();
    const result = (await this.db.query(
      `UPDATE check_batches SET status = 'cancelled', waiting_for_session = 0, finished_at = ?, updated_at = ?
        WHERE id = ? AND session_id = ? AND status IN ('queued', 'running')`,
      [now, now, id, sessionId],
    )) as { affectedRows: number };
    return result.affectedRows === 1;
  }
}

function toBatch(row: BatchRow): StoredBatch {
  return {
    id: row.id,
    sessionId: row.session_id,
    status: row.status,
    waitingForSession: Number(row.waiting_for_session) === 1,
    total: Number(row.total),
    done: Number(row.done),
    onWhatsApp: Number(row.on_whatsapp),
    notOnWhatsApp: Number(row.not_on_whatsapp),
    invalid: Number(row.invalid),
    errorCode: row.error_code,
    errorMessage: row.error_message,
    createdAt: Number(row.created_at),
    startedAt: nullableNumber(row.started_at),
    finishedAt: nullableNumber(row.finished_at),
    createdBy: row.created_by,
  };
}
