import {
  BATCH_STATUSES,
  MAX_BATCH_NUMBERS,
  MAX_POOL_SESSIONS,
  NUMBER_STATUSES,
  WAITING_REASONS,
} from '../../shared/batches/check-batch-jobs.js';
import { INVALID_NUMBER_REASONS } from '../../shared/phones/phone-numbers.js';
import { clampedLimit, CursorParam, SessionParam } from '../http/schemas.js';
import { z } from '../http/zod.js';

export const RESULTS_LIMIT = { min: 1, max: 1000, default: 100 } as const;
export const LIST_LIMIT = { min: 1, max: 100, default: 20 } as const;

const cursor = CursorParam;

export const CheckBatchSessionPath = z.object({ session: SessionParam });

const BatchIdParam = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a batch id such as batch_01J9Z3M4X8Q2N5R7T0V6W1Y3ZB')
  .openapi({
    param: { name: 'id', in: 'path' },
    description: 'The batch id returned when the batch was created.',
    example: 'batch_01J9Z3M4X8Q2N5R7T0V6W1Y3ZB',
  });

export const CheckBatchPath = z.object({ session: SessionParam, id: BatchIdParam });
export const PooledBatchPath = z.object({ id: BatchIdParam });

const MaxAgeSeconds = z.coerce
  .number({ error: 'must be an integer number of seconds, 0 or more' })
  .int('must be an integer number of seconds, 0 or more')
  .min(0, 'must be an integer number of seconds, 0 or more')
  .optional()
  .openapi({
    type: 'integer',
    description:
      'Reuse answers from the answer cache only if at most this many seconds old (never older than CHECK_CACHE_TTL); 0 asks WhatsApp about every number afresh.',
    example: 86400,
  });

/** Query parameters of a batch creation, for bodies (CSV, plain text, a bare array) that cannot carry them. */
export const CreateCheckBatchQuery = z.object({ maxAgeSeconds: MaxAgeSeconds });
export const CreatePooledBatchQuery = z.object({
  sessions: z
    .string()
    .max(2_000)
    .optional()
    .openapi({
      description: `The sessions to check through, comma-separated (1–${MAX_POOL_SESSIONS}); or give them as \`sessions\` in a JSON body.`,
      example: 'sess_01HZX,sess_01J0A',
    }),
  maxAgeSeconds: MaxAgeSeconds,
});

const PhoneEntry = z.union([z.string(), z.number().int()]).openapi({
  description:
    'A phone number in any common notation: "+62 812-3456-7890", "0062812…", "(415) 555 0123" with its country code, or digits.',
  example: '+62 812-3456-7890',
});
const PhoneList = z.array(PhoneEntry).min(1).max(MAX_BATCH_NUMBERS);

const MaxAgeField = z.number().int().min(0).optional().openapi({
  description: 'As the query parameter maxAgeSeconds: how old a reused cached answer may be; 0 = ask WhatsApp afresh.',
});

/** What the request body may be, for the document; check-batch-input.ts parses it with precise errors. */
export const CheckBatchJsonBody = z
  .union([z.object({ phones: PhoneList, maxAgeSeconds: MaxAgeField }), PhoneList])
  .openapi('CheckBatchInput', {
    description: `Up to ${MAX_BATCH_NUMBERS.toLocaleString('en')} phone numbers: {"phones": [...]} or a bare JSON array.`,
    example: { phones: ['+14155550123', '+62 812-3456-7890', '0049 151 23456789'] },
  });

export const PooledBatchJsonBody = z
  .object({
    phones: PhoneList,
    sessions: z
      .array(z.string())
      .min(1)
      .max(MAX_POOL_SESSIONS)
      .openapi({ description: `1–${MAX_POOL_SESSIONS} sessions of your organization to check through.` }),
    maxAgeSeconds: MaxAgeField,
  })
  .openapi('PooledCheckBatchInput', {
    description: `Up to ${MAX_BATCH_NUMBERS.toLocaleString('en')} phone numbers and the sessions to check them through.`,
    example: {
      phones: ['+14155550123', '+5511987654321'],
      sessions: ['sess_01HZX', 'sess_01J0A'],
      maxAgeSeconds: 86400,
    },
  });

export const CheckBatchCsvBody = z.string().openapi({
  description:
    'One phone number per line. An optional first line `phone` is a header; with several columns, the column headed `phone` is used.',
  example: 'phone\n+14155550123\n+62 812-3456-7890\n',
});

export const CheckBatchCreated = z
  .object({
    id: z.string().openapi({ example: 'batch_01J9Z3M4X8Q2N5R7T0V6W1Y3ZB' }),
    status: z.enum(BATCH_STATUSES),
    total: z.number().int().openapi({
      description: 'Result rows the batch has: distinct valid numbers plus distinct invalid entries.',
      example: 9876,
    }),
  })
  .openapi('CheckBatchCreated');

const BatchSession = z
  .object({
    sessionId: z.string().openapi({ example: 'sess_01HZX' }),
    checked: z.number().int().openapi({ description: 'Numbers this session got answers for.' }),
    queries: z.number().int().openapi({ description: 'WhatsApp queries this session sent for the batch.' }),
    waitingFor: z.enum(WAITING_REASONS).nullable().openapi({
      description:
        'session: not connected; daily_limit: reached BATCH_DAILY_LIMIT for today; null: checking (or finished).',
    }),
    resumesAt: z.number().int().nullable().openapi({
      description: 'When a session at its daily limit resumes (epoch ms, next UTC midnight); null otherwise.',
    }),
  })
  .openapi('CheckBatchSession');

