import type { DataSource, EntityManager } from 'typeorm';
import type { BatchStatus, WaitingReason } from '../../shared/batches/check-batch-jobs.js';
import type { ClaimedNumber, NumberOutcome } from './chunk-outcomes.js';
import { NO_BATCH_EVENTS, type BatchEvents } from './batch-events.js';

export interface BatchState {
  id: string;
  organizationId: string;
  /** The session of a batch created on a session's route; null for a pooled batch. */
  sessionId: string | null;
  status: BatchStatus;
  startedAt: number | null;
  total: number;
  done: number;
}

/** One of the sessions a batch is checked through, and what it waits for. */
export interface MemberState {
  waitingFor: WaitingReason | null;
  resumesAt: number | null;
}

export interface BatchProgress {
  total: number;
  done: number;
  onWhatsApp: number;
  notOnWhatsApp: number;
}

interface StateRow {
  id: string;
  organization_id: string;
  session_id: string | null;
  status: BatchStatus;
  started_at: number | string | null;
  total: number;
  done: number;
}

const ACTIVE = `status IN ('queued', 'running')`;
/** Rounds of reading and claiming free rows before settling for a smaller chunk. */
const CLAIM_ATTEMPTS = 4;
/** A chunk's answers are written again this often when MySQL picks the write as a deadlock victim, rather than asking WhatsApp again. */
const RECORD_ATTEMPTS = 3;
const nullableNumber = (v: number | string | null) => (v === null ? null : Number(v));

/**
 * The worker's side of a batch in MySQL. The batch's pending numbers are a shared work list: each
 * of its sessions claims a chunk of them (a token and an expiry on the rows), asks WhatsApp, and
 * writes the answers with the counters in one transaction. A claim whose holder died expires and
 * the rows are claimed again; a write counts only rows still pending under the writer's own claim,
 * so a row is answered once and a finished (e.g. cancelled) batch is never reopened.
 */
export class BatchWorkStore {
  constructor(
    private readonly db: DataSource,
    private readonly events: BatchEvents = NO_BATCH_EVENTS,
  ) {}

  async state(batchId: string): Promise<BatchState | undefined> {
    const [row] = await this.db.query<StateRow[]>(
      `SELECT id, organization_id, session_id, status, started_at, total, done FROM check_batches WHERE id = ?`,
      [batchId],
    );
    if (!row) return undefined;
    return {
      id: row.id,
      organizationId: row.organization_id,
      sessionId: row.session_id,
      status: row.status,
      startedAt: nullableNumber(row.started_at),
      total: Number(row.total),
      done: Number(row.done),
    };
  }

  /** undefined when the session is not (or no longer) one of the batch's sessions. */
  async member(batchId: string, sessionId: string): Promise<MemberState | undefined> {
    const [row] = await this.db.query<
      {
        waiting_for: WaitingReason | null;
        resumes_at: number | string | null;
      }[]
    >(`SELECT waiting_for, resumes_at FROM check_batch_sessions WHERE batch_id = ? AND session_id = ?`, [
      batchId,
      sessionId,
    ]);
    return row && { waitingFor: row.waiting_for, resumesAt: nullableNumber(row.resumes_at) };
  }

  /** The sessions of unfinished batches (to queue the jobs of the shards this worker owns). */
  async unfinishedMembers(): Promise<{ batchId: string; sessionId: string }[]> {
    const rows = await this.db.query<{ batch_id: string; session_id: string }[]>(
      `SELECT m.batch_id, m.session_id FROM check_batches b JOIN check_batch_sessions m ON m.batch_id = b.id WHERE b.${ACTIVE}`,
    );
    return rows.map((r) => ({ batchId: r.batch_id, sessionId: r.session_id }));
  }

  async setWaiting(
    batchId: string,
    sessionId: string,
    waitingFor: WaitingReason | null,
    resumesAt: number | null = null,
  ): Promise<void> {
    await this.db.query(
      `UPDATE check_batch_sessions SET waiting_for = ?, resumes_at = ?, updated_at = ? WHERE batch_id = ? AND session_id = ?`,
      [waitingFor, resumesAt, Date.now(), batchId, sessionId],
    );
  }

  /** The first chunk is about to be asked: the batch runs from now. */
  async markRunning(batchId: string): Promise<void> {
    const now = Date.now();
    await this.db.query(
      `UPDATE check_batches SET status = 'running', started_at = COALESCE(started_at, ?), updated_at = ? WHERE id = ? AND ${ACTIVE}`,
      [now, now, batchId],
    );
  }

