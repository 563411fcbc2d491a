import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';

export const ADMIN_COOKIE = 'wag_admin';
const COOKIE_PATH = '/admin';

/** What the Bull Board session cookie vouches for. It never holds the token itself. */
export interface AdminSession {
  kind: 'api_key' | 'jwt' | 'operator';
  /** The API key id, the JWT subject, or the operator user name. */
  subject: string;
  organizationId: string | null;
  /** For operator sessions: a fingerprint of the credentials, so changing the password ends every session. */
  credential?: string;
  expiresAt: number;
}

/**
 * The session cookie is `<base64url JSON>.<base64url HMAC-SHA256>`: stateless, so any api
 * instance sharing ADMIN_SESSION_SECRET accepts it, and tamper-evident.
 */
export class AdminSessionCodec {
  constructor(
    private readonly secret: string,
    readonly ttlMs: number,
  ) {}

  encode(session: AdminSession): string {
    const payload = Buffer.from(JSON.stringify(session)).toString('base64url');
    return `${payload}.${this.sign(payload)}`;
  }

  /** The session, or undefined when the value is malformed, forged or expired. */
  decode(value: string, now = Date.now()): AdminSession | undefined {
    const [payload, signature, extra] = value.split('.');
    if (!payload || !signature || extra !== undefined) return undefined;
    const expected = Buffer.from(this.sign(payload));
    const presented = Buffer.from(signature);
    if (expected.length !== presented.length || !timingSafeEqual(expected, presented)) return undefined;
    let session: AdminSession;
    try {
      session = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as AdminSession;
    } catch {
      return undefined;
    }
    if (typeof session.expiresAt !== 'number' || session.expiresAt <= now) return undefined;
    return session;
  }

  credentialFingerprint(user: string, password: string): string {
    return createHmac('sha256', this.secret).update(`operator\0${user}\0${password}`).digest('base64url').slice(0, 22);
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url');
  }
}

export function readAdminCookie(req: Request): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === ADMIN_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** HttpOnly (no script reads it), SameSite=Strict (no other site sends it), Secure whenever the request came over https. */
export function setAdminCookie(req: Request, res: Response, value: string, maxAgeMs: number): void {
  res.cookie(ADMIN_COOKIE, value, {
    path: COOKIE_PATH,
    httpOnly: true,
    sameSite: 'strict',
    secure: req.secure,
    maxAge: maxAgeMs,
    encode: String,
  });
}

export function clearAdminCookie(req: Request, res: Response): void {
  res.clearCookie(ADMIN_COOKIE, { path: COOKIE_PATH, httpOnly: true, sameSite: 'strict', secure: req.secure });
}
