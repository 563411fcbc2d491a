import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from '../../shared/errors.js';

/**
 * The console's form tokens. A state change must carry the token of the signed-in session: an HMAC
 * of its cookie, so it is stateless (any api instance sharing ADMIN_SESSION_SECRET checks it) and
 * changes with every sign-in, and another site can neither read nor guess it. This is the second
 * lock: sameOriginOnly (bull-board/same-origin.ts) already refuses what a browser says came from
 * another site, for every state change under /admin.
 */
export class ConsoleCsrf {
  constructor(private readonly secret: string) {}

  tokenFor(sessionCookie: string): string {
    return createHmac('sha256', this.secret).update('console-csrf\0').update(sessionCookie).digest('base64url');
  }

  /** Throws 403 unless `presented` is the token of this session cookie. */
  check(sessionCookie: string | undefined, presented: unknown): void {
    if (!sessionCookie || typeof presented !== 'string') throw expired();
    const expected = Buffer.from(this.tokenFor(sessionCookie));
    const actual = Buffer.from(presented);
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) throw expired();
  }
}

function expired(): AppError {
  return new AppError(
    'forbidden',
    'the form is missing its security token or it has expired: reload the page and try again',
    { csrf: 'invalid' },
  );
}
