import { AppError } from '../../shared/errors.js';
import type { CursorCodec } from './cursor.js';

/** One page as a store reads it: the rows, whether rows follow, and the position of the last row. */
export interface StoredPage<T, P> {
  rows: T[];
  hasMore: boolean;
  last: P | undefined;
}

/** How a keyset position is written into a cursor and read back out of one. */
export interface PositionCodec<P> {
  write(position: P): string;
  read(text: string): P;
}

/** A row id (text): the cursor's signature already vouches for it. */
export const idPosition: PositionCodec<string> = { write: (id) => id, read: (text) => text };

/** A numeric row id or sequence number of at most `digits` digits. */
export function integerPosition(digits: number): PositionCodec<number> {
  const pattern = new RegExp(`^\\d{1,${digits}}$`);
  return {
    write: String,
    read: (text) => {
      if (!pattern.test(text))
        throw new AppError('validation_error', 'invalid query parameter: cursor', { cursor: 'malformed cursor' });
      return Number(text);
    },
  };
}

export interface PageRequest<T, P> {
  /** The list and every filter of the query: a cursor only works for the same scope it was issued for. */
  scope: readonly (string | undefined)[];
  /** The cursor the client sent, if any. */
  cursor: string | undefined;
  position: PositionCodec<P>;
  /** Reads the page after `after` (the first page when undefined). */
  read: (after: P | undefined) => Promise<StoredPage<T, P>>;
}

/** Scope → decode → read → encode, the same for every cursor-paged list. */
export async function cursorPage<T, P>(
  cursors: CursorCodec,
  request: PageRequest<T, P>,
): Promise<{ data: T[]; nextCursor: string }> {
  const scope = request.scope.map((part) => part ?? '').join('\u0001');
  const after = request.cursor ? request.position.read(cursors.decode(request.cursor, scope)) : undefined;
  const page = await request.read(after);
  const nextCursor =
    page.hasMore && page.last !== undefined ? cursors.encode(request.position.write(page.last), scope) : '';
  return { data: page.rows, nextCursor };
}
