import type { RequestHandler } from 'express';
import { AppError } from '../../shared/errors.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Cross-site request forgery defence for the admin pages, whose browser sessions ride on a
 * cookie: a state-changing request is refused when a browser says it comes from another origin.
 * The browser's own Sec-Fetch-Site decides when present (only `same-origin`, or `none` for what
 * the user typed); without it, the Origin header's host must be this server's; a request with
 * neither did not come from a browser page (curl, scripts), so there is no session to forge. This
 * is the check Go's net/http CrossOriginProtection makes. It does not rely on SameSite cookies,
 * and also covers HTTP Basic credentials a browser would replay on its own.
 */
export const sameOriginOnly: RequestHandler = (req, _res, next) => {
  if (SAFE_METHODS.has(req.method)) return next();
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) {
    if (site === 'same-origin' || site === 'none') return next();
    throw refused(`Sec-Fetch-Site: ${String(site)}`);
  }
  const origin = req.headers.origin;
  if (origin === undefined) return next();
  if (hostOf(origin) !== req.host?.toLowerCase()) throw refused(`Origin: ${origin}`);
  next();
};

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

function refused(why: string): AppError {
  return new AppError(
    'forbidden',
    `cross-site request refused (${why}); admin actions must come from this server's own pages`,
  );
}
