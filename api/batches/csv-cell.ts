/** What spreadsheets take for the start of a formula, full-width forms included. */
const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;
/** A phone number as people write one: an optional +, then only digits, spaces, dots, dashes and parentheses. */
const PHONE_NOTATION = /^\+?[0-9 ().-]+$/;

/**
 * One CSV cell, quoted when needed. A cell a spreadsheet would run as a formula gets a leading
 * `'` (OWASP's CSV injection guard), except a phone number the gateway accepted, written in
 * digits and punctuation only: `+14155550123` stays as sent, while an entry refused as `invalid`
 * is always defused, whatever digits it starts with (`-2+3+cmd|' /C calc'!A0`, `+1+HYPERLINK(…)`).
 */
export function csvCell(value: string | number | null, acceptedPhone = false): string {
  if (value === null) return '';
  let text = String(value);
  if (typeof value === 'string' && FORMULA_START.test(text) && !(acceptedPhone && PHONE_NOTATION.test(text)))
    text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
