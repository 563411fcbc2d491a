import express, { type Express, type RequestHandler } from 'express';
import { AppError } from '../../shared/errors.js';
import type { WatchedQueue } from '../queues/watched-queues.js';
import { clientAddress } from '../http/client-address.js';
import type { AdminAccess, AdminLoginForm } from './admin-access.js';
import { clearAdminCookie, setAdminCookie } from './admin-session.js';
import { bullBoardRouter } from './bull-board.js';
import { loginPage, signOutPage } from './login-page.js';
import { sameOriginOnly } from './same-origin.js';

export const BULL_BOARD_PATH = '/admin/queues';
export const CONSOLE_PATH = '/admin';
export const LOGIN_PATH = '/admin/login';
export const LOGOUT_PATH = '/admin/logout';
const READ_METHODS = new Set(['GET', 'HEAD']);
const PAGE_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy':
    "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
};

/**
 * Bull Board for operators. A browser cannot send a Bearer header, so it signs in once on
 * /admin/login and then carries a signed session cookie; scripts may send Bearer or Basic instead.
 * Every state-changing request under /admin must come from this server's own pages (CSRF).
 */
export function registerAdminRoutes(app: Express, access: AdminAccess, queues: readonly WatchedQueue[]): void {
  const page = (next: string | undefined, error?: string) =>
    loginPage({ operatorLogin: access.operatorLoginEnabled, next, ...(error ? { error } : {}) });

  app.use('/admin', sameOriginOnly);

  app.get(
    LOGIN_PATH,
    (req, res) =>
      void res
        .set(PAGE_HEADERS)
        .type('html')
        .send(page(adminPathOrUndefined(req.query['next']))),
  );

  app.post(LOGIN_PATH, express.urlencoded({ extended: false, limit: '16kb' }), async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const form: AdminLoginForm = {};
    for (const field of ['token', 'user', 'password'] as const)
      if (typeof body[field] === 'string') form[field] = body[field];
    const next = adminPathOrUndefined(body['next']);
    try {
      const session = await access.login(form, clientAddress(req));
      setAdminCookie(req, res, access.sessions.encode(session), session.expiresAt - Date.now());
      res.redirect(303, next ?? (access.admitsToBullBoard(session) ? BULL_BOARD_PATH : CONSOLE_PATH));
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      const retryAfter = err.details['retryAfterSeconds'];
      if (typeof retryAfter === 'number') res.setHeader('Retry-After', String(retryAfter));
      // The form answers a person: the same page with the reason, under the status the API would use.
      res.status(err.status).set(PAGE_HEADERS).type('html').send(page(next, err.message));
    }
  });

  app.get(LOGOUT_PATH, (_req, res) => void res.set(PAGE_HEADERS).type('html').send(signOutPage()));

  app.post(LOGOUT_PATH, (req, res) => {
    clearAdminCookie(req, res);
    res.redirect(303, LOGIN_PATH);
  });

  const links = { console: CONSOLE_PATH, signOut: LOGOUT_PATH };
  app.use(
    BULL_BOARD_PATH,
    boardFor(
      access,
      bullBoardRouter(queues, BULL_BOARD_PATH, true, links),
      bullBoardRouter(queues, BULL_BOARD_PATH, false, links),
    ),
  );
}

/**
 * Sends a browser without credentials to the login form and anyone else not allowed a 401/403
 * envelope; serves the others the board, read-only unless they may act on queues. Read-only is
 * enforced here: Bull Board reads with GET only, so any other method is an action.
 */
function boardFor(access: AdminAccess, readOnlyBoard: RequestHandler, actingBoard: RequestHandler): RequestHandler {
  return async (req, res, next) => {
    const identity = await access.identify(req);
    if (!identity) {
      if (READ_METHODS.has(req.method) && req.accepts(['json', 'html']) === 'html')
        return res.redirect(302, LOGIN_PATH);
      throw new AppError(
        'unauthorized',
        `Bull Board needs a manage login (${LOGIN_PATH}), a Bearer token or operator credentials`,
      );
    }
    access.authorize(identity);
    res.setHeader('X-Frame-Options', 'DENY');
    const mayAct = access.mayAct(identity);
    if (!mayAct && !READ_METHODS.has(req.method)) {
      throw new AppError(
        'forbidden',
        'Bull Board is read-only for you: queue actions are for the operator (ADMIN_QUEUE_ACTIONS)',
      );
    }
    (mayAct ? actingBoard : readOnlyBoard)(req, res, next);
  };
}

/** A page of the admin area to return to after signing in; anything else (another site, `//host`) is dropped. */
export function adminPathOrUndefined(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 500) return undefined;
  return /^\/admin(?:[/?][\w\-./?=&%~]*)?$/.test(value) && !value.includes('//') && !value.includes('/..')
    ? value
    : undefined;
}
