import type { RequestHandler } from 'express';
import type { Capability } from '../../shared/capabilities.js';
import { AppError } from '../../shared/errors.js';
import { clientAddress } from '../http/client-address.js';
import { API_KEY_TOKEN_PREFIX } from './api-key-tokens.js';
import type { ApiKeyVerifier } from './api-key-verifier.js';
import type { FailedAuthLimiter } from './failed-auth-limiter.js';
import type { JwtVerifier } from './jwt-verifier.js';
import type { Principal } from './principal.js';

const BEARER = /^Bearer[ ]+([^\s]+)[ ]*$/i;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Tries each token kind in turn: an API key by its prefix, otherwise a login JWT. Reads headers
 * only: nothing of the body has been read when this runs. A client that keeps presenting bad
 * tokens is refused before any MySQL read (FailedAuthLimiter); what verifies without one, a login
 * JWT or a key this process holds, still goes through, so that clients sharing an address with it
 * (a NAT, a proxy missing from TRUST_PROXY) are not all locked out.
 */
export function authenticate(
  apiKeys: ApiKeyVerifier,
  jwts: JwtVerifier | undefined,
  failures: FailedAuthLimiter,
): RequestHandler {
  return async (req, res, next) => {
    const header = req.headers.authorization;
    if (!header) throw new AppError('unauthorized', 'missing Authorization: Bearer <token> header');
    const token = bearerToken(header);
    if (!token) throw new AppError('unauthorized', 'Authorization header must be "Bearer <token>"');
    const client = clientAddress(req);
    const refusal = failures.refusal(client);
    if (refusal && token.startsWith(API_KEY_TOKEN_PREFIX) && !apiKeys.holds(token)) throw refusal;
    try {
      res.locals.principal = await verifyToken(token, apiKeys, jwts);
    } catch (err) {
      if (err instanceof AppError && err.code === 'unauthorized') await failures.failed(client);
      throw err;
    }
    next();
  };
}

export function bearerToken(header: string): string | undefined {
  return BEARER.exec(header)?.[1];
}

/** The bearer token check on its own, for callers that receive the token some other way (the admin login form). */
export async function verifyToken(
  token: string,
  apiKeys: ApiKeyVerifier,
  jwts: JwtVerifier | undefined,
): Promise<Principal> {
  if (token.startsWith(API_KEY_TOKEN_PREFIX)) return apiKeys.verify(token);
  if (JWT_SHAPE.test(token) && jwts) return jwts.verify(token);
  throw new AppError('unauthorized', 'token is neither a valid API key nor a login JWT');
}

export function assertCapability(principal: Principal, capability: Capability): void {
  if (!principal.capabilities.has(capability)) {
    throw new AppError('forbidden', `this operation needs the "${capability}" capability`, { required: capability });
  }
}

export function principalOf(locals: { principal?: Principal }): Principal {
  if (!locals.principal) throw new AppError('unauthorized', 'not authenticated');
  return locals.principal;
}
