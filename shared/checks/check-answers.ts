/**
 * The answer cache: WhatsApp's latest answer about each number, per organization, written by
 * whoever got it (a live check on the api side, a batch chunk on the worker side) and read
 * before asking WhatsApp again. A number's entry is its final answer, national variants included:
 * on WhatsApp in some form (`matchedAs`) or in none.
 */
import type { DataSource, EntityManager } from 'typeorm';

export interface CheckAnswer {
  /** E.164 digits, as the number was asked. */
  phone: string;
  onWhatsApp: boolean;
  jid: string | null;
  lid: string | null;
  /** The form WhatsApp knows the number by (its JID's digits) when on WhatsApp. */
  matchedAs: string | null;
  /** When WhatsApp gave the answer (epoch ms). */
  checkedAt: number;
}

interface AnswerRow {
  phone: string;
  on_whatsapp: number;
  jid: string | null;
  lid: string | null;
  matched_as: string | null;
  checked_at: number | string;
}

type Queryable = Pick<DataSource | EntityManager, 'query'>;

/** Phones per `IN (…)` list or multi-row INSERT. */
const STATEMENT_ROWS = 1_000;
/** Expired answers removed per statement, so pruning never holds long locks. */
const PRUNE_ROWS = 5_000;

export class CheckAnswerCache {
  constructor(
    private readonly db: DataSource,
    /** CHECK_CACHE_TTL; 0 turns the cache off (nothing stored, nothing reused). */
    private readonly ttlMs: number,
  ) {}

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  /** How old a reused answer may be: the TTL, or less when the caller asks for fresher answers (0 = none reused). */
  maxAgeMs(requestedSeconds: number | undefined): number {
    return requestedSeconds === undefined ? this.ttlMs : Math.min(this.ttlMs, requestedSeconds * 1000);
  }

  /** The organization's answers for these phones that are at most `maxAgeMs` old, by phone. */
  async find(
    organizationId: string,
    phones: string[],
    maxAgeMs: number,
    now = Date.now(),
    db: Queryable = this.db,
  ): Promise<Map<string, CheckAnswer>> {
    const found = new Map<string, CheckAnswer>();
    if (maxAgeMs <= 0 || phones.length === 0) return found;
    for (let start = 0; start < phones.length; start += STATEMENT_ROWS) {
      const slice = phones.slice(start, start + STATEMENT_ROWS);
      const rows = await db.query<AnswerRow[]>(
        `SELECT phone, on_whatsapp, jid, lid, matched_as, checked_at FROM check_answers
          WHERE organization_id = ? AND phone IN (${slice.map(() => '?').join(', ')}) AND checked_at >= ?`,
        [organizationId, ...slice, now - maxAgeMs],
      );
      for (const row of rows) found.set(row.phone, toAnswer(row));
    }
    return found;
  }

  /**
   * Stores answers, keeping whichever answer about a number is newer. Rows are written in phone
   * order, so two writers of overlapping numbers lock them in the same order and never deadlock.
   */
  async save(organizationId: string, answers: CheckAnswer[]): Promise<void> {
    if (!this.enabled || answers.length === 0) return;
    const sorted = [...answers].sort((a, b) => (a.phone < b.phone ? -1 : a.phone > b.phone ? 1 : 0));
    for (let start = 0; start < sorted.length; start += STATEMENT_ROWS) {
      const slice = sorted.slice(start, start + STATEMENT_ROWS);
      const newer = (column: string) =>
        `${column} = IF(VALUES(checked_at) >= checked_at, VALUES(${column}), ${column})`;
      await this.db.query(
        `INSERT INTO check_answers (organization_id, phone, on_whatsapp, jid, lid, matched_as, checked_at)
          VALUES ${slice.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}
          ON DUPLICATE KEY UPDATE ${['on_whatsapp', 'jid', 'lid', 'matched_as'].map(newer).join(', ')}, checked_at = GREATEST(checked_at, VALUES(checked_at))`,
        slice.flatMap((a) => [organizationId, a.phone, a.onWhatsApp ? 1 : 0, a.jid, a.lid, a.matchedAs, a.checkedAt]),
      );
    }
  }

  /** Removes answers older than the TTL (nothing would reuse them); returns how many went. */
  async prune(now = Date.now()): Promise<number> {
    if (!this.enabled) return 0;
    let removed = 0;
    for (;;) {
      const result = await this.db.query<{ affectedRows: number }>(
        `DELETE FROM check_answers WHERE checked_at < ? LIMIT ${PRUNE_ROWS}`,
        [now - this.ttlMs],
      );
      removed += result.affectedRows;
      if (result.affectedRows < PRUNE_ROWS) return removed;
    }
  }
}

function toAnswer(row: AnswerRow): CheckAnswer {
  return {
    phone: row.phone,
    onWhatsApp: Number(row.on_whatsapp) === 1,
    jid: row.jid,
    lid: row.lid,
    matchedAs: row.matched_as,
    checkedAt: Number(row.checked_at),
  };
}
