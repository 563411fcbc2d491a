import { SESSION_STATUSES } from '../../shared/db/entities/wa-session.js';
import { normalizeE164 } from '../../shared/jid.js';
import { LIVE_OPERATIONS } from '../../shared/live/operations.js';
import { clampedLimit, CursorParam, SessionParam } from '../http/schemas.js';
import { z } from '../http/zod.js';
import { LIST_LIMIT } from '../contacts/contact-schemas.js';

export const SessionPath = z.object({ session: SessionParam });

export const CreateSessionBody = z
  .object({
    name: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .optional()
      .openapi({ description: 'A label for people, e.g. "Support line".', example: 'Support line' }),
  })
  .strict()
  .openapi('CreateSession');

export const ListSessionsQuery = z.object({
  limit: clampedLimit(LIST_LIMIT),
  cursor: CursorParam,
});

export const SessionView = z
  .object({
    id: z.string().openapi({ example: 'sess_01HZX9R8K4M2N6P0Q3S5T7V9WX' }),
    name: z.string().nullable(),
    status: z.enum(SESSION_STATUSES).openapi({
      description:
        'pairing: waiting for a QR scan or pairing code; connecting; online; offline (not connected now; see statusReason and nextRetryAt); logged_out.',
    }),
    statusReason: z.string().nullable().openapi({
      description:
        'Why the session is in this status, in words: the last close reason with its WhatsApp code (`timedOut (408)`), what it waits for, or why it stopped. Null when the status says it all (online). Meant for people; do not parse it.',
      example: 'timedOut (408)',
    }),
    statusSince: z.number().int().nullable().openapi({
      description:
        'Epoch ms since which the session has had this status; null when not known (a worker died without recording it).',
    }),
    nextRetryAt: z.number().int().nullable().openapi({
      description: 'Epoch ms of the next connection attempt while one is scheduled (status offline); null otherwise.',
    }),
    phoneJid: z.string().nullable().openapi({ example: '6281234567890@s.whatsapp.net' }),
    lid: z.string().nullable().openapi({ description: "The account's own LID.", example: '205227043110953@lid' }),
    shard: z.number().int().openapi({ description: 'The shard (and so the worker queue) that owns this session.' }),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
    lastConnectedAt: z.number().int().nullable(),
  })
  .openapi('Session');
export type SessionView = z.output<typeof SessionView>;

export const SessionPage = z.object({ data: z.array(SessionView), nextCursor: z.string() }).openapi('SessionPage');

export const QrView = z
  .object({
    qr: z.string().openapi({ description: 'The QR payload; render it, or use `image`.' }),
    image: z.string().openapi({ description: 'The QR as a PNG data URL.' }),
  })
  .openapi('PairingQr');

export const PairingCodeBody = z
  .object({
    phone: z
      .string({ error: 'is required' })
      .refine((p) => normalizeE164(p) !== undefined, 'must be an E.164 number: digits with an optional leading +')
      .openapi({ description: "The account's phone number in E.164.", example: '+6281234567890' }),
  })
  .strict()
  .openapi('PairingCodeRequest');

export const PairingCodeView = LIVE_OPERATIONS['session.pairingCode'].output.openapi('PairingCode');
