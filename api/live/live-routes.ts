import type { CheckAnswer, CheckAnswerCache } from '../../shared/checks/check-answers.js';
import { normalizeE164 } from '../../shared/jid.js';
import { parseGivenNumber } from '../../shared/phones/phone-numbers.js';
import { firstRefusal } from '../http/admission.js';
import type { ApiRouter } from '../http/api-router.js';
import type { Principal } from '../auth/principal.js';
import type { SessionAccess } from '../sessions/session-access.js';
import type { LiveClient } from './live-client.js';
import {
  AboutResult,
  CheckNumberQuery,
  CheckNumberResult,
  LiveSessionPath,
  PictureQuery,
  PictureResult,
  UserJidPath,
  AnyJidPath,
} from './live-schemas.js';

export interface LiveRouteDeps {
  sessions: SessionAccess;
  live: LiveClient;
  answers: CheckAnswerCache;
}

/** The digits to ask about: as the numbering plan reads them when it knows the number (Argentina's "15" form becomes +54 9), else as given. */
function checkedNumber(phone: string): string {
  const parsed = parseGivenNumber(phone);
  return parsed.valid ? parsed.digits : normalizeE164(phone)!;
}

const LIVE_NOTE =
  'This is a **live** operation against WhatsApp: the session must be connected, else 501 `not_implemented` (503 `unavailable` while it moves to another worker, which reconnects it in a moment: retry). No answer within LIVE_TIMEOUT_MS ⇒ 504 `timeout`, and the operation is then never executed.';

/** Passes once the rate limiter admits the caller and the session is theirs; the live call checks presence meanwhile. */
function callerGate(
  deps: LiveRouteDeps,
  ctx: { admitted: Promise<void>; principal: Principal; params: { session: string } },
): Promise<void> {
  const gate = firstRefusal([ctx.admitted, deps.sessions.require(ctx.principal.organizationId, ctx.params.session)]);
  // Handlers await the gate only after their own first round trip: a refusal settling before then
  // must not count as unhandled, which would end the api process.
  gate.catch(() => undefined);
  return gate;
}

function answerOf(query: string, answer: CheckAnswer, cached: boolean) {
  const on = answer.onWhatsApp;
  return {
    isOnWhatsApp: on,
    jid: on ? answer.jid : null,
    query,
    ...(on && answer.lid ? { lid: answer.lid } : {}),
    ...(on && answer.matchedAs ? { matchedAs: answer.matchedAs } : {}),
    cached,
    checkedAt: answer.checkedAt,
  };
}

/** Must be registered before the stored `/contacts/{lid}` route so `/contacts/check` is not taken for a lid. */
export function registerLiveContactRoutes(api: ApiRouter, deps: LiveRouteDeps): void {
  api.add({
    method: 'get',
    path: '/api/v1/sessions/{session}/contacts/check',
    operationId: 'checkNumber',
    summary: 'Check whether a phone number is on WhatsApp',
    description: `Asks WhatsApp whether the given phone number has an account and, if so, returns its JID (and LID when revealed). Read-only: it neither adds the number as a contact nor notifies the other party. A Brazilian, Mexican or Argentine number is asked in both its national forms in the one query; \`matchedAs\` says which form WhatsApp knows. An answer WhatsApp gave within CHECK_CACHE_TTL (or within \`maxAgeSeconds\`) is served from the organization's answer cache without asking again (\`cached: true\`; \`checkedAt\` says when WhatsApp answered); the session must still be connected. ${LIVE_NOTE}`,
    tags: ['Contacts'],
    capability: 'read',
    overlapsAdmission: true,
    params: LiveSessionPath,
    query: CheckNumberQuery,
    success: { status: 200, description: 'Whether the number is on WhatsApp.', schema: CheckNumberResult },
    errors: ['validation_error', 'not_found', 'rate_limited', 'not_implemented', 'timeout'],
    handler: async (ctx) => {
      const phone = checkedNumber(ctx.query.phone);
      const query = ctx.query.phone.trim();
      const gate = callerGate(deps, ctx);
      const organizationId = ctx.principal.organizationId;
      const maxAgeMs = deps.answers.maxAgeMs(ctx.query.maxAgeSeconds);
      const cached = maxAgeMs > 0 ? (await deps.answers.find(organizationId, [phone], maxAgeMs)).get(phone) : undefined;
      if (cached) {
        // Saves the WhatsApp query, not the contract: the session must still be the caller's and connected.
        await deps.live.admit(ctx.params.session, 'online', gate);
        return answerOf(query, cached, true);
      }
      const result = await deps.live.run('contacts.check', ctx.params.session, { phone }, ctx.req.id, gate);
      const answer: CheckAnswer = {
        phone,
        onWhatsApp: result.isOnWhatsApp,
        jid: result.jid,
        lid: result.lid ?? null,
        matchedAs: result.matchedAs ?? null,
        checkedAt: Date.now(),
      };
      // The caller has WhatsApp's answer either way; a failed cache write only means asking again next time.
      await deps.answers.save(organizationId, [answer]).catch(() => undefined);
      return answerOf(query, answer, false);
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
      return deps.live.run(
        'contacts.about',
        ctx.params.session,
        { jid: ctx.params.jid },
        ctx.req.id,
        callerGate(deps, ctx),
      );
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
      return deps.live.run(
        'contacts.picture',
        ctx.params.session,
        { jid: ctx.params.jid, type: ctx.query.type },
        ctx.req.id,
        callerGate(deps, ctx),
      );
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
        await deps.live.run(
          action === 'block' ? 'contacts.block' : 'contacts.unblock',
          ctx.params.session,
          { jid: ctx.params.jid },
          ctx.req.id,
          callerGate(deps, ctx),
        );
        return undefined;
      },
    });
  }
}
