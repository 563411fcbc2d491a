/**
 * Whether the JSON text in `bytes` nests arrays and objects deeper than `limit`, found by a scan
 * of the raw bytes that stops at the first level too deep. A nesting of millions of levels costs
 * JSON.parse seconds and memory; refusing it here costs a scan of its first few bytes, and an
 * ordinary body one pass (string contents are skipped with indexOf). Brackets inside strings do
 * not count. Works on UTF-8, where every byte of a multi-byte character is ≥ 0x80 and so is never
 * taken for a bracket or a quote; malformed JSON is left for the parser to refuse.
 */
export function jsonDepthExceeds(bytes: Uint8Array, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte === QUOTE) {
      i = closingQuote(bytes, i + 1);
      if (i < 0) return false;
    } else if (byte === OPEN_BRACKET || byte === OPEN_BRACE) {
      if (++depth > limit) return true;
    } else if (byte === CLOSE_BRACKET || byte === CLOSE_BRACE) depth--;
  }
  return false;
}

/** The index of the quote that ends the string starting at `from`, or -1 when it never ends. */
function closingQuote(bytes: Uint8Array, from: number): number {
  for (let at = bytes.indexOf(QUOTE, from); at >= 0; at = bytes.indexOf(QUOTE, at + 1)) {
    let backslashes = 0;
    while (at - backslashes - 1 >= from && bytes[at - backslashes - 1] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
  return -1;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
