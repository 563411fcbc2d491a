import { BATCH_STATUSES, MAX_BATCH_NUMBERS, NUMBER_STATUSES } from '../../shared/batches/check-batch-jobs.js';
import { clampedLimit, CursorParam, SessionParam } from '../http/schemas.js';
import { z } from '../http/zod.js';

export const RESULTS_LIMIT = { min: 1, max: 1000, default: 100 } as const;
export const LIST_LIMIT = { min: 1, max: 100, default: 20 } as const;

const cursor = CursorParam;

export const CheckBatchSessionPath = z.object({ session: SessionParam });

export const CheckBatchPath = z.object({
  session: SessionParam,
  id: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a batch id such as batch_01J9Z3M4X8Q2N5R7T0V6W1Y3ZB')
    .openapi({ param: { name: 'id', in: 'path' }, description: 'The batch id returned when the batch was created.', example: 'batch_01J9Z3M4X8Q2N5R7T0V6W1Y3ZB' }),
});

const PhoneEntry = z.union([z.string(), z.number().int()]).openapi({ description: 'A phone number in any common notation: "+62 812-3456-7890", "0062812…", "(415) 555 0123" with its country code, or digits.', example: '+62 812-3456-7890' });
const PhoneList = z.array(PhoneEntry).min(1).max(MAX_BATCH_NUMBERS);

/** What the request body may be, for the document; check-batch-input.ts parses it with precise errors. */
export const CheckBatchJsonBody = z
  .union([z.object({ phones: PhoneList }), PhoneList])
  .openapi('CheckBatchInput', {
    description: `Up to ${MAX_BATCH_NUMBERS.toLocaleString('en')} phone numbers: {"phones": [...]} or a bare JSON array.`,
    example: { phones: ['+14155550123', '+62 812-3456-7890', '0049 151 23456789'] },
  });

export const CheckBatchCsvBody = z.string().openapi({
  description: 'One phone number per line. An optional first line `phone` is a header; with several columns, the column headed `phone` is used.',
  example: 'phone\n+14155550123\n+62 812-3456-7890\n',
});

export const CheckBatchCreated = z
  .object({
    id: z.string().openapi({ example: 'batch_01J9Z3M4X8Q2N5R7T0V6W1Y3ZB' }),
    status: z.enum(BATCH_STATUSES),
    total: z.number().int().openapi({ description: 'Result rows the batch has: distinct valid numbers plus distinct invalid entries.', example: 9876 }),
  })
  .openapi('CheckBatchCreated');

export const CheckBatchView = z
  .object({
    id: z.string().openapi({ example: 'batch_01J9Z3M4X8Q2N5R7T0V6W1Y3ZB' }),
    sessionId: z.string().openapi({ example: 'sess_01HZX' }),
    status: z.enum(BATCH_STATUSES).openapi({ description: 'queued: not started yet; running: checking; completed, failed, cancelled: final.' }),
    waitingForSession: z.boolean().openapi({ description: 'True while the batch is paused because its session is not connected; it resumes by itself when the session is back.' }),
    progress: z.object({
      done: z.number().int().openapi({ description: 'Rows with a result (invalid entries count as done from the start).' }),
      total: z.number().int(),
    }),
    counts: z.object({
      onWhatsApp: z.number().int(),
      notOnWhatsApp: z.number().int(),
      invalid: z.number().int(),
    }),
    createdAt: z.number().int().openapi({ description: 'Epoch milliseconds.' }),
    startedAt: z.number().int().nullable().openapi({ description: 'When the first number was checked (epoch ms).' }),
    finishedAt: z.number().int().nullable().openapi({ description: 'When the batch completed, failed or was cancelled (epoch ms).' }),
    eta: z.number().int().nullable().openapi({ description: 'Estimated completion time (epoch ms) from the pace so far, capped by the rate limit; null when unknown, waiting for the session, or finished.' }),
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
    nextCursor: z.string().openapi({ description: 'Pass back as cursor for the next page; empty string on the last page.' }),
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
    normalized: z.string().nullable().openapi({ description: 'E.164 digits; null for an invalid entry.', example: '6281234567890' }),
    status: z.enum(NUMBER_STATUSES),
    jid: z.string().nullable().openapi({ description: "The number's WhatsApp JID when it is on WhatsApp.", example: '6281234567890@s.whatsapp.net' }),
    lid: z.string().optional().openapi({ description: "The account's LID, when WhatsApp revealed it.", example: '205227043110953@lid' }),
    checkedAt: z.number().int().nullable().openapi({ description: 'When the result was recorded (epoch ms); null while pending.' }),
  })
  .openapi('CheckBatchResult');
export type CheckBatchResult = z.output<typeof CheckBatchResult>;

export const CheckBatchResultPage = z
  .object({
    data: z.array(CheckBatchResult),
    nextCursor: z.string().openapi({ description: 'Pass back as cursor for the next page; empty string on the last page.' }),
  })
  .openapi('CheckBatchResultPage');

export const CheckBatchResultsCsv = z.string().openapi({
  description: 'Every row, in input order, with a header line: phone,normalized,status,jid,lid,checkedAt.',
  example: 'phone,normalized,status,jid,lid,checkedAt\n+14155550123,14155550123,on_whatsapp,14155550123@s.whatsapp.net,205227043110953@lid,1719662400000\n',
});
