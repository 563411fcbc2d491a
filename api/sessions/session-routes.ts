import QRCode from 'qrcode';
import { RESPONSE_SENT, type ApiRouter } from '../http/api-router.js';
import type { CursorCodec } from '../http/cursor.js';
import { cursorPage, idPosition } from '../http/paging.js';
import {
  CreateSessionBody,
  ListSessionsQuery,
  PairingCodeBody,
  PairingCodeView,
  QrView,
  SessionPage,
  SessionPath,
  SessionView,
} from './session-schemas.js';
import type { SessionService } from './session-service.js';

export interface SessionRouteDeps {
  sessions: SessionService;
  cursors: CursorCodec;
}

export function registerSessionRoutes(api: ApiRouter, deps: SessionRouteDeps): void {
  const { sessions } = deps;

  api.add({
    method: 'post',
    path: '/api/v1/sessions',
    operationId: 'createSession',
    summary: 'Create a session',
    description:
      'Attaches a new WhatsApp number to your organization. The session starts in `pairing`: fetch its QR code or request a pairing code to link the phone.',
    tags: ['Sessions'],
    capability: 'manage',
    body: CreateSessionBody,
    success: { status: 201, description: 'The new session.', schema: SessionView },
    errors: ['validation_error'],
    handler: ({ body, principal }) => sessions.create(principal.organizationId, body.name ?? null),
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
    handler: ({ query, principal }) =>
      cursorPage(deps.cursors, {
        scope: ['sessions', principal.organizationId],
        cursor: query.cursor,
        position: idPosition,
        read: (afterId) => sessions.page({ scope: principal.organizationId }, afterId, query.limit),
      }),
  });

  api.add({
    method: 'get',
    path: '/api/v1/sessions/{session}',
    operationId: 'getSession',
    summary: 'Get a session',
    description:
      'Status with why (`statusReason`), since when (`statusSince`) and the next connection attempt (`nextRetryAt`), own phone JID and LID, shard and timestamps.',
    tags: ['Sessions'],
    capability: 'read',
    params: SessionPath,
    success: { status: 200, description: 'The session.', schema: SessionView },
    errors: ['not_found'],
    handler: ({ params, principal }) => sessions.get(principal.organizationId, params.session),
  });

  api.add({
    method: 'delete',
    path: '/api/v1/sessions/{session}',
    operationId: 'deleteSession',
    summary: 'Delete a session',
    description:
      'Logs the account out when it is connected, then deletes the session with everything stored for it: contacts, groups, memberships and WhatsApp auth state.',
    tags: ['Sessions'],
    capability: 'manage',
    params: SessionPath,
    success: { status: 204, description: 'Deleted.' },
    errors: ['not_found'],
    handler: ({ params, principal, req }) => sessions.delete(principal.organizationId, params.session, req.id),
  });

  api.add({
    method: 'post',
    path: '/api/v1/sessions/{session}/logout',
    operationId: 'logoutSession',
    summary: 'Log the account out',
    description:
      'WhatsApp unlinks this device. The session becomes `logged_out`; its stored contacts stay readable until the session is deleted. Logging out a logged-out session succeeds again.',
    tags: ['Sessions'],
    capability: 'manage',
    params: SessionPath,
    success: { status: 204, description: 'Logged out.' },
    errors: ['not_found', 'not_implemented', 'timeout'],
    handler: ({ params, principal, req }) => sessions.logout(principal.organizationId, params.session, req.id),
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
      const qr = await sessions.currentQr(principal.organizationId, params.session);
      if (req.accepts(['application/json', 'image/png']) === 'image/png') {
        res.type('image/png').send(await QRCode.toBuffer(qr, { margin: 2, width: 320 }));
        return RESPONSE_SENT;
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
    handler: ({ params, body, principal, req }) =>
      sessions.pairingCode(principal.organizationId, params.session, body.phone, req.id),
  });
}
