import { ERROR_STATUS } from '../../shared/errors.js';
import { normalizeE164 } from '../../shared/jid.js';
import { z } from './zod.js';

export const ErrorEnvelope = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(ERROR_STATUS) as [keyof typeof ERROR_STATUS, ...(keyof typeof ERROR_STATUS)[]]),
      message: z.string(),
      details: z.record(z.string(), z.unknown()).openapi({
        description:
          'Machine-readable context; for validation errors, each offending parameter mapped to what is wrong with it.',
      }),
    }),
  })
  .openapi('Error', { example: { error: { code: 'not_found', message: 'session not found', details: {} } } });

// Session ids are ASCII (sess_<ULID>); anything else is malformed, and would not even compare
// against the ascii id column in MySQL.
export const SessionParam = z
  .string()
  .min(1)
  .max(200)
  .openapi({
    param: { name: 'session', in: 'path' },
    description: 'The WhatsApp session id (a session is one attached WhatsApp number).',
    example: 'sess_01HZX',
  });

/** A phone number in E.164 form (digits with an optional leading +), as the gateway's normaliser accepts it. */
export const E164Param = z
  .string({ error: 'is required' })
  .refine((p) => normalizeE164(p) !== undefined, 'must be an E.164 number: digits with an optional leading +');

/** A page size: an integer; 0 or absent means the default; values outside the bounds are clamped to them. */
export const clampedLimit = (bounds: { min: number; max: number; default: number }) =>
  z
    .string()
    .regex(/^[+-]?\d{1,30}$/, 'must be an integer')
    .optional()
    .transform((raw) => {
      const n = raw === undefined ? 0 : Number(raw);
      return n === 0 ? bounds.default : Math.min(bounds.max, Math.max(bounds.min, n));
    })
    .openapi({
      type: 'integer',
      format: 'int64',
      description: `Page size, clamped to ${bounds.min}–${bounds.max}; ${bounds.default} when omitted or 0.`,
      example: bounds.default,
    });

export const CursorParam = z.string().max(200, 'is not a valid cursor').optional().openapi({
  description:
    "Opaque cursor: pass the previous response's nextCursor. Omit on the first request; an empty nextCursor means the last page was reached.",
});
