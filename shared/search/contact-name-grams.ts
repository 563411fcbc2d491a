import { nameGrams } from './name-grams.js';

/** One contact's name before and after a write; `before` null for a new contact, `after` null for a deleted one. */
export interface NameChange {
  contactId: number;
  before: string | null;
  after: string | null;
}

export type RunQuery = (sql: string, params: unknown[]) => Promise<unknown>;

/** Rows per statement: three placeholders each, well under the protocol's 65,535. */
export const GRAM_ROWS_PER_STATEMENT = 5_000;

/**
 * Keeps contact_name_grams in step with contacts.name: removes the grams a name lost and adds the
 * ones it gained, in as few multi-row statements as the change needs. Runs in the caller's
 * transaction. Gram rows of a deleted session go with it (foreign key); of a deleted contact, only
 * through a change with `after: null`.
 */
export async function applyNameChanges(
  query: RunQuery,
  sessionId: string,
  changes: readonly NameChange[],
): Promise<void> {
  const removed: [string, number][] = [];
  const added: [string, number][] = [];
  for (const change of changes) {
    if (change.before === change.after) continue;
    const before = nameGrams(change.before);
    const after = nameGrams(change.after);
    for (const gram of before) if (!after.has(gram)) removed.push([gram, change.contactId]);
    for (const gram of after) if (!before.has(gram)) added.push([gram, change.contactId]);
  }
  // Primary key order, so InnoDB visits each gram's posting list once and appends to it.
  const byKey = (a: [string, number], b: [string, number]) => (a[0] === b[0] ? a[1] - b[1] : a[0] < b[0] ? -1 : 1);
  removed.sort(byKey);
  added.sort(byKey);
  for (let i = 0; i < removed.length; i += GRAM_ROWS_PER_STATEMENT) {
    const part = removed.slice(i, i + GRAM_ROWS_PER_STATEMENT);
    await query(
      `DELETE FROM contact_name_grams WHERE session_id = ? AND (gram, contact_id) IN (${part.map(() => '(?, ?)').join(', ')})`,
      [sessionId, ...part.flat()],
    );
  }
  for (let i = 0; i < added.length; i += GRAM_ROWS_PER_STATEMENT) {
    const part = added.slice(i, i + GRAM_ROWS_PER_STATEMENT);
    await query(
      `INSERT INTO contact_name_grams (session_id, gram, contact_id) VALUES ${part.map(() => '(?, ?, ?)').join(', ')}
       ON DUPLICATE KEY UPDATE contact_id = VALUES(contact_id)`,
      part.flatMap(([gram, contactId]) => [sessionId, gram, contactId]),
    );
  }
}
