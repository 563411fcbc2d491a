import { createHash } from 'node:crypto';
import express, {
  Router,
  type Express,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import QRCode from 'qrcode';
import { SESSION_STATUSES, type SessionStatus } from '../../shared/db/entities/wa-session.js';
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { EVERY_ORGANIZATION, type OrganizationScope } from '../auth/organization-scope.js';
import { streamCsv } from '../batches/check-batch-csv.js';
import type { CheckBatchStore } from '../batches/check-batch-store.js';
import type { AdminAccess, AdminIdentity } from '../bull-board/admin-access.js';
import { LOGIN_PATH } from '../bull-board/admin-routes.js';
import { readAdminCookie } from '../bull-board/admin-session.js';
import type { CursorCodec } from '../http/cursor.js';
import { toAppError } from '../http/error-handler.js';
import { cursorPage, idPosition } from '../http/paging.js';
import { parseRequestPart } from '../http/validate.js';
import { CreateSessionBody, PairingCodeBody } from '../sessions/session-schemas.js';
import { isUnpaired, type SessionService } from '../sessions/session-service.js';
import { batchesPage } from './batches-page.js';
import { CONSOLE_SCRIPT, CONSOLE_STYLES, SCRIPT_PATH, STYLES_PATH } from './console-assets.js';
import type { ConsoleCsrf } from './console-csrf.js';
import { CONSOLE_PATHS, errorPage, sessionPath, type ConsoleViewer } from './console-layout.js';
import type { FleetStatus } from './fleet-status.js';
import type { SessionDetails } from './session-details.js';
import { confirmDeletePage, PAIRING_CODE_LIFETIME_MS, sessionPage } from './session-page.js';
import { sessionsPage } from './sessions-page.js';
import { workersPage } from './workers-page.js';

export interface ConsoleDeps {
  access: AdminAccess;
  sessions: SessionService;
  details: SessionDetails;
  fleet: FleetStatus;
  batches: CheckBatchStore;
  csrf: ConsoleCsrf;
  cursors: CursorCodec;
  logger: Logger;
}

interface ConsoleContext {
  viewer: ConsoleViewer;
  /** The signed-in session cookie the form token is bound to; undefined for Bearer and Basic callers. */
  cookie: string | undefined;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      console?: ConsoleContext;
    }
  }
}

const PAGE_SIZE = 50;
const RUNNING_BATCHES = 100;
const FINISHED_BATCHES = 25;

/** No script or style but the console's own files; images may be the QR's data: URL; nothing may frame the pages. */
const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/** Fixed texts for `?notice=`, so a link can never make the page say something else. */
const NOTICES: Record<string, string> = {
  created: 'Session created. Scan the QR code below with the phone, or ask for a pairing code.',
  logged_out: 'The account was logged out of WhatsApp.',
  deleted: 'The session was deleted.',
};

/**
 * The operator console under /admin: sessions (create, pair, log out, delete), check batches,
 * and, for those who see every organization, workers and shards. Server-rendered pages behind
 * the Bull Board login; every change goes through the same services as the API.
 */
