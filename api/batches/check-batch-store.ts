import type { DataSource } from 'typeorm';
import {
  FINAL_BATCH_STATUSES,
  type BatchStatus,
  type NumberStatus,
  type WaitingReason,
} from '../../shared/batches/check-batch-jobs.js';
import type { CheckAnswer } from '../../shared/checks/check-answers.js';
import { AppError } from '../../shared/errors.js';
import { EVERY_ORGANIZATION, type OrganizationScope } from '../auth/organization-scope.js';
import { ulid } from '../../shared/ids.js';
import { writeBatchEvent } from '../../shared/webhooks/batch-events.js';
import type { BatchInputRow } from './check-batch-input.js';

/** One of the sessions a batch is checked through, and what it did. */
export interface StoredMember {
  sessionId: string;
  checked: number;
  queries: number;
  waitingFor: WaitingReason | null;
  resumesAt: number | null;
}

export interface StoredBatch {
  id: string;
  organizationId: string;
  /** Set for a batch created on a session's route; null for a pooled one. */
  sessionId: string | null;
  members: StoredMember[];
  status: BatchStatus;
  total: number;
  done: number;
  onWhatsApp: number;
  notOnWhatsApp: number;
  invalid: number;
  cached: number;
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
  matchedAs: string | null;
  reason: string | null;
  cached: boolean;
  checkedAt: number | null;
}

/** Which batches a caller may see: all of an organization's, or those created on one of its sessions. */
/** Which batches a read may see: an organization's (or, on the console for operators, every organization's), optionally one session's. */
export type BatchScope = { organizationId: OrganizationScope; sessionId?: string };

interface BatchRow {
  id: string;
  organization_id: string;
  session_id: string | null;
  status: BatchStatus;
  total: number;
  done: number;
  on_whatsapp: number;
  not_on_whatsapp: number;
  invalid: number;
  cached: number;
  error_code: string | null;
  error_message: string | null;
  created_at: number | string;
  started_at: number | string | null;
  finished_at: number | string | null;
  created_by: string | null;
}

interface MemberRow {
  batch_id: string;
  session_id: string;
  checked: number;
  queries: number;
  waiting_for: WaitingReason | null;
  resumes_at: number | string | null;
}

/** Rows per INSERT statement: large enough to be fast, small enough for any max_allowed_packet. */
const INSERT_ROWS = 2_000;
const BATCH_COLUMNS = `id, organization_id, session_id, status, total, done, on_whatsapp, not_on_whatsapp, invalid, cached, error_code, error_message, created_at, started_at, finished_at, created_by`;
/** When a batch is refused for the pending cap: numbers get checked (and cancels land) within about this long. */
const PENDING_CAP_RETRY_S = 60;
const nullableNumber = (v: number | string | null) => (v === null ? null : Number(v));

export const newBatchId = () => `batch_${ulid()}`;

function scopeSql(scope: BatchScope): { sql: string; args: string[] } {
  const sql: string[] = [];
  const args: string[] = [];
  if (scope.organizationId !== EVERY_ORGANIZATION) {
    sql.push('organization_id = ?');
    args.push(scope.organizationId);
  }
  if (scope.sessionId !== undefined) {
    sql.push('session_id = ?');
    args.push(scope.sessionId);
  }
  return { sql: sql.length > 0 ? sql.join(' AND ') : 'TRUE', args };
}

/** The api's side of bulk checks in MySQL: create a batch with its numbers, read progress and results, cancel. */
export class CheckBatchStore {
  constructor(
    private readonly db: DataSource,
    /** Put before the results path in webhook events (PUBLIC_URL). */
    private readonly publicUrl: string | undefined = undefined,
  ) {}

