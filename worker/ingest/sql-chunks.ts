/** Helpers for multi-row statements: split long lists, build one placeholder tuple per row. */

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** "(?, ?, ?), (?, ?, ?)" for `rows` rows of `columns` values each. */
export function tuples(rows: number, columns: number): string {
  const one = `(${new Array<string>(columns).fill('?').join(', ')})`;
  return new Array<string>(rows).fill(one).join(', ');
}

/** "?, ?, ?" for an IN list. */
export function list(count: number): string {
  return new Array<string>(count).fill('?').join(', ');
}
