import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { AppError } from '../../shared/errors.js';

/**
 * CSRF protection of the console's forms, two checks deep. The form token is an HMAC of the
 * signed-in session cookie (stateless: any api instance sharing ADMIN_SESSION_SECRET can check
 * it, and it changes with every sign-in); another site can read neither. And the browser's own
 * word on where the request came from (Origin, Sec-Fetch-Site) must be this site.
 */
export class ConsoleCsrf {
  constructor(private readonly secret: string) {}

  tokenFor(sessionCookie: string): string {
    return createHmac('sha256', this.secret).update('console-csrf\0').update(sessionCookie).digest('base64url');
  }

  /** Throws 403 unless the request carries this session's token and came from a page of this site. */
  check(req: Request, sessionCookie: string | undefined, presented: unknown): void {
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `${req.protocol}://${req.host}`) {
      throw new AppError('forbidden', 'this form was sent from another site', { origin });
    }
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin') throw new AppError('forbidden', 'this form was sent from another site', { secFetchSite: site });
    if (!sessionCookie || typeof presented !== 'string') throw expired();
    const expected = Buffer.from(this.tokenFor(sessionCookie));
    const actual = Buffer.from(presented);
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) throw expired();
  }
}

function expired(): AppError {
  return new AppError('forbidden', 'the form is missing its security token or it has expired: reload the page and try again', { csrf: 'invalid' });
}
