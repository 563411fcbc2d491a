import { AppError } from '../../shared/errors.js';
import type { ApiRouter } from '../http/api-router.js';
import type { CursorCodec } from '../http/cursor.js';
import { cursorPage, integerPosition } from '../http/paging.js';
import type { SessionAccess } from '../sessions/session-access.js';
import { ContactDetail, ContactPage, GetContactPath, ListContactsPath, ListContactsQuery } from './contact-schemas.js';
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
