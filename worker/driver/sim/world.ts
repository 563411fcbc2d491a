/**
 * The sim world file: a simulated WhatsApp network (accounts, groups, gateway sessions, latency and
 * fault injection). Format documented in docs/sim-world.md; validated here so a bad file fails at
 * start-up with every problem listed, not later with a confusing lookup miss.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

const PHONE = /^[1-9]\d{6,14}$/;
const LID = /^\d{5,25}@lid$/;
const GROUP_JID = /^\d{5,25}(-\d{5,15})?@g\.us$/;
const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;

const phone = z.string().regex(PHONE, 'must be E.164 digits without "+", e.g. "6281234567890"');
const lid = z.string().regex(LID, 'must be "<digits>@lid"');

const latency = z.union([
  z.number().min(0),
  z
    .strictObject({ min: z.number().min(0), max: z.number().min(0) })
    .refine((range) => range.min <= range.max, { message: 'min must not exceed max' }),
]);
const failureRate = z.number().min(0).max(1);
/** What a simulated failure looks like to the caller: WhatsApp's rate-overlimit or a server error. */
const failureCode = z.enum(['rate_limited', 'internal']);

export const SIM_OPERATIONS = [
  'connect',
  'onWhatsApp',
  'fetchAbout',
  'profilePicture',
  'updateBlock',
  'fetchAllGroups',
  'requestPairingCode',
] as const;
export type SimOperation = (typeof SIM_OPERATIONS)[number];
/** Only these can fail at random; the others only take time (a failed connect is `disconnectAfterMs`). */
export const FALLIBLE_OPERATIONS: readonly SimOperation[] = [
  'onWhatsApp',
  'fetchAbout',
  'profilePicture',
  'updateBlock',
];

const operationPolicy = z.strictObject({
  latencyMs: latency.optional(),
  failureRate: failureRate.optional(),
  failureCode: failureCode.optional(),
});

const picture = z.strictObject({
  url: z.url(),
  id: z.string().nullable(),
  /** The thumbnail URL; defaults to `url`. */
  previewUrl: z.url().optional(),
});

const account = z.strictObject({
  phone,
  lid,
  /** The push name the person set for themselves. */
  name: z.string().min(1),
  about: z.string().nullable().default(null),
  /** Epoch ms the about text was set. */
  aboutSetAt: z.number().int().min(0).optional(),
  aboutHidden: z.boolean().default(false),
  picture: picture.nullable().default(null),
  pictureHidden: z.boolean().default(false),
  businessName: z.string().min(1).optional(),
});

const member = z
  .strictObject({
    phone: phone.optional(),
    lid: lid.optional(),
    role: z.enum(['member', 'admin', 'superadmin']).default('member'),
    nickname: z.string().min(1).optional(),
  })
  .refine((m) => (m.phone === undefined) !== (m.lid === undefined), { message: 'give exactly one of phone or lid' });

const group = z.strictObject({
  jid: z.string().regex(GROUP_JID, 'must be "<digits>-<digits>@g.us" or "<digits>@g.us"'),
  subject: z.string().min(1),
  desc: z.string().optional(),
  /** Epoch seconds, as WhatsApp reports group creation. */
  creation: z.number().int().min(0).optional(),
  picture: picture.nullable().default(null),
  members: z.array(member).min(1),
});

const addressBookEntry = z.union([phone, z.strictObject({ phone, name: z.string().min(1) })]);

const session = z.strictObject({
  phone,
  paired: z.boolean().default(true),
  /** The session's address book: phones, optionally with the name saved for them. */
  contacts: z.array(addressBookEntry).default([]),
  /** People it has a direct chat with, by phone or LID (the chat's id takes that form). */
  chats: z.array(z.union([phone, lid])).default([]),
  latencyMs: latency.optional(),
  failureRate: failureRate.optional(),
  failureCode: failureCode.optional(),
  /** After this long online the connection drops ('connection_lost') and reconnects; every time it comes online. */
  disconnectAfterMs: z.number().int().min(1).optional(),
});

