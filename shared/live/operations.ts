import { z } from 'zod';
import { ERROR_STATUS, type ErrorCode } from '../errors.js';

/**
 * The live operations: each one's input and output declared once, as zod schemas. The api enqueues
 * the input, checks the output that comes back and documents it (its OpenAPI schemas are these,
 * named there); the worker's handler table and the driver are typed from them. Descriptions are
 * zod metadata, which the OpenAPI generator reads, so the worker needs no OpenAPI code.
 */

export const PICTURE_TYPES = ['image', 'preview'] as const;
export type PictureType = (typeof PICTURE_TYPES)[number];

const Jid = z.object({ jid: z.string() });
/** Operations that answer nothing but success: the HTTP answer is a 204. */
const Done = z.object({});

const NumberCheckOutput = z.object({
  isOnWhatsApp: z.boolean(),
  jid: z.string().nullable().meta({
    description: "The number's WhatsApp JID when it has an account, else null.",
    example: '14155550123@s.whatsapp.net',
  }),
  query: z.string().meta({ description: 'The phone number as asked.', example: '+14155550123' }),
  lid: z
    .string()
    .optional()
    .meta({ description: "The account's LID, when WhatsApp reveals it.", example: '205227043110953@lid' }),
  matchedAs: z.string().optional().meta({
    description:
      "When on WhatsApp: the form of the number WhatsApp knows (its JID's digits) — the number asked, or its national variant (Brazil's ninth digit, Mexico's 1, Argentina's 9).",
    example: '14155550123',
  }),
});

const AboutOutput = z.object({
  about: z.string().meta({ description: 'The about text; empty when the contact has none or hides it.' }),
  setAt: z.number().int().optional().meta({ description: 'When it was set (epoch ms), when known.' }),
});

const PictureOutput = z.object({
  url: z.string().meta({ description: "Time-limited URL on WhatsApp's CDN; fetch it promptly." }),
  type: z.enum(PICTURE_TYPES),
  id: z.string().nullable().meta({ description: "WhatsApp's id of this picture version, when known." }),
  fetchedAt: z.number().int().meta({ description: 'When the gateway fetched the URL (epoch ms).' }),
});

const PairingCodeOutput = z.object({
  code: z
    .string()
    .meta({ example: 'ABCD1234', description: 'Enter it on the phone under Linked devices → Link with phone number.' }),
  expiresAt: z.number().int().meta({
    example: 1719662560000,
    description:
      'Epoch ms after which the code no longer links the phone: it works only while the connection that asked for it keeps showing QR codes (about 160 s). Ask for a new one after that.',
  }),
});

export const LIVE_OPERATIONS = {
  /** `phone`: E.164 digits, as the api normalised them. */
  'contacts.check': { input: z.object({ phone: z.string() }), output: NumberCheckOutput },
  'contacts.about': { input: Jid, output: AboutOutput },
  'contacts.picture': { input: Jid.extend({ type: z.enum(PICTURE_TYPES) }), output: PictureOutput },
  'contacts.block': { input: Jid, output: Done },
  'contacts.unblock': { input: Jid, output: Done },
  /** `phone`: E.164 digits of the account to link. */
  'session.pairingCode': { input: z.object({ phone: z.string() }), output: PairingCodeOutput },
  'session.logout': { input: z.object({}), output: Done },
} as const satisfies Record<string, { input: z.ZodType<object>; output: z.ZodType<object> }>;

export type LiveOpName = keyof typeof LIVE_OPERATIONS;
export type LiveInput<N extends LiveOpName> = z.output<(typeof LIVE_OPERATIONS)[N]['input']>;
export type LiveOutput<N extends LiveOpName> = z.output<(typeof LIVE_OPERATIONS)[N]['output']>;

/**
 * A worker's answer checked against the operation's output schema: what crosses a process
 * boundary is not trusted to be in shape (a worker of another version during a rolling deploy).
 */
export function parseLiveOutput<N extends LiveOpName>(op: N, value: unknown): LiveOutput<N> | undefined {
  const parsed = LIVE_OPERATIONS[op].output.safeParse(value);
  // The table's entry for N is the schema LiveOutput<N> is inferred from; TS cannot follow the index.
  return parsed.success ? (parsed.data as LiveOutput<N>) : undefined;
}

/**
 * What state of the session's connection an operation needs: `online` ones are refused at once
 * (501) from the presence key; `held` ones (pairing) only need the owning worker to hold a
 * connection in any state, which that worker checks.
 */
export const LIVE_OP_REQUIRES: { readonly [N in LiveOpName]: 'online' | 'held' } = {
  'contacts.check': 'online',
  'contacts.about': 'online',
  'contacts.picture': 'online',
  'contacts.block': 'online',
  'contacts.unblock': 'online',
  'session.pairingCode': 'held',
  'session.logout': 'online',
};

/** Operations with an effect on WhatsApp: never started so close to their deadline that they could finish after it. */
export const LIVE_OP_MUTATES: { readonly [N in LiveOpName]: boolean } = {
  'contacts.check': false,
  'contacts.about': false,
  'contacts.picture': false,
  'contacts.block': true,
  'contacts.unblock': true,
  'session.pairingCode': true,
  'session.logout': true,
};

export interface LiveJobData<N extends LiveOpName = LiveOpName> {
  op: N;
  sessionId: string;
  input: LiveInput<N>;
  /** Epoch ms after which the caller has been told "timeout": the worker must not run the job then. */
  deadline: number;
  requestId?: string;
}

const ERROR_CODES = Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]];

export const LiveError = z.object({
  code: z.enum(ERROR_CODES),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type LiveError = z.output<typeof LiveError>;

/** Workers return failures as values, so the api can tell a typed error from a crash. */
export type LiveJobResult<N extends LiveOpName = LiveOpName> =
  { ok: true; value: LiveOutput<N> } | { ok: false; error: LiveError };
