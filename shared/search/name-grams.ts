import { FOLDS } from './fold-table.js';

/**
 * Contact-name search runs `LIKE '%term%'` under the names' collation; no B-tree can seek that, so
 * a side table keeps every name's trigrams. A trigram is three consecutive characters of the name
 * after folding each one to a representative of its collation class (fold-table.ts, generated from
 * the server itself): a name that LIKE-matches a term then contains every trigram of the term. The
 * index only narrows the candidates; the same LIKE still decides, so results never change.
 */
export const GRAM_LENGTH = 3;

/** The name's characters, each folded to its class's representative ('' for ignorable ones). */
function folded(text: string): string[] {
  const out: string[] = [];
  for (const ch of text) {
    const to = FOLDS[ch];
    if (to === undefined) out.push(ch);
    else for (const part of to) out.push(part);
  }
  return out;
}

const WORD_CHARACTER = /^[\p{L}\p{N}]$/u;

/**
 * The distinct trigrams of a name or a search term, taken within its runs of letters and digits:
 * trigrams across a space or punctuation ("a s", "n (") would be a third of all rows and narrow a
 * search less than the word trigrams beside them. Empty when no run folds to three characters.
 */
export function nameGrams(text: string | null | undefined): Set<string> {
  const grams = new Set<string>();
  if (!text) return grams;
  let run: string[] = [];
  const take = () => {
    for (let i = 0; i + GRAM_LENGTH <= run.length; i++) grams.add(run.slice(i, i + GRAM_LENGTH).join(''));
    run = [];
  };
  for (const ch of folded(text)) {
    if (WORD_CHARACTER.test(ch)) run.push(ch);
    else take();
  }
  take();
  return grams;
}