  /**
   * Stores the batch, its sessions and every input row in one transaction, so a batch is either
   * complete or absent. Invalid entries, and numbers the answer cache already knows (`cached`), are
   * answered at once; a batch with nothing left to ask is completed on creation. Refused with 429
   * when it would take the organization's unchecked numbers over the cap: checked under a lock on
   * the organization's row, so batches created at the same moment cannot pass it together.
   */
  async create(
    creator: BatchCreator,
    routeSessionId: string | null,
    sessions: string[],
    rows: BatchInputRow[],
    cached: Map<string, CheckAnswer>,
  ): Promise<StoredBatch> {
    const { organizationId } = creator;
    const id = newBatchId();
    const now = Date.now();
    let invalid = 0;
    let on = 0;
    let off = 0;
    for (const row of rows) {
      if (row.normalized === null) invalid++;
      else {
        const answer = cached.get(row.normalized);
        if (answer?.onWhatsApp) on++;
        else if (answer) off++;
      }
    }
    const done = invalid + on + off;
    const status: BatchStatus = done === rows.length ? 'completed' : 'queued';
    await this.db.transaction(async (tx) => {
      const requested = rows.length - done;
      if (creator.maxPending > 0 && requested > 0) {
        await tx.query('SELECT id FROM organizations WHERE id = ? FOR UPDATE', [creator.organizationId]);
        const [{ pending }] = await tx.query<[{ pending: number | string }]>(
          `SELECT COALESCE(SUM(total - done), 0) AS pending FROM check_batches WHERE organization_id = ? AND status IN ('queued', 'running')`,
          [creator.organizationId],
        );
        if (Number(pending) + requested > creator.maxPending) {
          throw new AppError(
            'rate_limited',
            `your organization has ${Number(pending)} numbers waiting to be checked; this batch would add ${requested}, over the cap of ${creator.maxPending} (BATCH_MAX_PENDING_PER_ORG). Wait for batches to finish or cancel some`,
            { limit: creator.maxPending, pending: Number(pending), requested, retryAfterSeconds: PENDING_CAP_RETRY_S },
          );
        }
      }
      await tx.query(
        `INSERT INTO check_batches (id, organization_id, session_id, status, total, done, on_whatsapp, not_on_whatsapp, invalid, cached, created_at, updated_at, finished_at, created_by)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          id,
          organizationId,
          routeSessionId,
          status,
          rows.length,
          done,
          on,
          off,
          invalid,
          on + off,
          now,
          now,
          status === 'completed' ? now : null,
          creator.ref,
        ],
      );
      await tx.query(
        `INSERT INTO check_batch_sessions (batch_id, session_id, position, updated_at) VALUES ${sessions.map(() => '(?, ?, ?, ?)').join(', ')}`,
        sessions.flatMap((sessionId, position) => [id, sessionId, position, now]),
      );
      for (let start = 0; start < rows.length; start += INSERT_ROWS) {
        const slice = rows.slice(start, start + INSERT_ROWS);
        const args: unknown[] = [];
        slice.forEach((row, i) => {
          const answer = row.normalized === null ? undefined : cached.get(row.normalized);
          const status: NumberStatus =
            row.normalized === null
              ? 'invalid'
              : answer
                ? answer.onWhatsApp
                  ? 'on_whatsapp'
                  : 'not_on_whatsapp'
                : 'pending';
          const checkedAt = row.normalized === null ? now : (answer?.checkedAt ?? null);
          args.push(
            id,
            start + i + 1,
            row.phone,
            row.normalized,
            status,
            answer?.jid ?? null,
            answer?.lid ?? null,
            answer?.matchedAs ?? null,
            row.reason,
            answer ? 1 : 0,
            checkedAt,
          );
        });
        await tx.query(
          `INSERT INTO check_batch_numbers (batch_id, seq, phone, normalized, status, jid, lid, matched_as, reason, cached, checked_at)
            VALUES ${slice.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
          args,
        );
      }
      if (status === 'completed')
        await writeBatchEvent((sql, params) => tx.query(sql, params), id, 'finished', this.publicUrl);
    });
    return (await this.get({ organizationId }, id))!;
  }

  async get(scope: BatchScope, id: string): Promise<StoredBatch | undefined> {
    const where = scopeSql(scope);
    const [row] = await this.db.query<BatchRow[]>(
      `SELECT ${BATCH_COLUMNS} FROM check_batches WHERE id = ? AND ${where.sql}`,
      [id, ...where.args],
    );
    if (!row) return undefined;
    const members = await this.members([row.id]);
    return toBatch(row, members.get(row.id) ?? []);
  }

  /** Newest first; `beforeId` is the last id of the previous page (ids sort by creation time). */
  async list(
    scope: BatchScope,
    beforeId: string | undefined,
    limit: number,
  ): Promise<{ rows: StoredBatch[]; hasMore: boolean }> {
    const where = scopeSql(scope);
    const rows = await this.db.query<BatchRow[]>(
      `SELECT ${BATCH_COLUMNS} FROM check_batches WHERE ${where.sql} ${beforeId ? 'AND id < ?' : ''} ORDER BY id DESC LIMIT ?`,
      [...where.args, ...(beforeId ? [beforeId] : []), limit + 1],
    );
    const page = rows.slice(0, limit);
    const members = await this.members(page.map((r) => r.id));
    return { rows: page.map((r) => toBatch(r, members.get(r.id) ?? [])), hasMore: rows.length > limit };
  }