export function registerConsoleRoutes(app: Express, deps: ConsoleDeps): void {
  app.get(SCRIPT_PATH, asset('text/javascript', CONSOLE_SCRIPT));
  app.get(STYLES_PATH, asset('text/css', CONSOLE_STYLES));

  const router = Router();
  router.use(signedIn(deps.access, deps.csrf));
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 });
  const viewerOf = (res: Response) => res.locals.console!.viewer;
  const changes = (req: Request, res: Response) =>
    deps.csrf.check(res.locals.console!.cookie, (req.body as Record<string, unknown> | undefined)?.['_csrf']);

  router.get('/', (_req, res) => res.redirect(302, CONSOLE_PATHS.sessions));

  router.get('/sessions', async (req, res) => {
    const viewer = viewerOf(res);
    const status = statusParam(req.query['status']);
    const organization = viewer.scope === EVERY_ORGANIZATION ? textParam(req.query['org']) : undefined;
    const scope: OrganizationScope = organization ?? viewer.scope;
    const page = await cursorPage(deps.cursors, {
      scope: ['console-sessions', scopeKey(viewer.scope), organization, status],
      cursor: textParam(req.query['cursor']),
      position: idPosition,
      read: (after) => deps.sessions.page({ scope, status }, after, PAGE_SIZE),
    });
    const ids = page.data.map((v) => v.id);
    const [details, workers] = await Promise.all([deps.details.of(ids), deps.fleet.workersOf(ids)]);
    const query = (cursor: string) =>
      new URLSearchParams({ ...(status ? { status } : {}), ...(organization ? { org: organization } : {}), cursor });
    res.type('html').send(
      sessionsPage(viewer, {
        rows: page.data.map((view) => ({ view, detail: details.get(view.id), worker: workers.get(view.id) ?? null })),
        status,
        organization,
        nextHref: page.nextCursor ? `${CONSOLE_PATHS.sessions}?${query(page.nextCursor).toString()}` : undefined,
        notice: noticeParam(req.query['notice']),
      }),
    );
  });

  router.post('/sessions', form, async (req, res) => {
    changes(req, res);
    const viewer = viewerOf(res);
    const fields = req.body as Record<string, unknown>;
    const name = textParam(fields['name']);
    const body = parseRequestPart(CreateSessionBody, name === undefined ? {} : { name }, 'body');
    let organizationId: string;
    if (viewer.scope === EVERY_ORGANIZATION) {
      const chosen = textParam(fields['organization']);
      if (!chosen)
        throw new AppError('validation_error', 'invalid body parameter: organization', { organization: 'is required' });
      organizationId = chosen;
    } else {
      organizationId = viewer.scope;
    }
    const view = await deps.sessions.create(organizationId, body.name ?? null);
    res.redirect(303, `${sessionPath(view.id)}?notice=created`);
  });

  router.get('/sessions/:id', async (req, res) => {
    const viewer = viewerOf(res);
    const id = req.params['id'];
    const pairing = await deps.sessions.pairingState(viewer.scope, id);
    const [details, workers, qr] = await Promise.all([
      deps.details.of([id]),
      deps.fleet.workersOf([id]),
      qrImage(pairing.qr),
    ]);
    res.type('html').send(
      sessionPage(viewer, {
        view: pairing.session,
        detail: details.get(id),
        worker: workers.get(id) ?? null,
        qr,
        pairingCode: undefined,
        pairingError: undefined,
        notice: noticeParam(req.query['notice']),
        now: Date.now(),
      }),
    );
  });

  // Polled by the session page's script: where pairing stands, and the QR image only when it changed.
  router.get('/sessions/:id/pairing', async (req, res) => {
    const viewer = viewerOf(res);
    const id = req.params['id'];
    const [pairing, details] = await Promise.all([
      deps.sessions.pairingState(viewer.scope, id),
      deps.details.of([id], { counts: false }),
    ]);
    const qrId = pairing.qr === undefined ? null : qrIdOf(pairing.qr);
    const image = pairing.qr !== undefined && qrId !== req.query['have'] ? (await qrImage(pairing.qr))!.image : null;
    res.json({
      status: pairing.session.status,
      statusReason: details.get(id)?.statusReason ?? null,
      unpaired: isUnpaired(pairing.session),
      qrId,
      qrImage: image,
    });
  });

  router.post('/sessions/:id/pairing-code', form, async (req, res) => {
    changes(req, res);
    const viewer = viewerOf(res);
    const id = req.params['id'];
    const phone = textParam((req.body as Record<string, unknown>)['phone']);
    let pairingCode: { code: string; phone: string; expiresAt: number } | undefined;
    let failure: AppError | undefined;
    try {
      const body = parseRequestPart(PairingCodeBody, { phone }, 'body');
      const { code } = await deps.sessions.pairingCode(viewer.scope, id, body.phone, req.id);
      pairingCode = { code, phone: body.phone, expiresAt: Date.now() + PAIRING_CODE_LIFETIME_MS };
    } catch (err) {
      failure = toAppError(err);
      if (failure.code === 'not_found') throw failure;
    }
    const pairing = await deps.sessions.pairingState(viewer.scope, id);
    const [details, workers, qr] = await Promise.all([
      deps.details.of([id]),
      deps.fleet.workersOf([id]),
      qrImage(pairing.qr),
    ]);
    res
      .status(failure ? failure.status : 200)
      .type('html')
      .send(
        sessionPage(viewer, {
          view: pairing.session,
          detail: details.get(id),
          worker: workers.get(id) ?? null,
          qr,
          pairingCode,
          pairingError: failure?.message,
          notice: undefined,
          now: Date.now(),
        }),
      );
  });

  router.post('/sessions/:id/logout', form, async (req, res) => {
    changes(req, res);
    const id = req.params['id'];
    await deps.sessions.logout(viewerOf(res).scope, id, req.id);
    res.redirect(303, `${sessionPath(id)}?notice=logged_out`);
  });

  router.get('/sessions/:id/delete', async (req, res) => {
    const viewer = viewerOf(res);
    const id = req.params['id'];
    const view = await deps.sessions.get(viewer.scope, id);
    res.type('html').send(confirmDeletePage(viewer, view, (await deps.details.of([id])).get(id)));
  });

  router.post('/sessions/:id/delete', form, async (req, res) => {
    changes(req, res);
    await deps.sessions.delete(viewerOf(res).scope, req.params['id'], req.id);
    res.redirect(303, `${CONSOLE_PATHS.sessions}?notice=deleted`);
  });

  router.get('/batches/:batch/results.csv', async (req, res) => {
    const batch = await deps.batches.get({ organizationId: viewerOf(res).scope }, req.params['batch']);
    if (!batch) throw new AppError('not_found', 'batch not found');
    await streamCsv(res, batch, undefined, deps.batches);
  });

  router.get('/batches', async (_req, res) => {
    const viewer = viewerOf(res);
    const [running, finished] = await Promise.all([
      deps.batches.acrossSessions(viewer.scope, true, RUNNING_BATCHES),
      deps.batches.acrossSessions(viewer.scope, false, FINISHED_BATCHES),
    ]);
    res.type('html').send(batchesPage(viewer, { running, finished }));
  });

  router.get('/workers', async (_req, res) => {
    const viewer = viewerOf(res);
    if (viewer.scope !== EVERY_ORGANIZATION) {
      throw new AppError(
        'forbidden',
        'workers and shards are shown to operators and to the organizations in ADMIN_ORGANIZATIONS',
      );
    }
    const now = Date.now();
    res.type('html').send(workersPage(viewer, await deps.fleet.snapshot(now), now));
  });

  router.use((_req, _res, next) => next(new AppError('not_found', 'no such console page')));
  router.use(consoleErrors(deps.logger));
  app.use('/admin', router);
}

