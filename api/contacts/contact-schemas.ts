import { z } from '../http/zod.js';
import { isLid, normalizeE164 } from '../../shared/jid.js';
import { clampedLimit, CursorParam, E164Param, SessionParam } from '../http/schemas.js';

export const LIST_LIMIT = { min: 1, max: 200, default: 50 } as const;

const GROUP_JID = /^[0-9]+(-[0-9]+)?@g\.us$/;

export const ListContactsPath = z.object({ session: SessionParam });

export const ListContactsQuery = z.object({
  source: z.enum(['dm', 'group'], { error: 'must be "dm" or "group"' }).optional().openapi({
    description:
      'dm keeps only people you have a direct chat with; group keeps only people seen in a group. Omit to return contacts from both sources.',
  }),
  group: z.string().regex(GROUP_JID, 'must be a group JID such as 12345-67890@g.us').optional().openapi({
    description: 'Keep only members of this group JID (e.g. "12345-67890@g.us").',
    example: '12345-67890@g.us',
  }),
  q: z.string().max(100, 'must be at most 100 characters').optional().openapi({
    description: "Case-insensitive substring search over each contact's name or phone number. % and _ match literally.",
  }),
  limit: clampedLimit(LIST_LIMIT),
  cursor: CursorParam,
});
export type ListContactsQuery = z.output<typeof ListContactsQuery>;

export const ContactSummary = z
  .object({
    lid: z.string().nullable().openapi({ example: '205227043110953@lid' }),
    name: z.string().nullable().openapi({ example: 'Alice' }),
    phoneNumber: z.string().nullable().openapi({ example: '6281234567890' }),
    businessName: z.string().nullable().openapi({ example: 'Acme Corp' }),
    source: z.enum(['dm', 'group']).openapi({
      description:
        'Why the contact is in this list: the source filter when one was given, group when filtered by group alone, otherwise dm when you have a direct chat with them and group when only seen in groups.',
    }),
  })
  .openapi('ContactSummary');

export const ContactPage = z
  .object({
    data: z.array(ContactSummary),
    nextCursor: z
      .string()
      .openapi({ description: 'Pass back as cursor for the next page; empty string on the last page.' }),
  })
  .openapi('ContactPage');

export const GetContactPath = z.object({
  session: SessionParam,
  lid: z
    .string()
    .min(1)
    .max(128)
    .openapi({
      param: { name: 'lid', in: 'path' },
      description: "The contact's LID, WhatsApp's stable per-account identifier.",
      example: '123456789@lid',
    }),
});

export const ContactGroup = z
  .object({
    jid: z.string().openapi({ example: '120363025246125486@g.us' }),
    name: z.string().nullable().openapi({ description: 'The group subject.' }),
    role: z.enum(['member', 'admin', 'superadmin']),
    tag: z.string().nullable().openapi({ description: 'Their nickname in this group.' }),
    lastSeen: z.number().int().openapi({ description: 'Epoch milliseconds.' }),
  })
  .openapi('ContactGroup');

export const ContactDetail = z
  .object({
    dm: z.boolean(),
    groups: z.array(ContactGroup),
    identity: z.object({
      id: z.number().int().openapi({ example: 1024 }),
      lid: z.string().nullable().openapi({ example: '205227043110953@lid' }),
      name: z.string().nullable().openapi({ example: 'Alice' }),
      businessName: z.string().nullable().openapi({ example: 'Acme Corp' }),
      phoneJid: z.string().nullable().openapi({ example: '6281234567890@s.whatsapp.net' }),
      phoneNumber: z.string().nullable().openapi({ example: '6281234567890' }),
      firstSeenAt: z.number().int().openapi({ example: 1719662400000 }),
      updatedAt: z.number().int().openapi({ example: 1719662400000 }),
    }),
  })
  .openapi('ContactDetail');
export type ContactDetail = z.output<typeof ContactDetail>;
export type ContactSummary = z.output<typeof ContactSummary>;

export const LookupContactQuery = z.object({
  phone: E164Param.openapi({
    description: 'The phone number, E.164 (digits, optionally with a leading + sent as %2B).',
    example: '+6281234567890',
  }),
});

/** Most ids one resolve call takes. */
export const MAX_RESOLVE_IDS = 1_000;

export const ResolveContactsBody = z
  .object({
    ids: z
      .array(
        z
          .string()
          .max(128, 'must be at most 128 characters')
          .refine(
            (id) => isLid(id) || normalizeE164(id) !== undefined,
            'must be an E.164 phone number or a LID (…@lid)',
          ),
      )
      .min(1, 'must hold at least one id')
      .max(MAX_RESOLVE_IDS, `must hold at most ${MAX_RESOLVE_IDS} ids`)
      .openapi({
        description: `Up to ${MAX_RESOLVE_IDS} E.164 phone numbers and LIDs, mixed.`,
        example: ['+6281234567890', '205227043110953@lid'],
      }),
  })
  .strict()
  .openapi('ResolveContacts');

export const ResolvedContact = z
  .object({
    input: z.string().openapi({ description: 'The id as given.' }),
    lid: z.string().nullable().openapi({ example: '205227043110953@lid' }),
    phoneNumber: z.string().nullable().openapi({ example: '6281234567890' }),
    name: z.string().nullable().openapi({ example: 'Alice' }),
  })
  .openapi('ResolvedContact');

export const ResolvedContacts = z
  .object({
    data: z
      .array(ResolvedContact.nullable())
      .openapi({ description: 'One item per input id, in input order; null when nothing is stored for it.' }),
  })
  .openapi('ResolvedContacts');