  /**
   * Claims up to `limit` pending numbers nobody holds, lowest seq first (so a number waiting for its
   * national variant to be asked goes in the next chunk). Rows whose claim lapsed are free again,
   * and so are rows this same session claimed: one job per batch and session runs at a time, so
   * such a claim is left over from a run of this job that died (a killed worker).
   *
   * The candidates are read without locks and then claimed by primary key, each guarded by still
   * being free: an UPDATE … ORDER BY seq LIMIT n over the status index would lock index entries
   * before rows, the opposite order of a chunk's answers being written, and deadlocked against
   * them (measured in the bench). A row another session claimed in between is skipped and the
   * shortfall read again, so chunks stay full.
   */
  async claim(
    batchId: string,
    sessionId: string,
    token: string,
    limit: number,
    claimMs: number,
  ): Promise<ClaimedNumber[]> {
    const free = `status = 'pending' AND (claim_until IS NULL OR claim_until < ? OR claimed_by = ?)`;
    let claimed = 0;
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS && claimed < limit; attempt++) {
      const now = Date.now();
      const candidates = await this.db.query<
        {
          seq: number;
        }[]
      >(`SELECT seq FROM check_batch_numbers WHERE batch_id = ? AND ${free} ORDER BY seq LIMIT ?`, [
        batchId,
        now,
        sessionId,
        limit - claimed,
      ]);
      if (candidates.length === 0) break;
      const result = await this.db.query<{ affectedRows: number }>(
        `UPDATE check_batch_numbers SET claimed_by = ?, claim_token = ?, claim_until = ? WHERE batch_id = ? AND seq IN (${candidates.map(() => '?').join(', ')}) AND ${free}`,
        [sessionId, token, now + claimMs, batchId, ...candidates.map((c) => Number(c.seq)), now, sessionId],
      );
      claimed += result.affectedRows;
    }
    if (claimed === 0) return [];
    const rows = await this.db.query<{ seq: number; normalized: string; tried: number }[]>(
      `SELECT seq, normalized, tried FROM check_batch_numbers WHERE batch_id = ? AND status = 'pending' AND claim_token = ? ORDER BY seq`,
      [batchId, token],
    );
    return rows.map((r) => ({ seq: Number(r.seq), normalized: r.normalized, tried: Number(r.tried) }));
  }

  /** Gives claimed numbers back unanswered (the session went away before WhatsApp answered). */
  async release(batchId: string, token: string): Promise<void> {
    await this.db.query(
      `UPDATE check_batch_numbers SET claimed_by = NULL, claim_token = NULL, claim_until = NULL WHERE batch_id = ? AND claim_token = ? AND status = 'pending'`,
      [batchId, token],
    );
  }

  async hasPending(batchId: string): Promise<boolean> {
    const rows = await this.db.query<unknown[]>(
      `SELECT 1 FROM check_batch_numbers WHERE batch_id = ? AND status = 'pending' LIMIT 1`,
      [batchId],
    );
    return rows.length > 0;
  }

  /**
   * Nothing was left to claim: undefined when no number is pending at all (the batch is done),
   * else when the earliest claim another session holds lapses (if it never writes, its rows come back).
   */
  async nextClaimExpiry(batchId: string): Promise<number | undefined> {
    const [row] = await this.db.query<{ pending: number | string; until: number | string | null }[]>(
      `SELECT COUNT(*) AS pending, MIN(claim_until) AS until FROM check_batch_numbers WHERE batch_id = ? AND status = 'pending'`,
      [batchId],
    );
    if (!row || Number(row.pending) === 0) return undefined;
    return row.until === null ? Date.now() : Number(row.until);
  }

  /**
   * Records that the batch ended. Completion is recorded only once no number is pending, and never
   * over a batch that already ended (a cancel that landed in between stands). True when recorded.
   */
  async finish(
    batchId: string,
    status: Extract<BatchStatus, 'completed' | 'failed'>,
    error?: { code: string; message: string },
  ): Promise<boolean> {
    const now = Date.now();
    const nothingPending =
      status === 'completed'
        ? `AND NOT EXISTS (SELECT 1 FROM check_batch_numbers n WHERE n.batch_id = ? AND n.status = 'pending')`
        : '';
    return this.db.transaction(async (tx) => {
      const result = await tx.query<{ affectedRows: number }>(
        `UPDATE check_batches SET status = ?, finished_at = ?, updated_at = ?, error_code = ?, error_message = ? WHERE id = ? AND ${ACTIVE} ${nothingPending}`,
        [
          status,
          now,
          now,
          error?.code ?? null,
          error?.message.slice(0, 500) ?? null,
          batchId,
          ...(status === 'completed' ? [batchId] : []),
        ],
      );
      if (result.affectedRows !== 1) return false;
      await tx.query(
        `UPDATE check_batch_sessions SET waiting_for = NULL, resumes_at = NULL, updated_at = ? WHERE batch_id = ?`,
        [now, batchId],
      );
      await this.events.finished((sql, params) => tx.query(sql, params), batchId);
      return true;
    });
  }

  /**
   * Records one chunk's outcomes, the batch's counters and what the session did, atomically: the
   * one place a batch's progress is written. Rows no longer pending under this claim (answered by
   * a session that took them over after the claim lapsed, or the batch was deleted) are left alone
   * and not counted again.
   */
  async record(
    batchId: string,
    sessionId: string,
    token: string,
    outcomes: NumberOutcome[],
    checkedAt: number,
  ): Promise<BatchProgress> {
    const finals = outcomes.flatMap((o) => (o.kind === 'final' ? [o] : []));
    const on = finals.filter((o) => o.answer.onWhatsApp);
    const off = finals.filter((o) => !o.answer.onWhatsApp);
    const retry = outcomes.filter((o) => o.kind === 'retry').map((o) => o.seq);
    const now = checkedAt;
    const mine = `batch_id = ? AND status = 'pending' AND claim_token = ?`;
    const seqs = (list: { seq: number }[] | number[]) => list.map((x) => (typeof x === 'number' ? x : x.seq));
    return retryDeadlocks(RECORD_ATTEMPTS, () =>
      this.db.transaction(async (tx) => {
        let onCount = 0;
        let offCount = 0;
        if (on.length > 0) {
          const cases = (pick: (o: (typeof on)[number]) => string | null) => ({
            sql: `CASE seq ${on.map(() => 'WHEN ? THEN ?').join(' ')} END`,
            args: on.flatMap((o) => [o.seq, pick(o)]),
          });
          const jid = cases((o) => o.answer.jid);
          const lid = cases((o) => o.answer.lid);
          const matchedAs = cases((o) => o.answer.matchedAs);
          const result = await tx.query<{ affectedRows: number }>(
            `UPDATE check_batch_numbers SET status = 'on_whatsapp', checked_at = ?, jid = ${jid.sql}, lid = ${lid.sql}, matched_as = ${matchedAs.sql},
              tried = tried + 1, claimed_by = NULL, claim_token = NULL, claim_until = NULL
            WHERE ${mine} AND seq IN (${on.map(() => '?').join(', ')})`,
            [now, ...jid.args, ...lid.args, ...matchedAs.args, batchId, token, ...seqs(on)],
          );
          onCount = result.affectedRows;
        }
        if (off.length > 0) {
          const result = await tx.query<{ affectedRows: number }>(
            `UPDATE check_batch_numbers SET status = 'not_on_whatsapp', checked_at = ?, tried = tried + 1, claimed_by = NULL, claim_token = NULL, claim_until = NULL
            WHERE ${mine} AND seq IN (${off.map(() => '?').join(', ')})`,
            [now, batchId, token, ...seqs(off)],
          );
          offCount = result.affectedRows;
        }
        if (retry.length > 0) {
          await tx.query(
            `UPDATE check_batch_numbers SET tried = tried + 1, claimed_by = NULL, claim_token = NULL, claim_until = NULL WHERE ${mine} AND seq IN (${retry.map(() => '?').join(', ')})`,
            [batchId, token, ...retry],
          );
        }
        await tx.query(
          `UPDATE check_batches SET on_whatsapp = on_whatsapp + ?, not_on_whatsapp = not_on_whatsapp + ?, done = done + ?, updated_at = ? WHERE id = ?`,
          [onCount, offCount, onCount + offCount, now, batchId],
        );
        await tx.query(
          `UPDATE check_batch_sessions SET checked = checked + ?, queries = queries + 1, updated_at = ? WHERE batch_id = ? AND session_id = ?`,
          [onCount + offCount, now, batchId, sessionId],
        );
        const progress = await this.progress(tx, batchId);
        await this.events.progressed((sql, params) => tx.query(sql, params), batchId);
        return progress;
      }),
    );
  }

  private async progress(tx: EntityManager, batchId: string): Promise<BatchProgress> {
    const [row] = await tx.query<
      {
        total: number;
        done: number;
        on_whatsapp: number;
        not_on_whatsapp: number;
      }[]
    >(`SELECT total, done, on_whatsapp, not_on_whatsapp FROM check_batches WHERE id = ?`, [batchId]);
    return {
      total: Number(row?.total ?? 0),
      done: Number(row?.done ?? 0),
      onWhatsApp: Number(row?.on_whatsapp ?? 0),
      notOnWhatsApp: Number(row?.not_on_whatsapp ?? 0),
    };
  }
}

/** MySQL's "try restarting transaction" errors: a deadlock victim or a lock wait that timed out. */
export function isLockConflict(err: unknown): boolean {
  const e = err as { code?: unknown; driverError?: { code?: unknown } } | undefined;
  const code = e?.code ?? e?.driverError?.code;
  return code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT';
}

async function retryDeadlocks<T>(attempts: number, run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (attempt >= attempts || !isLockConflict(err)) throw err;
    }
  }
}