/** Sends a browser without a session to the login form (and back here after it); refuses others with 401, and callers without manage with 403. */
function signedIn(access: AdminAccess, csrf: ConsoleCsrf): RequestHandler {
  return async (req, res, next) => {
    res.set(PAGE_HEADERS);
    const identity = await access.identify(req);
    if (!identity) {
      if (req.method === 'GET' && req.accepts(['json', 'html']) === 'html')
        return res.redirect(302, `${LOGIN_PATH}?next=${encodeURIComponent(req.originalUrl)}`);
      throw new AppError(
        'unauthorized',
        `the console needs a manage login (${LOGIN_PATH}), a Bearer token or operator credentials`,
      );
    }
    const scope = access.reachOf(identity);
    // A form token only for the cookie: a Bearer or Basic caller (a script) reads pages but cannot send the forms.
    const cookie = req.headers.authorization ? undefined : readAdminCookie(req);
    res.locals.console = {
      viewer: {
        label: labelOf(identity),
        scope,
        bullBoard: access.admitsToBullBoard(identity),
        csrf: cookie ? csrf.tokenFor(cookie) : undefined,
      },
      cookie,
    };
    next();
  };
}

/** A person gets a page saying what went wrong; a script (the pairing poll) gets the API's error envelope. */
function consoleErrors(logger: Logger) {
  return (err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent || req.accepts(['json', 'html']) !== 'html') return next(err);
    const error = toAppError(err);
    if (error.status >= 500) logger.error({ err, reqId: req.id }, error.message);
    res
      .status(error.status)
      .set(PAGE_HEADERS)
      .type('html')
      .send(errorPage(res.locals.console?.viewer, error.status, error.message));
  };
}

function asset(type: string, body: string): RequestHandler {
  return (_req, res) =>
    void res
      .set({ 'Cache-Control': 'public, max-age=31536000, immutable', 'X-Content-Type-Options': 'nosniff' })
      .type(type)
      .send(body);
}

function labelOf(identity: AdminIdentity): string {
  if (identity.kind === 'operator') return `operator ${identity.subject}`;
  return `${identity.kind === 'api_key' ? 'API key ' : ''}${identity.subject} (${identity.organizationId ?? ''})`;
}

function scopeKey(scope: OrganizationScope): string {
  return scope === EVERY_ORGANIZATION ? '*' : scope;
}

function textParam(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function statusParam(value: unknown): SessionStatus | undefined {
  const text = textParam(value);
  if (text === undefined) return undefined;
  if (!(SESSION_STATUSES as readonly string[]).includes(text))
    throw new AppError('validation_error', 'invalid query parameter: status', {
      status: `must be one of ${SESSION_STATUSES.join(', ')}`,
    });
  return text as SessionStatus;
}

function noticeParam(value: unknown): string | undefined {
  return typeof value === 'string' && Object.hasOwn(NOTICES, value) ? NOTICES[value] : undefined;
}

function qrIdOf(qr: string): string {
  return createHash('sha256').update(qr).digest('base64url').slice(0, 16);
}

async function qrImage(qr: string | undefined): Promise<{ id: string; image: string } | undefined> {
  if (qr === undefined) return undefined;
  return { id: qrIdOf(qr), image: await QRCode.toDataURL(qr, { margin: 2, width: 320 }) };
}
