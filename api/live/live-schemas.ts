import { jidKind, type JidKind } from '../../shared/jid.js';
import { LIVE_OPERATIONS, PICTURE_TYPES } from '../../shared/live/operations.js';
import { E164Param, SessionParam } from '../http/schemas.js';
import { z } from '../http/zod.js';

const jidParam = (allowed: JidKind[], description: string) =>
  z
    .string()
    .max(128)
    .refine(
      (jid) => {
        const kind = jidKind(jid);
        return kind !== undefined && allowed.includes(kind);
      },
      `must be a WhatsApp JID of a ${allowed.join(', ')} (e.g. 14155550123@s.whatsapp.net)`,
    )
    .openapi({ param: { name: 'jid', in: 'path' }, description, example: '14155550123@s.whatsapp.net' });

const JID_DESCRIPTION =
  'A WhatsApp JID — the address of a user (e.g. "14155550123@s.whatsapp.net" or a "…@lid"), group ("...@g.us"), or channel. For contact picture/about/block/unblock this is the target user\'s JID.';

export const LiveSessionPath = z.object({ session: SessionParam });

export const CheckNumberQuery = z.object({
  phone: E164Param.openapi({
    description: 'The phone number to look up, in E.164 form (digits, optionally with a leading +).',
    example: '+14155550123',
  }),
  maxAgeSeconds: z.coerce
    .number({ error: 'must be an integer number of seconds, 0 or more' })
    .int('must be an integer number of seconds, 0 or more')
    .min(0, 'must be an integer number of seconds, 0 or more')
    .optional()
    .openapi({
      type: 'integer',
      description:
        "Answer from the organization's answer cache only if WhatsApp gave the answer at most this many seconds ago (never older than CHECK_CACHE_TTL); 0 always asks WhatsApp.",
      example: 3600,
    }),
});

export const CheckNumberResult = LIVE_OPERATIONS['contacts.check'].output
  .extend({
    cached: z.boolean().openapi({
      description: "True when the answer came from the organization's answer cache instead of a WhatsApp query.",
    }),
    checkedAt: z
      .number()
      .int()
      .openapi({ description: 'When WhatsApp gave this answer (epoch ms).', example: 1719662400000 }),
  })
  .openapi('NumberCheck');

export const UserJidPath = z.object({ session: SessionParam, jid: jidParam(['user', 'lid'], JID_DESCRIPTION) });
export const AnyJidPath = z.object({
  session: SessionParam,
  jid: jidParam(['user', 'lid', 'group', 'channel'], JID_DESCRIPTION),
});

export const AboutResult = LIVE_OPERATIONS['contacts.about'].output.openapi('About');

export const PictureQuery = z.object({
  type: z
    .enum(PICTURE_TYPES, { error: 'must be "image" or "preview"' })
    .default('image')
    .openapi({ description: 'image: full size; preview: thumbnail.' }),
});

export const PictureResult = LIVE_OPERATIONS['contacts.picture'].output.openapi('ProfilePicture');
