import { normalizeE164 } from '../../shared/jid.js';
import { firstRefusal } from '../http/admission.js';
import type { ApiRouter } from '../http/api-router.js';
import type { SessionAccess } from '../sessions/session-access.js';
import type { LiveClient } from './live-client.js';
import { AboutResult, CheckNumberQuery, CheckNumberResult, LiveSessionPath, PictureQuery, PictureResult, UserJidPath, AnyJidPath } from './live-schemas.js';

export interface LiveRouteDeps {
  sessions: SessionAccess;
  live: LiveClient;
}

const LIVE_NOTE = 'This is a **live** operation against WhatsApp: the session must be connected, else 501 `not_implemented`. No answer within LIVE_TIMEOUT_MS ⇒ 504 `timeout`, and the operation is then never executed.';

/** Must be registered before the stored `/contacts/{lid}` route so `/contacts/check` is not taken for a lid. */
export function registerLiveContactRoutes(api: ApiRouter, deps: LiveRouteDeps): void {
  api.add({
    method: 'get',
    path: '/api/v1/sessions/{session}/contacts/check',
    operationId: 'checkNumber',
    summary: 'Check whether a phone number is on WhatsApp',
    description: `Asks WhatsApp whether the given phone number has an account and, if so, returns its JID (and LID when revealed). Read-only: it neither adds the number as a contact nor notifies the other party. ${LIVE_NOTE}`,
    tags: ['Contacts'],
    capability: 'read',
    overlapsAdmission: true,
    params: LiveSessionPath,
    query: CheckNumberQuery,
    success: { status: 200, description: 'Whether the number is on WhatsApp.', schema: CheckNumberResult },
    errors: ['validation_error', 'not_found', 'rate_limited', 'not_implemented', 'timeout'],
    handler: async ({ params, query, principal, admitted, req }) => {
      const gate = firstRefusal([admitted, deps.sessions.require(principal.organizationId, params.session)]);
      const phone = normalizeE164(query.phone)!;
      const result = await deps.live.run('contacts.check', params.session, { phone }, req.id, gate);
      return { isOnWhatsApp: result.isOnWhatsApp, jid: result.jid, query: query.phone.trim(), ...(result.lid ? { lid: result.lid } : {}) };
    },
  });

  api.add({
    method: 'get',
    path: '/api/v1/sessions/{session}/contacts/{jid}/about',
    operationId: 'getContactAbout',
    summary: "Get a contact's about text",
    description: `Fetches the contact's "about" text from WhatsApp. The about field is an empty string when the contact has none or restricts it by privacy settings. ${LIVE_NOTE}`,
    tags: ['Contacts'],
    capability: 'read',
    overlapsAdmission: true,
    params: UserJidPath,
    success: { status: 200, description: 'The about text.', schema: AboutResult },
    errors: ['validation_error', 'not_found', 'rate_limited', 'not_implemented', 'timeout'],
    handler: async ({ params, principal, admitted, req }) => {
      const gate = firstRefusal([admitted, deps.sessions.require(principal.organizationId, params.session)]);
      return deps.live.run('contacts.about', params.session, { jid: params.jid }, req.id, gate);
    },
  });

  api.add({
    method: 'get',
    path: '/api/v1/sessions/{session}/contacts/{jid}/picture',
    operationId: 'getContactPicture',
    summary: "Get a contact's profile picture",
    description: `Fetches the contact's (or group's) current profile picture URL from WhatsApp. 404 when there is no accessible picture (none set, or hidden by privacy settings). ${LIVE_NOTE}`,
    tags: ['Contacts'],
    capability: 'read',
    overlapsAdmission: true,
    params: AnyJidPath,
    query: PictureQuery,
    success: { status: 200, description: 'The picture URL and metadata.', schema: PictureResult },
    errors: ['validation_error', 'not_found', 'rate_limited', 'not_implemented', 'timeout'],
    handler: async ({ params, query, principal, admitted, req }) => {
      const gate = firstRefusal([admitted, deps.sessions.require(principal.organizationId, params.session)]);
      return deps.live.run('contacts.picture', params.session, { jid: params.jid, type: query.type }, req.id, gate);
    },
  });

  for (const action of ['block', 'unblock'] as const) {
    api.add({
      method: 'post',
      path: `/api/v1/sessions/{session}/contacts/{jid}/${action}`,
      operationId: `${action}Contact`,
      summary: action === 'block' ? 'Block a contact' : 'Unblock a contact',
      description: `Tells WhatsApp to ${action} this contact. Idempotent: ${action === 'block' ? 'blocking an already-blocked' : 'unblocking a not-blocked'} contact succeeds with the same 204. ${LIVE_NOTE}`,
      tags: ['Contacts'],
      capability: 'send',
      overlapsAdmission: true,
      params: UserJidPath,
      success: { status: 204, description: 'Done; empty body.' },
      errors: ['validation_error', 'not_found', 'rate_limited', 'not_implemented', 'timeout'],
      handler: async ({ params, principal, admitted, req }) => {
        const gate = firstRefusal([admitted, deps.sessions.require(principal.organizationId, params.session)]);
        await deps.live.run(action === 'block' ? 'contacts.block' : 'contacts.unblock', params.session, { jid: params.jid }, req.id, gate);
        return undefined;
      },
    });
  }
}
