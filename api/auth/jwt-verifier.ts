import jwt, { type JwtPayload } from 'jsonwebtoken';
import jwksRsa from 'jwks-rsa';
import { isCapability, type Capability } from '../../shared/capabilities.js';
import type { Config } from '../../shared/config.js';
import { AppError } from '../../shared/errors.js';
import type { Principal } from './principal.js';

type JwtConfig = NonNullable<Config['jwt']>;

/** jwks-rsa errors that are an answer about the token's kid; any other failure means the JWKS could not be fetched. */
const KEY_REFUSALS = new Set(['SigningKeyNotFoundError', 'JwksRateLimitError']);

/**
 * Login JWTs minted by the frontend. Keys come from its JWKS through jwks-rsa, which caches them
 * and refetches (rate-limited) when a token names a kid it has not seen.
 */
export class JwtVerifier {
  private readonly jwks: jwksRsa.JwksClient;

  constructor(private readonly config: JwtConfig) {
    this.jwks = jwksRsa({
      jwksUri: config.jwksUrl,
      cache: true,
      cacheMaxEntries: 20,
      cacheMaxAge: 10 * 60_000,
      rateLimit: true,
      jwksRequestsPerMinute: config.jwksRequestsPerMinute,
      timeout: 5_000,
    });
  }

  async verify(token: string): Promise<Principal> {
    let keySetUnreachable = false;
    const payload = await new Promise<JwtPayload>((resolve, reject) => {
      jwt.verify(
        token,
        (header, callback) => {
          if (!header.kid) return callback(new Error('token has no kid'));
          this.jwks.getSigningKey(header.kid).then(
            (key) => callback(null, key.getPublicKey()),
            (err: Error) => {
              keySetUnreachable = !KEY_REFUSALS.has(err.name);
              callback(err);
            },
          );
        },
        {
          algorithms: this.config.algorithms as jwt.Algorithm[],
          issuer: this.config.issuer,
          audience: this.config.audience,
          clockTolerance: this.config.clockToleranceS,
          complete: false,
        },
        (err, decoded) => {
          if (err) return reject(err);
          if (!decoded || typeof decoded === 'string') return reject(new Error('token payload is not an object'));
          // jsonwebtoken enforces exp only when present; a login token that never expires is refused.
          if (typeof decoded.exp !== 'number') return reject(new Error('token has no exp claim'));
          resolve(decoded);
        },
      );
    }).catch((err: Error) => {
      // The frontend's key set being down says nothing about the token: the caller should retry, not log in again.
      if (keySetUnreachable) throw new AppError('unavailable', 'the login key set (JWKS) cannot be fetched; retry shortly');
      throw new AppError('unauthorized', `invalid token: ${err.message}`);
    });

    const organizationId = claimString(payload, this.config.orgClaim);
    if (!organizationId) throw new AppError('unauthorized', `token has no "${this.config.orgClaim}" claim`);
    const role = claimString(payload, this.config.roleClaim);
    const capabilities: Capability[] = role ? (this.config.roleCapabilities[role] ?? []).filter(isCapability) : [];
    return { kind: 'jwt', subject: typeof payload.sub === 'string' ? payload.sub : 'unknown', organizationId, capabilities: new Set(capabilities) };
  }
}

/** Reads a claim by name, or by dotted path for namespaced claims such as "app.org". */
function claimString(payload: JwtPayload, name: string): string | undefined {
  let value: unknown = payload[name];
  if (value === undefined && name.includes('.')) {
    value = name.split('.').reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), payload);
  }
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