export const CheckBatchView = z
  .object({
    id: z.string().openapi({ example: 'batch_01J9Z3M4X8Q2N5R7T0V6W1Y3ZB' }),
    sessionId: z.string().nullable().openapi({
      description: 'The session whose route created the batch; null for a pooled batch (see sessions).',
      example: 'sess_01HZX',
    }),
    sessions: z
      .array(BatchSession)
      .openapi({ description: 'The sessions the batch is checked through, in the order given, with what each did.' }),
    status: z
      .enum(BATCH_STATUSES)
      .openapi({ description: 'queued: not started yet; running: checking; completed, failed, cancelled: final.' }),
    waitingForSession: z.boolean().openapi({
      description:
        'True while the batch is paused because none of its sessions is connected; it resumes by itself when one is back.',
    }),
    waitingFor: z.enum(WAITING_REASONS).nullable().openapi({
      description:
        'Why an unfinished batch is paused: session (no session connected) or daily_limit (every connected session reached BATCH_DAILY_LIMIT); null while it checks.',
    }),
    resumesAt: z.number().int().nullable().openapi({
      description: 'With waitingFor daily_limit: when the first session resumes (epoch ms); null otherwise.',
    }),
    progress: z.object({
      done: z.number().int().openapi({
        description: 'Rows with a result (invalid entries and cached answers count as done from the start).',
      }),
      total: z.number().int(),
    }),
    counts: z.object({
      onWhatsApp: z.number().int(),
      notOnWhatsApp: z.number().int(),
      invalid: z.number().int(),
    }),
    cached: z.number().int().openapi({
      description:
        'Rows answered from the answer cache without asking WhatsApp (counted in onWhatsApp / notOnWhatsApp too).',
    }),
    createdAt: z.number().int().openapi({ description: 'Epoch milliseconds.' }),
    startedAt: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'When the first number was asked of WhatsApp (epoch ms).' }),
    finishedAt: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'When the batch completed, failed or was cancelled (epoch ms).' }),
    eta: z.number().int().nullable().openapi({
      description:
        'Estimated completion time (epoch ms) from the pace so far, capped by the rate limit of the sessions checking; null when unknown, waiting, or finished.',
    }),
    error: z
      .object({ code: z.string(), message: z.string() })
      .nullable()
      .openapi({ description: 'Why a failed batch failed; null otherwise.' }),
  })
  .openapi('CheckBatch');
export type CheckBatchView = z.output<typeof CheckBatchView>;

export const CheckBatchPage = z
  .object({
    data: z.array(CheckBatchView),
    nextCursor: z
      .string()
      .openapi({ description: 'Pass back as cursor for the next page; empty string on the last page.' }),
  })
  .openapi('CheckBatchPage');

export const ListCheckBatchesQuery = z.object({ limit: clampedLimit(LIST_LIMIT), cursor });

export const CheckBatchResultsQuery = z.object({
  status: z
    .enum(NUMBER_STATUSES, { error: `must be one of ${NUMBER_STATUSES.join(', ')}` })
    .optional()
    .openapi({ description: 'Keep only rows with this status.' }),
  limit: clampedLimit(RESULTS_LIMIT),
  cursor,
});

export const CheckBatchResult = z
  .object({
    phone: z.string().openapi({ description: 'The entry as given (trimmed).', example: '+62 812-3456-7890' }),
    normalized: z
      .string()
      .nullable()
      .openapi({ description: 'E.164 digits; null for an invalid entry.', example: '6281234567890' }),
    status: z.enum(NUMBER_STATUSES),
    jid: z.string().nullable().openapi({
      description: "The number's WhatsApp JID when it is on WhatsApp.",
      example: '6281234567890@s.whatsapp.net',
    }),
    lid: z
      .string()
      .optional()
      .openapi({ description: "The account's LID, when WhatsApp revealed it.", example: '205227043110953@lid' }),
    checkedAt: z.number().int().nullable().openapi({
      description:
        'When WhatsApp gave the answer (epoch ms) — for a cached answer, when it was first given; for an invalid entry, when the batch was created; null while pending.',
    }),
    cached: z
      .boolean()
      .openapi({ description: 'True when the answer came from the answer cache instead of a WhatsApp query.' }),
    matchedAs: z.string().nullable().openapi({
      description:
        "The form of the number WhatsApp knows (its JID's digits) when on WhatsApp: normalized, or its national variant (Brazil's ninth digit, Mexico's 1, Argentina's 9).",
      example: '551187654321',
    }),
    reason: z
      .enum(INVALID_NUMBER_REASONS)
      .nullable()
      .openapi({ description: 'Why an entry is invalid; null for every other status.' }),
  })
  .openapi('CheckBatchResult');
export type CheckBatchResult = z.output<typeof CheckBatchResult>;

export const CheckBatchResultPage = z
  .object({
    data: z.array(CheckBatchResult),
    nextCursor: z
      .string()
      .openapi({ description: 'Pass back as cursor for the next page; empty string on the last page.' }),
  })
  .openapi('CheckBatchResultPage');

export const CheckBatchResultsCsv = z.string().openapi({
  description:
    'Every row, in input order, with a header line: phone,normalized,status,jid,lid,checkedAt,cached,matchedAs,reason.',
  example:
    'phone,normalized,status,jid,lid,checkedAt,cached,matchedAs,reason\n+14155550123,14155550123,on_whatsapp,14155550123@s.whatsapp.net,205227043110953@lid,1719662400000,false,14155550123,\n',
});
