import { MAX_BATCH_NUMBERS, MAX_GIVEN_PHONE_LENGTH, MAX_POOL_SESSIONS } from '../../shared/batches/check-batch-jobs.js';
import { AppError } from '../../shared/errors.js';
import { parseGivenNumber, type InvalidNumberReason } from '../../shared/phones/phone-numbers.js';

/** One result row of a new batch: the entry as given, its E.164 digits, or why it is not a number. */
export type BatchInputRow =
  | { phone: string; normalized: string; reason: null }
  | { phone: string; normalized: null; reason: InvalidNumberReason };

/** What a batch request may say besides its numbers: in a JSON body, or as query parameters (any body). */
export interface BatchOptions {
  sessions: string[] | undefined;
  maxAgeSeconds: number | undefined;
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
    const phones = body.phones;
    if (!Array.isArray(phones))
      throw new AppError('validation_error', 'invalid body parameter: phones', {
        phones: 'must be an array of phone numbers',
      });
    entries = entriesOfJson(phones);
  } else {
    throw invalidBody(
      'send {"phones": [...]} or a JSON array as application/json, or one number per line as text/csv or text/plain',
    );
  }
  if (entries.length === 0) throw invalidBody('no phone numbers given', 'must contain at least one phone number');
  if (entries.length > MAX_BATCH_NUMBERS) {
    throw invalidBody(
      `too many phone numbers: ${entries.length} (at most ${MAX_BATCH_NUMBERS} per batch)`,
      `must contain at most ${MAX_BATCH_NUMBERS} phone numbers`,
    );
  }
  return entries;
}

function entriesOfJson(list: unknown[]): string[] {
  return list.map((entry, i) => {
    if (typeof entry === 'string') return entry.trim();
    if (typeof entry === 'number' && Number.isFinite(entry)) return String(entry);
    throw new AppError('validation_error', 'invalid body parameter: phones', {
      [`phones.${i}`]: 'must be a string or a number',
    });
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
 * that is not a valid phone number becomes its own `invalid` row with the reason (once per
 * distinct entry).
 */
export function batchRows(entries: string[]): BatchInputRow[] {
  const rows: BatchInputRow[] = [];
  const seenNumbers = new Set<string>();
  const seenInvalid = new Set<string>();
  for (const entry of entries) {
    const phone = entry.slice(0, MAX_GIVEN_PHONE_LENGTH);
    const parsed = parseGivenNumber(entry);
    if (!parsed.valid) {
      if (seenInvalid.has(phone)) continue;
      seenInvalid.add(phone);
      rows.push({ phone, normalized: null, reason: parsed.reason });
    } else {
      if (seenNumbers.has(parsed.digits)) continue;
      seenNumbers.add(parsed.digits);
      rows.push({ phone, normalized: parsed.digits, reason: null });
    }
  }
  return rows;
}

const invalidOption = (name: string, detail: string) =>
  new AppError('validation_error', `invalid parameter: ${name}`, { [name]: detail });

/**
 * `sessions` and `maxAgeSeconds`, from a JSON object body or from the query string (where a CSV
 * body can carry them; sessions comma-separated). Each may be given in one place only.
 */
export function batchOptionsOf(
  body: unknown,
  query: { sessions?: string | undefined; maxAgeSeconds?: number | undefined },
): BatchOptions {
  const fields =
    body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  for (const name of ['sessions', 'maxAgeSeconds'] as const) {
    if (fields[name] !== undefined && query[name] !== undefined)
      throw invalidOption(name, 'give it in the body or in the query string, not both');
  }
  let maxAgeSeconds = query.maxAgeSeconds;
  if (fields['maxAgeSeconds'] !== undefined) {
    const value = fields['maxAgeSeconds'];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
      throw invalidOption('maxAgeSeconds', 'must be an integer number of seconds, 0 or more');
    maxAgeSeconds = value;
  }
  let sessions = query.sessions
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (fields['sessions'] !== undefined) {
    const value = fields['sessions'];
    if (!Array.isArray(value) || !value.every((s) => typeof s === 'string'))
      throw invalidOption('sessions', 'must be an array of session ids');
    sessions = value.map((s: string) => s.trim());
  }
  if (sessions !== undefined) {
    sessions = [...new Set(sessions)];
    if (sessions.length === 0 || sessions.length > MAX_POOL_SESSIONS)
      throw invalidOption('sessions', `must name 1 to ${MAX_POOL_SESSIONS} sessions`);
  }
  return { sessions, maxAgeSeconds };
}
