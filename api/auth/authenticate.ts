import type { RequestHandler } from 'express';
import type { Capability } from '../../shared/capabilities.js';
import { AppError } from '../../shared/errors.js';
import { API_KEY_TOKEN_PREFIX } from './api-key-tokens.js';
import type { ApiKeyVerifier } from './api-key-verifier.js';
import type { JwtVerifier } from './jwt-verifier.js';
import type { Principal } from './principal.js';

const BEARER = /^Bearer[ ]+([^\s]+)[ ]*$/i;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Tries each token kind in turn: an API key by its prefix, otherwise a login JWT. */
export function authenticate(apiKeys: ApiKeyVerifier, jwts: JwtVerifier | undefined): RequestHandler {
  return async (req, res, next) => {
    const header = req.headers.authorization;
    if (!header) throw new AppError('unauthorized', 'missing Authorization: Bearer <token> header');
    const match = BEARER.exec(header);
    if (!match) throw new AppError('unauthorized', 'Authorization header must be "Bearer <token>"');
    const token = match[1]!;
    let principal: Principal;
    if (token.startsWith(API_KEY_TOKEN_PREFIX)) principal = await apiKeys.verify(token);
    else if (JWT_SHAPE.test(token) && jwts) principal = await jwts.verify(token);
    else throw new AppError('unauthorized', 'token is neither a valid API key nor a login JWT');
    res.locals.principal = principal;
    next();
  };
}

export function requireCapability(capability: Capability): RequestHandler {
  return (_req, res, next) => {
    const principal = res.locals.principal;
    if (!principal) throw new AppError('unauthorized', 'not authenticated');
    if (!principal.capabilities.has(capability)) {
      throw new AppError('forbidden', `this operation needs the "${capability}" capability`, { required: capability });
    }
    next();
  };
}

export function principalOf(locals: { principal?: Principal }): Principal {
  if (!locals.principal) throw new AppError('unauthorized', 'not authenticated');
  return locals.principal;
}
