import type { Redis } from 'ioredis';
import QRCode from 'qrcode';
import type { AdminService } from '../admin/admin-service.js';
import { AppError } from '../../shared/errors.js';
import { normalizeE164 } from '../../shared/jid.js';
import type { RedisKeys } from '../../shared/redis-keys.js';
import { sessionChangedMessage } from '../../shared/control-messages.js';
import { shardOf } from '../../shared/shards.js';
import type { ApiRouter } from '../http/api-router.js';
import type { CursorCodec } from '../http/cursor.js';
import type { LiveClient } from '../live/live-client.js';
import type { SessionAccess } from './session-access.js';
import { CreateSessionBody, ListSessionsQuery, PairingCodeBody, PairingCodeView, QrView, SessionPage, SessionPath, SessionView } from './session-schemas.js';
import type { SessionViews } from './session-views.js';

export interface SessionRouteDeps {
  admin: AdminService;
  access: SessionAccess;
  views: SessionViews;
  live: LiveClient;
  cursors: CursorCodec;
  redis: Redis;
  keys: RedisKeys;
  db: { query: (sql: string, args?: unknown[]) => Promise<unknown> };
  /** How long a pairing request keeps an unpaired session's connection (and its QR codes) alive. */
  pairingWindowMs: number;
  shardCount: number;
}

const QR_WAIT_MS = 5_000;

