import express, { type Express, type RequestHandler } from 'express';
import { AppError } from '../../shared/errors.js';
import type { WatchedQueue } from '../queues/watched-queues.js';
import { clientAddress } from '../http/client-address.js';
import type { AdminAccess, AdminLoginForm } from './admin-access.js';
import { clearAdminCookie, setAdminCookie } from './admin-session.js';
import { bullBoardRouter } from './bull-board.js';
import { loginPage } from './login-page.js';
import { sameOriginOnly } from './same-origin.js';

export const BULL_BOARD_PATH = '/admin/queues';
const LOGIN_PATH = '/admin/login';
const READ_METHODS = new Set(['GET', 'HEAD']);
const PAGE_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
};

/**
 * Bull Board for operators. A browser cannot send a Bearer header, so it signs in once on
 * /admin/login and then carries a signed session cookie; scripts may send Bearer or Basic instead.
 * Every state-changing request under /admin must come from this server's own pages (CSRF).
 */
export function registerAdminRoutes(app: Express, access: AdminAccess, queues: readonly WatchedQueue[]): void {
  const page = (error?: string) => loginPage({ operatorLogin: access.operatorLoginEnabled, ...(error ? { error } : {}) });

  app.use('/admin', sameOriginOnly);

  app.get(LOGIN_PATH, (_req, res) => void res.set(PAGE_HEADERS).type('html').send(page()));

  app.post(LOGIN_PATH, express.urlencoded({ extended: false, limit: '16kb' }), async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const form: AdminLoginForm = {};
    for (const field of ['token', 'user', 'password'] as const) if (typeof body[field] === 'string') form[field] = body[field];
    try {
      const session = await access.login(form, clientAddress(req));
      setAdminCookie(req, res, access.sessions.encode(session), session.expiresAt - Date.now());
      res.redirect(303, BULL_BOARD_PATH);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      const retryAfter = err.details['retryAfterSeconds'];
      if (typeof retryAfter === 'number') res.setHeader('Retry-After', String(retryAfter));
      // The form answers a person: the same page with the reason, under the status the API would use.
      res.status(err.status).set(PAGE_HEADERS).type('html').send(page(err.message));
    }
  });

  app.get('/admin/logout', (req, res) => {
    clearAdminCookie(req, res);
    res.redirect(303, LOGIN_PATH);
  });

  app.use(BULL_BOARD_PATH, boardFor(access, bullBoardRouter(queues, BULL_BOARD_PATH, true), bullBoardRouter(queues, BULL_BOARD_PATH, false)));
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
      if (READ_METHODS.has(req.method) && req.accepts(['json', 'html']) === 'html') return res.redirect(302, LOGIN_PATH);
      throw new AppError('unauthorized', `Bull Board needs a manage login (${LOGIN_PATH}), a Bearer token or operator credentials`);
    }
    access.authorize(identity);
    res.setHeader('X-Frame-Options', 'DENY');
    const mayAct = access.mayAct(identity);
    if (!mayAct && !READ_METHODS.has(req.method)) {
      throw new AppError('forbidden', 'Bull Board is read-only for you: queue actions are for the operator (ADMIN_QUEUE_ACTIONS)');
    }
    (mayAct ? actingBoard : readOnlyBoard)(req, res, next);
  };
}
