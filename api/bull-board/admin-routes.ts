import express, { type Express, type RequestHandler } from 'express';
import { AppError } from '../../shared/errors.js';
import type { WatchedQueue } from '../queues/watched-queues.js';
import type { AdminAccess, AdminLoginForm } from './admin-access.js';
import { clearAdminCookie, setAdminCookie } from './admin-session.js';
import { bullBoardRouter } from './bull-board.js';
import { loginPage } from './login-page.js';

export const BULL_BOARD_PATH = '/admin/queues';
const LOGIN_PATH = '/admin/login';
const PAGE_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
};

/**
 * Bull Board for operators. A browser cannot send a Bearer header, so it signs in once on
 * /admin/login and then carries a signed session cookie; scripts may send Bearer or Basic instead.
 */
export function registerAdminRoutes(app: Express, access: AdminAccess, queues: readonly WatchedQueue[]): void {
  const page = (error?: string) => loginPage({ operatorLogin: access.operatorLoginEnabled, ...(error ? { error } : {}) });

  app.get(LOGIN_PATH, (_req, res) => void res.set(PAGE_HEADERS).type('html').send(page()));

  app.post(LOGIN_PATH, express.urlencoded({ extended: false, limit: '16kb' }), async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const form: AdminLoginForm = {};
    for (const field of ['token', 'user', 'password'] as const) if (typeof body[field] === 'string') form[field] = body[field];
    try {
      const session = await access.login(form);
      setAdminCookie(req, res, access.sessions.encode(session), session.expiresAt - Date.now());
      res.redirect(303, BULL_BOARD_PATH);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      // The form answers a person: the same page with the reason, under the status the API would use.
      res.status(err.status).set(PAGE_HEADERS).type('html').send(page(err.message));
    }
  });

  app.get('/admin/logout', (req, res) => {
    clearAdminCookie(req, res);
    res.redirect(303, LOGIN_PATH);
  });

  app.use(BULL_BOARD_PATH, requireAdmin(access), bullBoardRouter(queues, BULL_BOARD_PATH));
}

/** Lets `manage` callers through; sends a browser without credentials to the login form and anyone else a 401/403 envelope. */
function requireAdmin(access: AdminAccess): RequestHandler {
  return async (req, res, next) => {
    const identity = await access.identify(req);
    if (!identity) {
      if ((req.method === 'GET' || req.method === 'HEAD') && req.accepts(['json', 'html']) === 'html') return res.redirect(302, LOGIN_PATH);
      throw new AppError('unauthorized', `Bull Board needs a manage login (${LOGIN_PATH}), a Bearer token or operator credentials`);
    }
    access.authorize(identity);
    res.setHeader('X-Frame-Options', 'DENY');
    next();
  };
}
