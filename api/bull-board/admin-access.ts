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
import { clientAddress } from '../http/client-address.js';
import type { Principal } from '../auth/principal.js';
import { EVERY_ORGANIZATION, type OrganizationScope } from '../auth/organization-scope.js';
import { type AdminSession, type AdminSessionCodec, readAdminCookie } from './admin-session.js';
import type { LoginThrottle } from './login-throttle.js';

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
 * Who may use the admin pages, and how far they see. Bull Board shows (and acts on) every
 * organization's jobs: the operator credentials from config, and `manage` callers (API key or
 * login JWT) of the organizations named in ADMIN_ORGANIZATIONS, none by default, may open it; the
 * same callers see every organization in the console. Any other organization's `manage` caller
 * may sign in, and the console serves it its own organization. Who may change queues (retry,
 * promote, pause, add…) is ADMIN_QUEUE_ACTIONS: the operator only by default; everyone else sees
 * the board read-only. Failed sign-ins go through the login throttle.
 */
export class AdminAccess {
  private readonly operator: { user: Buffer; password: Buffer; fingerprint: string } | undefined;

  constructor(
    private readonly apiKeys: ApiKeyVerifier,
    private readonly jwts: JwtVerifier | undefined,
    private readonly db: DataSource,
    readonly sessions: AdminSessionCodec,
    private readonly config: Config['admin'],
    private readonly throttle: LoginThrottle,
  ) {
    const basic = config.basic;
    this.operator = basic
      ? {
          user: digest(basic.user),
          password: digest(basic.password),
          fingerprint: sessions.credentialFingerprint(basic.user, basic.password),
        }
      : undefined;
  }

  get operatorLoginEnabled(): boolean {
    return this.operator !== undefined;
  }

  /** From the Authorization header (Bearer or Basic) or else the session cookie; undefined when there is neither. */
  async identify(req: Request): Promise<AdminIdentity | undefined> {
    const header = req.headers.authorization;
    const client = clientAddress(req);
    if (header) {
      const basic = BASIC.exec(header);
      if (basic) {
        const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        return this.operatorLogin(client, decoded.slice(0, colon), colon < 0 ? '' : decoded.slice(colon + 1));
      }
      const token = bearerToken(header);
      if (!token)
        throw new AppError('unauthorized', 'Authorization header must be "Bearer <token>" or "Basic <credentials>"');
      return this.tokenLogin(client, token);
    }
    const cookie = readAdminCookie(req);
    const session = cookie ? this.sessions.decode(cookie) : undefined;
    return session ? this.fromSession(session) : undefined;
  }

  /**
   * Whose data the identity may see on the admin pages: every organization's for operators and
   * `manage` callers of ADMIN_ORGANIZATIONS, its own organization's for any other `manage` caller.
   * Throws 403 without `manage`. Bull Board and the console both decide here.
   */
  reachOf(identity: AdminIdentity): OrganizationScope {
    if (identity.kind === 'operator') return EVERY_ORGANIZATION;
    if (!identity.capabilities.has('manage') || identity.organizationId === null) {
      throw new AppError('forbidden', 'the admin pages need the "manage" capability', { required: 'manage' });
    }
    return this.admitsToBullBoard(identity) ? EVERY_ORGANIZATION : identity.organizationId;
  }

  /** Throws 403 unless the identity may open Bull Board, which shows every organization's jobs: deny by default. */
  authorize(identity: AdminIdentity): void {
    if (this.reachOf(identity) !== EVERY_ORGANIZATION) {
      throw new AppError(
        'forbidden',
        "Bull Board shows every organization's jobs: only the operator and the organizations named in ADMIN_ORGANIZATIONS may open it",
      );
    }
  }

  /** For a signed-in identity (or its session): whether it sees every organization, Bull Board included. */
  admitsToBullBoard(who: Pick<AdminIdentity, 'kind' | 'organizationId'>): boolean {
    return (
      who.kind === 'operator' || (who.organizationId !== null && this.config.organizations.includes(who.organizationId))
    );
  }

  /** Whether the identity (already authorized) may change queues, or sees Bull Board read-only. */
  mayAct(identity: AdminIdentity): boolean {
    switch (this.config.queueActions) {
      case 'none':
        return false;
      case 'operator':
        return identity.kind === 'operator';
      case 'organizations':
        return true;
    }
  }

  /** Checks the login form and returns the session to put in the cookie; throws the error to show on the form. */
  async login(form: AdminLoginForm, client: string): Promise<AdminSession> {
    const token = form.token?.trim();
    let identity: AdminIdentity;
    let notAfter = Date.now() + this.sessions.ttlMs;
    if (token) {
      identity = await this.tokenLogin(client, token);
      // A session must not outlive the login JWT it came from.
      const exp = identity.kind === 'jwt' ? (jwt.decode(token) as { exp?: number } | null)?.exp : undefined;
      if (typeof exp === 'number') notAfter = Math.min(notAfter, exp * 1000);
    } else if (form.user || form.password) {
      identity = await this.operatorLogin(client, form.user ?? '', form.password ?? '');
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

  private async operatorLogin(client: string, user: string, password: string): Promise<AdminIdentity> {
    const operator = this.operator;
    if (!operator)
      throw new AppError('unauthorized', 'operator credentials are not enabled (ADMIN_USER / ADMIN_PASSWORD)');
    // Checked before the password is: once over the limit, the right password is refused too.
    await this.throttle.check(client, user);
    // Both comparisons always run, so timing does not tell which part was wrong.
    const userOk = timingSafeEqual(digest(user), operator.user);
    const passwordOk = timingSafeEqual(digest(password), operator.password);
    if (!userOk || !passwordOk) {
      await this.throttle.failed(client, user);
      throw new AppError('unauthorized', 'wrong operator user or password');
    }
    await this.throttle.succeeded(user);
    return { kind: 'operator', subject: user, organizationId: null, capabilities: ALL_CAPABILITIES };
  }

  private async tokenLogin(client: string, token: string): Promise<AdminIdentity> {
    await this.throttle.check(client);
    try {
      return fromPrincipal(await verifyToken(token, this.apiKeys, this.jwts));
    } catch (err) {
      if (err instanceof AppError && err.code === 'unauthorized') await this.throttle.failed(client);
      throw err;
    }
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
        return {
          kind: 'api_key',
          subject: row.id,
          organizationId: row.organizationId,
          capabilities: new Set(row.capabilities),
        };
      }
      case 'jwt':
        // The login was checked when the cookie was issued, and the cookie expires with the JWT.
        return {
          kind: 'jwt',
          subject: session.subject,
          organizationId: session.organizationId,
          capabilities: new Set<Capability>(['manage']),
        };
      default:
        return undefined;
    }
  }
}

function fromPrincipal(principal: Principal): AdminIdentity {
  return {
    kind: principal.kind,
    subject: principal.subject,
    organizationId: principal.organizationId,
    capabilities: principal.capabilities,
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
