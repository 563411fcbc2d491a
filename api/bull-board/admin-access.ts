import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import jwt from 'jsonwebtoken';
import type { DataSource } from 'typeorm';
import type { Capability } from '../../shared/capabilities.js';
import type { Config } from '../../shared/config.js';
import { ApiKey } from '../../shared/db/entities/api-key.js';
import { StoreUnavailableError } from '../../shared/db/unavailable.js';
import { AppError } from '../../shared/errors.js';
import type { ApiKeyVerifier } from '../auth/api-key-verifier.js';
import { bearerToken, verifyToken } from '../auth/authenticate.js';
import type { JwtVerifier } from '../auth/jwt-verifier.js';
import type { Principal } from '../auth/principal.js';
import { EVERY_ORGANIZATION, type OrganizationScope } from '../auth/organization-scope.js';
import { type AdminSession, type AdminSessionCodec, readAdminCookie } from './admin-session.js';

/** Someone who reached the admin pages: a caller with a token, or an operator from config. */
export interface AdminIdentity {
  kind: AdminSession['kind'];
  subject: string;
  organizationId: string | null;
  capabilities: ReadonlySet<Capability>;
}

export interface AdminLoginForm {
  token?: string;
  user?: string;
  password?: string;
}

const BASIC = /^Basic[ ]+([A-Za-z0-9+/=]+)[ ]*$/i;
const ALL_CAPABILITIES: ReadonlySet<Capability> = new Set(['read', 'send', 'manage']);

/**
 * Who may use the admin pages, and how far they see: `manage` callers (API key or login JWT) and
 * the operator credentials from config. Bull Board and the console's cross-organization pages
 * show every organization's data, which is why the organization allow-list exists; the console's
 * session and batch pages serve any other manage caller its own organization.
 */
export class AdminAccess {
  private readonly operator: { user: Buffer; password: Buffer; fingerprint: string } | undefined;

  constructor(
    private readonly apiKeys: ApiKeyVerifier,
    private readonly jwts: JwtVerifier | undefined,
    private readonly db: DataSource,
    readonly sessions: AdminSessionCodec,
    private readonly config: Config['admin'],
  ) {
    const basic = config.basic;
    this.operator = basic ? { user: digest(basic.user), password: digest(basic.password), fingerprint: sessions.credentialFingerprint(basic.user, basic.password) } : undefined;
  }

  get operatorLoginEnabled(): boolean {
    return this.operator !== undefined;
  }

  /** From the Authorization header (Bearer or Basic) or else the session cookie; undefined when there is neither. */
  async identify(req: Request): Promise<AdminIdentity | undefined> {
    const header = req.headers.authorization;
    if (header) {
      const basic = BASIC.exec(header);
      if (basic) {
        const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        return this.operatorLogin(decoded.slice(0, colon), colon < 0 ? '' : decoded.slice(colon + 1));
      }
      const token = bearerToken(header);
      if (!token) throw new AppError('unauthorized', 'Authorization header must be "Bearer <token>" or "Basic <credentials>"');
      return fromPrincipal(await verifyToken(token, this.apiKeys, this.jwts));
    }
    const cookie = readAdminCookie(req);
    const session = cookie ? this.sessions.decode(cookie) : undefined;
    return session ? this.fromSession(session) : undefined;
  }

  /**
   * Whose data the identity may see on the admin pages: every organization's for operators and
   * `manage` callers of ADMIN_ORGANIZATIONS, its own organization's for any other `manage` caller.
   * Throws 403 without `manage`.
   */
  reachOf(identity: AdminIdentity): OrganizationScope {
    if (identity.kind === 'operator') return EVERY_ORGANIZATION;
    if (!identity.capabilities.has('manage') || identity.organizationId === null) {
      throw new AppError('forbidden', 'the admin pages need the "manage" capability', { required: 'manage' });
    }
    return this.config.organizations.includes(identity.organizationId) ? EVERY_ORGANIZATION : identity.organizationId;
  }

