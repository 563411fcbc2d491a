import { normalizeE164 } from '../../shared/jid.js';
import { firstRefusal } from '../http/admission.js';
import type { ApiRouter } from '../http/api-router.js';
import type { Principal } from '../auth/principal.js';
import type { SessionAccess } from '../sessions/session-access.js';
import type { LiveClient } from './live-client.js';
import { AboutResult, CheckNumberQuery, CheckNumberResult, LiveSessionPath, PictureQuery, PictureResult, UserJidPath, AnyJidPath } from './live-schemas.js';

export interface LiveRouteDeps {
  sessions: SessionAccess;
  live: LiveClient;
}

const LIVE_NOTE = 'This is a **live** operation against WhatsApp: the session must be connected, else 501 `not_implemented`. No answer within LIVE_TIMEOUT_MS ⇒ 504 `timeout`, and the operation is then never executed.';

/** Passes once the rate limiter admits the caller and the session is theirs; the live call checks presence meanwhile. */
function callerGate(deps: LiveRouteDeps, ctx: { admitted: Promise<void>; principal: Principal; params: { session: string } }): Promise<void> {
  return firstRefusal([ctx.admitted, deps.sessions.require(ctx.principal.organizationId, ctx.params.session)]);
}

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
    handler: async (ctx) => {
      const phone = normalizeE164(ctx.query.phone)!;
      const result = await deps.live.run('contacts.check', ctx.params.session, { phone }, ctx.req.id, callerGate(deps, ctx));
      return { isOnWhatsApp: result.isOnWhatsApp, jid: result.jid, query: ctx.query.phone.trim(), ...(result.lid ? { lid: result.lid } : {}) };
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
    handler: async (ctx) => {
      return deps.live.run('contacts.about', ctx.params.session, { jid: ctx.params.jid }, ctx.req.id, callerGate(deps, ctx));
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
    handler: async (ctx) => {
      return deps.live.run('contacts.picture', ctx.params.session, { jid: ctx.params.jid, type: ctx.query.type }, ctx.req.id, callerGate(deps, ctx));
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
      handler: async (ctx) => {
        await deps.live.run(action === 'block' ? 'contacts.block' : 'contacts.unblock', ctx.params.session, { jid: ctx.params.jid }, ctx.req.id, callerGate(deps, ctx));
        return undefined;
      },
    });
  }
}
