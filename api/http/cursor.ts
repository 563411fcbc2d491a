import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from '../../shared/errors.js';

/**
 * Opaque keyset cursors. The position is signed together with the query it belongs to, so a
 * cursor that was edited, or replayed against other filters, is refused instead of silently
 * skipping or repeating rows.
 */
export class CursorCodec {
  constructor(private readonly secret: string) {}

  encode(position: string, scope: string): string {
    const body = Buffer.from(position, 'utf8').toString('base64url');
    return `${body}.${this.sign(body, scope)}`;
  }

  decode(cursor: string, scope: string): string {
    const [body, signature, extra] = cursor.split('.');
    if (!body || !signature || extra !== undefined) throw invalidCursor();
    const expected = Buffer.from(this.sign(body, scope));
    const actual = Buffer.from(signature);
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) throw invalidCursor();
    return Buffer.from(body, 'base64url').toString('utf8');
  }

  private sign(body: string, scope: string): string {
    return createHmac('sha256', this.secret).update(scope).update('\0').update(body).digest('base64url').slice(0, 22);
  }
}

function invalidCursor(): AppError {
  return new AppError('validation_error', 'invalid query parameter: cursor', {
    cursor: 'not a cursor returned by this endpoint for these filters',
  });
}