  /** Throws 403 unless the identity may open Bull Board, which shows every organization's jobs. */
  authorize(identity: AdminIdentity): void {
    this.reachOf(identity);
    if (!this.admitsToBullBoard(identity)) throw new AppError('forbidden', "this organization's callers may not open Bull Board (ADMIN_ORGANIZATIONS)");
  }

  /** For a signed-in manage caller: whether Bull Board lets them in. */
  admitsToBullBoard(who: Pick<AdminIdentity, 'kind' | 'organizationId'>): boolean {
    if (who.kind === 'operator') return true;
    // Without an allow-list every organization's manage callers may open it, as before the console.
    return this.config.organizations.length === 0 || this.config.organizations.includes(who.organizationId ?? '');
  }

  /** Checks the login form and returns the session to put in the cookie; throws the error to show on the form. */
  async login(form: AdminLoginForm): Promise<AdminSession> {
    const token = form.token?.trim();
    let identity: AdminIdentity;
    let notAfter = Date.now() + this.sessions.ttlMs;
    if (token) {
      identity = fromPrincipal(await verifyToken(token, this.apiKeys, this.jwts));
      // A session must not outlive the login JWT it came from.
      const exp = identity.kind === 'jwt' ? (jwt.decode(token) as { exp?: number } | null)?.exp : undefined;
      if (typeof exp === 'number') notAfter = Math.min(notAfter, exp * 1000);
    } else if (form.user || form.password) {
      identity = this.operatorLogin(form.user ?? '', form.password ?? '');
    } else {
      throw new AppError('unauthorized', 'paste an API key or login token with the manage capability');
    }
    // Any manage caller may sign in: the console serves its own organization; Bull Board checks on every request.
    this.reachOf(identity);
    return {
      kind: identity.kind,
      subject: identity.subject,
      organizationId: identity.organizationId,
      ...(identity.kind === 'operator' ? { credential: this.operator!.fingerprint } : {}),
      expiresAt: notAfter,
    };
  }

  private operatorLogin(user: string, password: string): AdminIdentity {
    const operator = this.operator;
    // Both comparisons always run, so timing does not tell which part was wrong.
    const userOk = operator !== undefined && timingSafeEqual(digest(user), operator.user);
    const passwordOk = operator !== undefined && timingSafeEqual(digest(password), operator.password);
    if (!operator) throw new AppError('unauthorized', 'operator credentials are not enabled (ADMIN_USER / ADMIN_PASSWORD)');
    if (!userOk || !passwordOk) throw new AppError('unauthorized', 'wrong operator user or password');
    return { kind: 'operator', subject: user, organizationId: null, capabilities: ALL_CAPABILITIES };
  }

  /** A cookie is re-checked against current state: a revoked key or a changed operator password ends its sessions. */
  private async fromSession(session: AdminSession): Promise<AdminIdentity | undefined> {
    switch (session.kind) {
      case 'operator':
        if (!this.operator || session.credential !== this.operator.fingerprint) return undefined;
        return { kind: 'operator', subject: session.subject, organizationId: null, capabilities: ALL_CAPABILITIES };
      case 'api_key': {
        if (!this.db.isInitialized) throw new StoreUnavailableError('MySQL is not connected');
        const row = await this.db.getRepository(ApiKey).findOneBy({ id: session.subject });
        if (!row || row.revokedAt !== null || row.organizationId !== session.organizationId) return undefined;
        return { kind: 'api_key', subject: row.id, organizationId: row.organizationId, capabilities: new Set(row.capabilities) };
      }
      case 'jwt':
        // The login was checked when the cookie was issued, and the cookie expires with the JWT.
        return { kind: 'jwt', subject: session.subject, organizationId: session.organizationId, capabilities: new Set<Capability>(['manage']) };
      default:
        return undefined;
    }
  }
}

function fromPrincipal(principal: Principal): AdminIdentity {
  return { kind: principal.kind, subject: principal.subject, organizationId: principal.organizationId, capabilities: principal.capabilities };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
