import { AppError } from '../../shared/errors.js';
import { isLid, normalizeE164, normalizeUserJid } from '../../shared/jid.js';
import type { ApiRouter } from '../http/api-router.js';
import type { CursorCodec } from '../http/cursor.js';
import { cursorPage, integerPosition } from '../http/paging.js';
import type { SessionAccess } from '../sessions/session-access.js';
import {
  ContactDetail,
  ContactPage,
  GetContactPath,
  ListContactsPath,
  ListContactsQuery,
  LookupContactQuery,
  ResolveContactsBody,
  ResolvedContacts,
} from './contact-schemas.js';
import type { ContactStore } from './contact-store.js';

export interface StoredContactDeps {
  sessions: SessionAccess;
  contacts: ContactStore;
  cursors: CursorCodec;
}

const CONTACT_POSITION = integerPosition(20);

export function registerStoredContactRoutes(api: ApiRouter, deps: StoredContactDeps): void {
  api.add({
    method: 'get',
    path: '/api/v1/sessions/{session}/contacts',
    operationId: 'listContacts',
    summary: "List a session's contacts (found users)",
    description:
      'Returns the people this session has seen, one page at a time, from stored data (works while the session is disconnected). Filters source, group and q combine. Cursor-paged in a stable order; rows added while paging appear on later pages, none is repeated.',
    tags: ['Contacts'],
    capability: 'read',
    params: ListContactsPath,
    query: ListContactsQuery,
    success: { status: 200, description: 'One page of contacts.', schema: ContactPage },
    errors: ['validation_error', 'not_found'],
    handler: async ({ params, query, principal }) => {
      const session = await deps.sessions.require(principal.organizationId, params.session);
      const filter = { source: query.source, group: query.group, q: query.q };
      return cursorPage(deps.cursors, {
        scope: [session.id, query.source, query.group, query.q],
        cursor: query.cursor,
        position: CONTACT_POSITION,
        read: async (afterId) => {
          const stored = await deps.contacts.list(session.id, filter, afterId ?? 0, query.limit);
          return { rows: stored.rows, hasMore: stored.hasMore, last: stored.lastId };
        },
      });
    },
  });

  // Before get-one: its {lid} would take "lookup" for a LID.
  api.add({
    method: 'get',
    path: '/api/v1/sessions/{session}/contacts/lookup',
    operationId: 'lookupContactByPhone',
    summary: 'Find a stored contact by phone number',
    description:
      'Which contact (LID, name, groups) has this phone number: exactly what get-one answers for that contact, also for a person known only by phone so far (`identity.lid` null). From stored data, through the unique (session, phone) index; 404 `not_found` when no contact with that number is stored. To ask WhatsApp itself, use GET …/contacts/check.',
    tags: ['Contacts'],
    capability: 'read',
    params: ListContactsPath,
    query: LookupContactQuery,
    success: { status: 200, description: 'The stored contact.', schema: ContactDetail },
    errors: ['validation_error', 'not_found'],
    handler: async ({ params, query, principal }) => {
      const session = await deps.sessions.require(principal.organizationId, params.session);
      const contact = await deps.contacts.getByPhone(session.id, normalizeE164(query.phone)!);
      if (!contact)
        throw new AppError('not_found', 'no contact with this phone number is stored', { phone: query.phone });
      return contact;
    },
  });

  api.add({
    method: 'post',
    path: '/api/v1/sessions/{session}/contacts/resolve',
    operationId: 'resolveContacts',
    summary: 'Map phone numbers and LIDs to each other',
    description:
      "For each id (E.164 phone number or LID, mixed, up to 1,000), the stored contact's LID, phone number and name, in input order; null for an id nothing is stored for (or a LID whose phone WhatsApp never revealed has `phoneNumber` null). From stored data, by index; a malformed id is 400 with `details` naming its position (`ids.3`).",
    tags: ['Contacts'],
    capability: 'read',
    params: ListContactsPath,
    body: ResolveContactsBody,
    success: { status: 200, description: 'One item per id, in input order.', schema: ResolvedContacts },
    errors: ['validation_error', 'not_found'],
    handler: async ({ params, body, principal }) => {
      const session = await deps.sessions.require(principal.organizationId, params.session);
      const parsed = body.ids.map((input) =>
        isLid(input) ? { input, lid: normalizeUserJid(input) } : { input, phone: normalizeE164(input)! },
      );
      const lids = parsed.flatMap((p) => (p.lid !== undefined ? [p.lid] : []));
      const phones = parsed.flatMap((p) => (p.phone !== undefined ? [p.phone] : []));
      const { byLid, byPhone } = await deps.contacts.identities(session.id, lids, phones);
      return {
        data: parsed.map((p) => {
          const found = p.lid !== undefined ? byLid.get(p.lid) : byPhone.get(p.phone);
          return found ? { input: p.input, ...found } : null;
        }),
      };
    },
  });

  api.add({
    method: 'get',
    path: '/api/v1/sessions/{session}/contacts/{lid}',
    operationId: 'getContact',
    summary: 'Get one contact',
    description:
      'Returns everything stored for one contact, addressed by its lid: name, whether you have a direct chat, and every group you have seen them in with their nickname (tag) and role there. Served from stored data.',
    tags: ['Contacts'],
    capability: 'read',
    params: GetContactPath,
    success: { status: 200, description: 'The stored contact.', schema: ContactDetail },
    errors: ['not_found'],
    handler: async ({ params, principal }) => {
      const session = await deps.sessions.require(principal.organizationId, params.session);
      const contact = await deps.contacts.get(session.id, params.lid);
      if (!contact) throw new AppError('not_found', 'contact not found', { lid: params.lid });
      return contact;
    },
  });
}
