import { MAX_BATCH_NUMBERS, MAX_GIVEN_PHONE_LENGTH } from '../../shared/batches/check-batch-jobs.js';
import { AppError } from '../../shared/errors.js';
import { normalizeLoosePhone } from '../../shared/jid.js';

/** One result row of a new batch: the entry as given and its E.164 digits (null when invalid). */
export interface BatchInputRow {
  phone: string;
  normalized: string | null;
}

const HEADER_CELL = /^(phone|phone_?number|number|msisdn)$/i;

const invalidBody = (message: string, detail = message) => new AppError('validation_error', message, { body: detail });

/**
 * The entries of a request body: `{"phones": [...]}` or a bare JSON array (strings or integers),
 * or CSV / plain text with one number per line and an optional header line naming the `phone`
 * column. Blank lines are skipped; the count is checked before any de-duplication.
 */
export function entriesOf(body: unknown): string[] {
  let entries: string[];
  if (typeof body === 'string') entries = entriesOfText(body);
  else if (Array.isArray(body)) entries = entriesOfJson(body);
  else if (body !== null && typeof body === 'object' && 'phones' in body) {
    const phones = (body as { phones: unknown }).phones;
    if (!Array.isArray(phones)) throw new AppError('validation_error', 'invalid body parameter: phones', { phones: 'must be an array of phone numbers' });
    entries = entriesOfJson(phones);
  } else {
    throw invalidBody('send {"phones": [...]} or a JSON array as application/json, or one number per line as text/csv or text/plain');
  }
  if (entries.length === 0) throw invalidBody('no phone numbers given', 'must contain at least one phone number');
  if (entries.length > MAX_BATCH_NUMBERS) {
    throw invalidBody(`too many phone numbers: ${entries.length} (at most ${MAX_BATCH_NUMBERS} per batch)`, `must contain at most ${MAX_BATCH_NUMBERS} phone numbers`);
  }
  return entries;
}

function entriesOfJson(list: unknown[]): string[] {
  return list.map((entry, i) => {
    if (typeof entry === 'string') return entry.trim();
    if (typeof entry === 'number' && Number.isFinite(entry)) return String(entry);
    throw new AppError('validation_error', 'invalid body parameter: phones', { [`phones.${i}`]: 'must be a string or a number' });
  });
}

function entriesOfText(text: string): string[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  const first = lines.findIndex((line) => line.trim() !== '');
  if (first < 0) return [];
  const headerCells = csvCells(lines[first]!);
  const column = headerCells.findIndex((cell) => HEADER_CELL.test(cell));
  const rows = column >= 0 ? lines.slice(first + 1) : lines.slice(first);
  const entries: string[] = [];
  for (const line of rows) {
    if (line.trim() === '') continue;
    entries.push(csvCells(line)[Math.max(0, column)] ?? '');
  }
  return entries;
}

/** The cells of one CSV line (comma, semicolon or tab separated; "quoted" cells with "" escapes), trimmed. */
function csvCells(line: string): string[] {
  const separator = line.includes(',') ? ',' : line.includes(';') ? ';' : line.includes('\t') ? '\t' : undefined;
  if (!separator && !line.includes('"')) return [line.trim()];
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === separator) {
      cells.push(cell.trim());
      cell = '';
    } else cell += ch;
  }
  cells.push(cell.trim());
  return cells;
}

/**
 * Normalises every entry to E.164 digits and keeps the first occurrence of each number; an entry
 * that is not a phone number becomes its own `invalid` row (once per distinct entry).
 */
export function batchRows(entries: string[]): BatchInputRow[] {
  const rows: BatchInputRow[] = [];
  const seenNumbers = new Set<string>();
  const seenInvalid = new Set<string>();
  for (const entry of entries) {
    const phone = entry.slice(0, MAX_GIVEN_PHONE_LENGTH);
    const normalized = normalizeLoosePhone(entry) ?? null;
    if (normalized === null) {
      if (seenInvalid.has(phone)) continue;
      seenInvalid.add(phone);
    } else {
      if (seenNumbers.has(normalized)) continue;
      seenNumbers.add(normalized);
    }
    rows.push({ phone, normalized });
  }
  return rows;
}