export const simWorldSchema = z
  .strictObject({
    latencyMs: latency.default(0),
    failureRate: failureRate.default(0),
    failureCode: failureCode.default('rate_limited'),
    operations: z.partialRecord(z.enum(SIM_OPERATIONS), operationPolicy).default({}),
    /** A connection that dropped by itself (disconnectAfterMs) reconnects after this long, as the Baileys driver does. */
    reconnectDelayMs: z.number().int().min(0).default(1_000),
    pairing: z
      .strictObject({
        /** WhatsApp rotates the QR every ~20 s. */
        qrIntervalMs: z.number().int().min(10).default(20_000),
        /** When set, a session waiting in pairing pairs by itself after this long (offline demo). */
        autoPairAfterMs: z.number().int().min(0).nullable().default(null),
      })
      .prefault({}),
    accounts: z.array(account).default([]),
    groups: z.array(group).default([]),
    sessions: z.record(z.string().regex(SESSION_ID, 'session ids are 1-64 of A-Z a-z 0-9 _ -'), session).default({}),
  })
  .superRefine((world, ctx) => {
    const phones = new Set<string>();
    /** phone or lid → the account's phone, so a member listed once by phone and once by lid is caught. */
    const accountOf = new Map<string, string>();
    world.accounts.forEach((a, i) => {
      if (phones.has(a.phone))
        ctx.addIssue({ code: 'custom', path: ['accounts', i, 'phone'], message: `duplicate account phone ${a.phone}` });
      if (accountOf.has(a.lid))
        ctx.addIssue({ code: 'custom', path: ['accounts', i, 'lid'], message: `duplicate account lid ${a.lid}` });
      phones.add(a.phone);
      accountOf.set(a.phone, a.phone);
      accountOf.set(a.lid, a.phone);
    });
    const known = (ref: string) => accountOf.has(ref);

    const groupJids = new Set<string>();
    world.groups.forEach((g, i) => {
      if (groupJids.has(g.jid))
        ctx.addIssue({ code: 'custom', path: ['groups', i, 'jid'], message: `duplicate group ${g.jid}` });
      groupJids.add(g.jid);
      const seen = new Set<string>();
      g.members.forEach((m, j) => {
        const ref = m.phone ?? m.lid;
        if (ref === undefined) return;
        if (!known(ref))
          ctx.addIssue({
            code: 'custom',
            path: ['groups', i, 'members', j],
            message: `${ref} is not one of the accounts`,
          });
        const accountKey = accountOf.get(ref) ?? ref;
        if (seen.has(accountKey))
          ctx.addIssue({
            code: 'custom',
            path: ['groups', i, 'members', j],
            message: `${ref} is listed twice in ${g.jid}`,
          });
        seen.add(accountKey);
      });
    });

    for (const [id, s] of Object.entries(world.sessions)) {
      if (!phones.has(s.phone))
        ctx.addIssue({
          code: 'custom',
          path: ['sessions', id, 'phone'],
          message: `${s.phone} is not one of the accounts`,
        });
      s.contacts.forEach((c, j) => {
        const p = typeof c === 'string' ? c : c.phone;
        if (!phones.has(p))
          ctx.addIssue({
            code: 'custom',
            path: ['sessions', id, 'contacts', j],
            message: `${p} is not one of the accounts`,
          });
      });
      s.chats.forEach((c, j) => {
        if (!known(c))
          ctx.addIssue({
            code: 'custom',
            path: ['sessions', id, 'chats', j],
            message: `${c} is not one of the accounts`,
          });
      });
    }
  });

export type SimWorld = z.output<typeof simWorldSchema>;
/** The file as written: defaults may be left out. */
export type SimWorldInput = z.input<typeof simWorldSchema>;
export type SimAccount = SimWorld['accounts'][number];
export type SimGroup = SimWorld['groups'][number];
export type SimSessionProfile = SimWorld['sessions'][string];
export type SimLatency = z.output<typeof latency>;
export type SimFailureCode = z.output<typeof failureCode>;

export class SimWorldError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid sim world ${source}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'SimWorldError';
  }
}

/** Validates a parsed world; throws SimWorldError listing every problem with its path. */
export function parseSimWorld(value: unknown, source = '(inline)'): SimWorld {
  const parsed = simWorldSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const where = issue.path.length ? issue.path.map(String).join('.') : '(root)';
    return `${where}: ${issue.message}`;
  });
  throw new SimWorldError(source, problems);
}

export async function loadSimWorld(path: string): Promise<SimWorld> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SimWorldError(path, [`cannot read the file: ${(err as Error).message}`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SimWorldError(path, [`not valid JSON: ${(err as Error).message}`]);
  }
  return parseSimWorld(json, path);
}

/** No accounts, no sessions: every session starts unpaired and sees nobody. */
export function emptySimWorld(): SimWorld {
  return parseSimWorld({});
}