  /**
   * Batches of every session in scope, newest first: the unfinished ones (`running`: queued or
   * running) or the finished ones. For the console; the API lists one session's batches.
   */
  async acrossSessions(scope: OrganizationScope, running: boolean, limit: number): Promise<StoredBatch[]> {
    const statuses = running ? ['queued', 'running'] : FINAL_BATCH_STATUSES;
    const args: unknown[] = [...statuses];
    let organization = '';
    if (scope !== EVERY_ORGANIZATION) {
      organization = 'AND organization_id = ?';
      args.push(scope);
    }
    const rows = await this.db.query<BatchRow[]>(
      `SELECT ${BATCH_COLUMNS} FROM check_batches WHERE status IN (${statuses.map(() => '?').join(', ')}) ${organization} ORDER BY id DESC LIMIT ?`,
      [...args, limit],
    );
    const members = await this.members(rows.map((r) => r.id));
    return rows.map((row) => toBatch(row, members.get(row.id) ?? []));
  }

  /** Result rows in input order after `afterSeq`; one extra row is read to know whether more follow. */
  async results(
    batchId: string,
    afterSeq: number,
    limit: number,
    status: NumberStatus | undefined,
  ): Promise<{ rows: StoredResult[]; hasMore: boolean }> {
    const rows = await this.db.query<
      {
        seq: number;
        phone: string;
        normalized: string | null;
        status: NumberStatus;
        jid: string | null;
        lid: string | null;
        matched_as: string | null;
        reason: string | null;
        cached: number;
        checked_at: number | string | null;
      }[]
    >(
      `SELECT seq, phone, normalized, status, jid, lid, matched_as, reason, cached, checked_at FROM check_batch_numbers
        WHERE batch_id = ? ${status ? 'AND status = ?' : ''} AND seq > ? ORDER BY seq LIMIT ?`,
      status ? [batchId, status, afterSeq, limit + 1] : [batchId, afterSeq, limit + 1],
    );
    return {
      rows: rows.slice(0, limit).map((r) => ({
        seq: Number(r.seq),
        phone: r.phone,
        normalized: r.normalized,
        status: r.status,
        jid: r.jid,
        lid: r.lid,
        matchedAs: r.matched_as,
        reason: r.reason,
        cached: Number(r.cached) === 1,
        checkedAt: nullableNumber(r.checked_at),
      })),
      hasMore: rows.length > limit,
    };
  }

  /** True when the batch was unfinished and is now cancelled. */
  async cancel(id: string): Promise<boolean> {
    const now = Date.now();
    return this.db.transaction(async (tx) => {
      const result = await tx.query<{ affectedRows: number }>(
        `UPDATE check_batches SET status = 'cancelled', finished_at = ?, updated_at = ? WHERE id = ? AND status IN ('queued', 'running')`,
        [now, now, id],
      );
      if (result.affectedRows !== 1) return false;
      await tx.query(
        `UPDATE check_batch_sessions SET waiting_for = NULL, resumes_at = NULL, updated_at = ? WHERE batch_id = ?`,
        [now, id],
      );
      await writeBatchEvent((sql, params) => tx.query(sql, params), id, 'finished', this.publicUrl);
      return true;
    });
  }

  private async members(batchIds: string[]): Promise<Map<string, StoredMember[]>> {
    const byBatch = new Map<string, StoredMember[]>();
    if (batchIds.length === 0) return byBatch;
    const rows = await this.db.query<MemberRow[]>(
      `SELECT batch_id, session_id, checked, queries, waiting_for, resumes_at FROM check_batch_sessions
        WHERE batch_id IN (${batchIds.map(() => '?').join(', ')}) ORDER BY batch_id, position`,
      batchIds,
    );
    for (const row of rows) {
      const list = byBatch.get(row.batch_id) ?? [];
      list.push({
        sessionId: row.session_id,
        checked: Number(row.checked),
        queries: Number(row.queries),
        waitingFor: row.waiting_for,
        resumesAt: nullableNumber(row.resumes_at),
      });
      byBatch.set(row.batch_id, list);
    }
    return byBatch;
  }
}

function toBatch(row: BatchRow, members: StoredMember[]): StoredBatch {
  return {
    id: row.id,
    organizationId: row.organization_id,
    sessionId: row.session_id,
    members,
    status: row.status,
    total: Number(row.total),
    done: Number(row.done),
    onWhatsApp: Number(row.on_whatsapp),
    notOnWhatsApp: Number(row.not_on_whatsapp),
    invalid: Number(row.invalid),
    cached: Number(row.cached),
    errorCode: row.error_code,
    errorMessage: row.error_message,
    createdAt: Number(row.created_at),
    startedAt: nullableNumber(row.started_at),
    finishedAt: nullableNumber(row.finished_at),
    createdBy: row.created_by,
  };
}