export function registerSessionRoutes(api: ApiRouter, deps: SessionRouteDeps): void {
  /** Tells the workers a session appeared or went away, so its owner acts now rather than at the next reconcile. */
  const announce = (sessionId: string) =>
    deps.redis.publish(deps.keys.control(), sessionChangedMessage(sessionId)).catch(() => undefined);

  /** Someone is pairing this session now: its worker keeps (or takes back) its connection for another window. */
  const wantPairing = (sessionId: string) => deps.redis.set(deps.keys.pairingWanted(sessionId), '1', 'PX', deps.pairingWindowMs).catch(() => undefined);

  /** Whether some worker holds the session's shard (so a QR code or pairing code can come); true when Redis cannot tell. */
  const workerHolds = async (sessionId: string) => (await deps.redis.exists(deps.keys.lease(shardOf(sessionId, deps.shardCount))).catch(() => 1)) === 1;

  const viewOf = async (sessionId: string): Promise<SessionView> => {
    const view = await deps.views.one(sessionId);
    if (!view) throw new AppError('not_found', 'session not found');
    return view;
  };

  api.add({
    method: 'post',
    path: '/api/v1/sessions',
    operationId: 'createSession',
    summary: 'Create a session',
    description: 'Attaches a new WhatsApp number to your organization. The session starts in `pairing`: fetch its QR code or request a pairing code to link the phone.',
    tags: ['Sessions'],
    capability: 'manage',
    body: CreateSessionBody,
    success: { status: 201, description: 'The new session.', schema: SessionView },
    errors: ['validation_error'],
    handler: async ({ body, principal }) => {
      const session = await deps.admin.createSession(principal.organizationId, body.name ?? null);
      await wantPairing(session.id);
      await announce(session.id);
      return viewOf(session.id);
    },
  });

  api.add({
    method: 'get',
    path: '/api/v1/sessions',
    operationId: 'listSessions',
    summary: "List your organization's sessions",
    description: 'Cursor-paged, oldest first.',
    tags: ['Sessions'],
    capability: 'manage',
    query: ListSessionsQuery,
    success: { status: 200, description: 'One page of sessions.', schema: SessionPage },
    errors: ['validation_error'],
    handler: async ({ query, principal }) => {
      const scope = `sessions\u0001${principal.organizationId}`;
      const afterId = query.cursor ? deps.cursors.decode(query.cursor, scope) : '';
      const page = await deps.views.page(principal.organizationId, afterId, query.limit);
      const last = page.rows[page.rows.length - 1];
      return { data: page.rows, nextCursor: page.hasMore && last ? deps.cursors.encode(last.id, scope) : '' };
    },
  });

  api.add({
    method: 'get',
    path: '/api/v1/sessions/{session}',
    operationId: 'getSession',
    summary: 'Get a session',
    description: 'Status with why (`statusReason`), since when (`statusSince`) and the next connection attempt (`nextRetryAt`), own phone JID and LID, shard and timestamps.',
    tags: ['Sessions'],
    capability: 'read',
    params: SessionPath,
    success: { status: 200, description: 'The session.', schema: SessionView },
    errors: ['not_found'],
    handler: async ({ params, principal }) => {
      await deps.access.require(principal.organizationId, params.session);
      return viewOf(params.session);
    },
  });

  api.add({
    method: 'delete',
    path: '/api/v1/sessions/{session}',
    operationId: 'deleteSession',
    summary: 'Delete a session',
    description: 'Logs the account out when it is connected, then deletes the session with everything stored for it: contacts, groups, memberships and WhatsApp auth state.',
    tags: ['Sessions'],
    capability: 'manage',
    params: SessionPath,
    success: { status: 204, description: 'Deleted.' },
    errors: ['not_found'],
    handler: async ({ params, principal, req }) => {
      const session = await deps.access.requireCurrent(principal.organizationId, params.session);
      if (session.status !== 'logged_out') {
        // Best effort: an offline account cannot be told, its stored data goes regardless.
        await deps.live.run('session.logout', session.id, {}, req.id).catch(() => undefined);
      }
      await deps.db.query('DELETE FROM wa_sessions WHERE id = ?', [session.id]);
      deps.access.forget(session.id);
      await deps.redis.del(deps.keys.qr(session.id), deps.keys.presence(session.id)).catch(() => undefined);
      await announce(session.id);
      return undefined;
    },
  });

  api.add({
    method: 'post',
    path: '/api/v1/sessions/{session}/logout',
    operationId: 'logoutSession',
    summary: 'Log the account out',
    description: 'WhatsApp unlinks this device. The session becomes `logged_out`; its stored contacts stay readable until the session is deleted. Logging out a logged-out session succeeds again.',
    tags: ['Sessions'],
    capability: 'manage',
    params: SessionPath,
    success: { status: 204, description: 'Logged out.' },
    errors: ['not_found', 'not_implemented', 'timeout'],
    handler: async ({ params, principal, req }) => {
      const session = await deps.access.requireCurrent(principal.organizationId, params.session);
      if (session.status === 'logged_out') return undefined;
      await deps.live.run('session.logout', session.id, {}, req.id);
      const now = Date.now();
      await deps.db.query(
        `UPDATE wa_sessions SET status = 'logged_out', status_reason = 'logged out through the API', status_since = ?, next_retry_at = NULL, updated_at = ? WHERE id = ?`,
        [now, now, session.id],
      );
      await announce(session.id);
      return undefined;
    },
  });

  api.add({
    method: 'get',
    path: '/api/v1/sessions/{session}/qr',
    operationId: 'getSessionQr',
    summary: 'Get the pairing QR code',
    description:
      'The current QR code to scan in WhatsApp → Linked devices. JSON with the QR payload and a PNG data URL, or the PNG itself with `Accept: image/png`. WhatsApp rotates the code about every 20 s: fetch it again when it expires. Asking keeps the session connected for another pairing window (`PAIRING_WINDOW_MS`); a session nobody asked about for that long is disconnected, and this request brings it back (the answer may then take a few seconds). 409 when the session is already paired; 503 when no code came within 5 s (no worker runs the session, or it is still connecting).',
    tags: ['Sessions'],
    capability: 'manage',
    params: SessionPath,
    success: { status: 200, description: 'The QR code.', schema: QrView, contentTypes: ['application/json'] },
    errors: ['not_found', 'conflict', 'unavailable'],
    handler: async ({ params, principal, req, res }) => {
      const session = await deps.access.require(principal.organizationId, params.session);
      await requireUnpaired(deps, session.id);
      await wantPairing(session.id);
      const qr = await waitForQr(deps, session.id, announce);
      if (!qr) {
        if (!(await workerHolds(session.id))) throw new AppError('unavailable', 'no worker is running this session right now; retry when one is up', { retryAfterSeconds: 5 });
        throw new AppError('unavailable', 'the QR code is not ready yet; retry in a few seconds', { retryAfterSeconds: 2 });
      }
      if (req.accepts(['application/json', 'image/png']) === 'image/png') {
        res.type('image/png').send(await QRCode.toBuffer(qr, { margin: 2, width: 320 }));
        return undefined;
      }
      return { qr, image: await QRCode.toDataURL(qr, { margin: 2, width: 320 }) };
    },
  });

  api.add({
    method: 'post',
    path: '/api/v1/sessions/{session}/pairing-code',
    operationId: 'requestPairingCode',
    summary: 'Request a pairing code',
    description:
      "Links the account by phone number instead of a QR scan: returns WhatsApp's 8-character code to enter on the phone, and `expiresAt`, when it stops working. WhatsApp gives a code only to a connection that is showing QR codes, so the request waits up to 5 s for one. 409 when already paired; 501 when no worker runs the session; 503 (with Retry-After) while the session's connection is not showing QR codes yet: retry in a few seconds.",
    tags: ['Sessions'],
    capability: 'manage',
    params: SessionPath,
    body: PairingCodeBody,
    success: { status: 200, description: 'The pairing code.', schema: PairingCodeView },
    errors: ['validation_error', 'not_found', 'conflict', 'not_implemented', 'unavailable', 'timeout'],
    handler: async ({ params, body, principal, req }) => {
      const session = await deps.access.require(principal.organizationId, params.session);
      await requireUnpaired(deps, session.id);
      await wantPairing(session.id);
      // A session let go after its pairing window is connected again first. Its QR code in Redis
      // says its current connection has finished the handshake and waits for a registration (the
      // worker deletes the code as soon as that connection goes): only then can WhatsApp give a
      // code that works. The worker checks the same again, for the moment in between.
      const qr = await waitForQr(deps, session.id, announce).catch(() => undefined);
      if (!qr) {
        if (!(await workerHolds(session.id))) throw new AppError('not_implemented', 'no worker is running this session right now; retry when one is up', { sessionId: session.id });
        throw new AppError('unavailable', 'WhatsApp is not ready for a pairing code yet (the session is still connecting); retry in a few seconds', { retryAfterSeconds: 2 });
      }
      return deps.live.run('session.pairingCode', session.id, { phone: normalizeE164(body.phone)! }, req.id);
    },
  });
}

async function requireUnpaired(deps: SessionRouteDeps, sessionId: string): Promise<void> {
  const view = await deps.views.one(sessionId);
  if (!view) throw new AppError('not_found', 'session not found');
  if (view.status === 'logged_out') throw new AppError('conflict', 'session is logged out; create a new session to pair again', { status: view.status });
  if (view.phoneJid !== null || view.status === 'online') throw new AppError('conflict', 'session is already paired', { status: view.status });
}

/** The session's current QR code, waiting a few seconds for its worker to show one; undefined if none came. */
async function waitForQr(deps: SessionRouteDeps, sessionId: string, announce: (id: string) => Promise<unknown>): Promise<string | undefined> {
  const key = deps.keys.qr(sessionId);
  let qr = await deps.redis.get(key);
  if (qr) return qr;
  await announce(sessionId);
  const deadline = Date.now() + QR_WAIT_MS;
  while (!qr && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 150));
    qr = await deps.redis.get(key);
  }
  return qr ?? undefined;
}

