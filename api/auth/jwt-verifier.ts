import jwt, { type JwtPayload } from 'jsonwebtoken';
import jwksRsa from 'jwks-rsa';
import { isCapability, type Capability } from '../../shared/capabilities.js';
import type { Config } from '../../shared/config.js';
import { AppError } from '../../shared/errors.js';
import { isOrganizationId } from '../../shared/ids.js';
import { JwksKeySet, KeySetUnreachableError } from './jwks-key-set.js';
import { NO_SUBJECT, type Principal } from './principal.js';

type JwtConfig = NonNullable<Config['jwt']>;

/**
 * Login JWTs minted by the frontend, verified against the keys of its JWKS (see JwksKeySet for
 * how they are fetched and kept).
 */
export class JwtVerifier {
  private readonly keySet: JwksKeySet;

  constructor(private readonly config: JwtConfig) {
    const client = jwksRsa({ jwksUri: config.jwksUrl, cache: false, rateLimit: false, timeout: 5_000 });
    this.keySet = new JwksKeySet(client, {
      cacheMs: config.jwksCacheMs,
      cooldownMs: Math.ceil(60_000 / config.jwksRequestsPerMinute),
    });
  }

  async verify(token: string): Promise<Principal> {
    let keySetUnreachable = false;
    const payload = await new Promise<JwtPayload>((resolve, reject) => {
      jwt.verify(
        token,
        (header, callback) => {
          if (!header.kid) return callback(new Error('token has no kid'));
          this.keySet.publicKey(header.kid).then(
            (key) => callback(null, key),
            (err: Error) => {
              keySetUnreachable = err instanceof KeySetUnreachableError;
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
          const tooLong = this.lifetimeExceeded(decoded.exp, decoded.iat);
          if (tooLong) return reject(new Error(tooLong));
          resolve(decoded);
        },
      );
    }).catch((err: Error) => {
      // The frontend's key set being down says nothing about the token: the caller should retry, not log in again.
      if (keySetUnreachable)
        throw new AppError('unavailable', 'the login key set (JWKS) cannot be fetched; retry shortly');
      throw new AppError('unauthorized', `invalid token: ${err.message}`);
    });

    const organizationId = claimString(payload, this.config.orgClaim);
    if (!organizationId) throw new AppError('unauthorized', `token has no "${this.config.orgClaim}" claim`);
    // The id is looked up in MySQL: only what an organization id can be gets that far.
    if (!isOrganizationId(organizationId))
      throw new AppError(
        'unauthorized',
        `token's "${this.config.orgClaim}" claim is not an organization id (1-64 of A-Z a-z 0-9 . _ : -)`,
      );
    const role = claimString(payload, this.config.roleClaim);
    const capabilities: Capability[] = role ? (this.config.roleCapabilities.get(role) ?? []).filter(isCapability) : [];
    return {
      kind: 'jwt',
      subject: typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : NO_SUBJECT,
      organizationId,
      capabilities: new Set(capabilities),
    };
  }

  /** Why a token meant to live longer than JWT_MAX_LIFETIME_S is refused, or undefined when it is not. */
  private lifetimeExceeded(exp: number, iat: number | undefined): string | undefined {
    const max = this.config.maxLifetimeS;
    if (max === 0) return undefined;
    // exp − now bounds what is left even when iat is absent or lies; exp − iat is what it was issued for.
    if (exp - Date.now() / 1000 > max + this.config.clockToleranceS || (typeof iat === 'number' && exp - iat > max)) {
      return `token lifetime exceeds ${max} s (JWT_MAX_LIFETIME_S)`;
    }
    return undefined;
  }
}

/** Reads a claim by name, or by dotted path for namespaced claims such as "app.org"; own members only. */
function claimString(payload: JwtPayload, name: string): string | undefined {
  const member = (node: unknown, key: string): unknown =>
    node !== null && typeof node === 'object' && Object.hasOwn(node, key)
      ? (node as Record<string, unknown>)[key]
      : undefined;
  let value: unknown = member(payload, name);
  if (value === undefined && name.includes('.')) value = name.split('.').reduce<unknown>(member, payload);
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
