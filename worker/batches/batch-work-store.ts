import type { DataSource, EntityManager } from 'typeorm';
import type { BatchStatus } from '../../shared/batches/check-batch-jobs.js';
import type { NumberCheck } from '../driver/driver.js';
import { NO_BATCH_EVENTS, type BatchEvents } from './batch-events.js';

export interface BatchState {
  id: string;
  sessionId: string;
  status: BatchStatus;
  waitingForSession: boolean;
  startedAt: number | null;
  total: number;
  done: number;
}

export interface PendingNumber {
  seq: number;
  normalized: string;
}

export interface BatchProgress {
  total: number;
  done: number;
  onWhatsApp: number;
  notOnWhatsApp: number;
}

interface StateRow {
  id: string;
  session_id: string;
  status: BatchStatus;
  waiting_for_session: number;
  started_at: number | string | null;
  total: number;
  done: number;
}

const ACTIVE = `status IN ('queued', 'running')`;

/**
 * The worker's side of a batch in MySQL: which numbers are still pending, and writing each
 * chunk's answers together with the counters, in one transaction. Every write is guarded so that
 * a row is answered once and a finished (e.g. cancelled) batch is never reopened.
 */
export class BatchWorkStore {
  constructor(
    private readonly db: DataSource,
    private readonly events: BatchEvents = NO_BATCH_EVENTS,
  ) {}

  async state(batchId: string): Promise<BatchState | undefined> {
    const [row] = (await this.db.query(
      `SELECT id, session_id, status, waiting_for_session, started_at, total, done FROM check_batches WHERE id = ?`,
      [batchId],
    )) as StateRow[];
    if (!row) return undefined;
    return {
      id: row.id,
      sessionId: row.session_id,
      status: row.status,
      waitingForSession: Number(row.waiting_for_session) === 1,
      startedAt: row.started_at === null ? null : Number(row.started_at),
      total: Number(row.total),
      done: Number(row.done),
    };
  }

  /** Unfinished batches (to re-enqueue the ones of shards this worker just took over). */
  async unfinished(): Promise<{ id: string; sessionId: string }[]> {
    const rows = (await this.db.query(`SELECT id, session_id FROM check_batches WHERE ${ACTIVE}`)) as { id: string; session_id: string }[];
    return rows.map((r) => ({ id: r.id, sessionId: r.session_id }));
  }

  async nextPending(batchId: string, limit: number): Promise<PendingNumber[]> {
    const rows = (await this.db.query(
      `SELECT seq, normalized FROM check_batch_numbers WHERE batch_id = ? AND status = 'pending' ORDER BY seq LIMIT ?`,
      [batchId, limit],
    )) as { seq: number; normalized: string }[];
    return rows.map((r) => ({ seq: Number(r.seq), normalized: r.normalized }));
  }

  async setWaiting(batchId: string, waiting: boolean): Promise<void> {
    await this.db.query(`UPDATE check_batches SET waiting_for_session = ?, updated_at = ? WHERE id = ? AND ${ACTIVE}`, [waiting ? 1 : 0, Date.now(), batchId]);
  }

  /** The first chunk is about to be asked: the batch runs from now. */
  async markRunning(batchId: string): Promise<void> {
    const now = Date.now();
    await this.db.query(
      `UPDATE check_batches SET status = 'running', started_at = COALESCE(started_at, ?), updated_at = ? WHERE id = ? AND ${ACTIVE}`,
      [now, now, batchId],
    );
  }

  async finish(batchId: string, status: Extract<BatchStatus, 'completed' | 'failed'>, error?: { code: string; message: string }): Promise<boolean> {
    const now = Date.now();
    return this.db.transaction(async (tx) => {
      const result = (await tx.query(
        `UPDATE check_batches SET status = ?, waiting_for_session = 0, finished_at = ?, updated_at = ?, error_code = ?, error_message = ? WHERE id = ? AND ${ACTIVE}`,
        [status, now, now, error?.code ?? null, error?.message.slice(0, 500) ?? null, batchId],
      )) as { affectedRows: number };
      if (result.affectedRows !== 1) return false;
      await this.events.finished((sql, params) => tx.query(sql, params), batchId);
      return true;
    });
  }

  /**
   * Writes one chunk's answers and adds them to the counters, atomically. A number missing from the
   * answer is not on WhatsApp (WhatsApp only lists registered numbers). Rows answered already are
   * left alone and not counted again.
   */
  async record(batchId: string, chunk: PendingNumber[], answers: NumberCheck[]): Promise<BatchProgress> {
    const byPhone = new Map(answers.map((a) => [a.phone, a]));
    const on: { seq: number; jid: string; lid: string | null }[] = [];
    const off: number[] = [];
    for (const { seq, normalized } of chunk) {
      const answer = byPhone.get(normalized);
      if (answer?.exists) on.push({ seq, jid: answer.jid ?? `${normalized}@s.whatsapp.net`, lid: answer.lid ?? null });
      else off.push(seq);
    }
    const now = Date.now();
    return this.db.transaction(async (tx) => {
      let onCount = 0;
      let offCount = 0;
      if (on.length > 0) {
        const cases = (pick: (row: (typeof on)[number]) => string | null) => ({
          sql: `CASE seq ${on.map(() => 'WHEN ? THEN ?').join(' ')} END`,
          args: on.flatMap((row) => [row.seq, pick(row)]),
        });
        const jid = cases((row) => row.jid);
        const lid = cases((row) => row.lid);
        const result = (await tx.query(
          `UPDATE check_batch_numbers SET status = 'on_whatsapp', checked_at = ?, jid = ${jid.sql}, lid = ${lid.sql}
            WHERE batch_id = ? AND status = 'pending' AND seq IN (${on.map(() => '?').join(', ')})`,
          [now, ...jid.args, ...lid.args, batchId, ...on.map((row) => row.seq)],
        )) as { affectedRows: number };
        onCount = result.affectedRows;
      }
      if (off.length > 0) {
        const result = (await tx.query(
          `UPDATE check_batch_numbers SET status = 'not_on_whatsapp', checked_at = ?
            WHERE batch_id = ? AND status = 'pending' AND seq IN (${off.map(() => '?').join(', ')})`,
          [now, batchId, ...off],
        )) as { affectedRows: number };
        offCount = result.affectedRows;
      }
      await tx.query(
        `UPDATE check_batches SET on_whatsapp = on_whatsapp + ?, not_on_whatsapp = not_on_whatsapp + ?, done = done + ?, updated_at = ? WHERE id = ?`,
        [onCount, offCount, onCount + offCount, now, batchId],
      );
      const progress = await this.progress(tx, batchId);
      await this.events.progressed((sql, params) => tx.query(sql, params), batchId);
      return progress;
    });
  }

  private async progress(tx: EntityManager, batchId: string): Promise<BatchProgress> {
    const [row] = (await tx.query(`SELECT total, done, on_whatsapp, not_on_whatsapp FROM check_batches WHERE id = ?`, [batchId])) as {
      total: number;
      done: number;
      on_whatsapp: number;
      not_on_whatsapp: number;
    }[];
    return { total: Number(row?.total ?? 0), done: Number(row?.done ?? 0), onWhatsApp: Number(row?.on_whatsapp ?? 0), notOnWhatsApp: Number(row?.not_on_whatsapp ?? 0) };
  }
}
