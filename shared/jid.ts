/** WhatsApp address helpers: phone JIDs, LIDs, group and channel JIDs, E.164 numbers. */

export const USER_SERVER = 's.whatsapp.net';
export const LID_SERVER = 'lid';
export const GROUP_SERVER = 'g.us';
export const CHANNEL_SERVER = 'newsletter';

const USER_JID = /^(\d{5,20})(?::\d+)?@s\.whatsapp\.net$/;
const LID_JID = /^(\d{5,25})(?::\d+)?@lid$/;
const GROUP_JID = /^\d{5,25}(-\d{5,15})?@g\.us$/;
const CHANNEL_JID = /^\d{5,25}@newsletter$/;
const E164 = /^\+?[1-9]\d{6,14}$/;

export type JidKind = 'user' | 'lid' | 'group' | 'channel';

export function jidKind(jid: string): JidKind | undefined {
  if (USER_JID.test(jid)) return 'user';
  if (LID_JID.test(jid)) return 'lid';
  if (GROUP_JID.test(jid)) return 'group';
  if (CHANNEL_JID.test(jid)) return 'channel';
  return undefined;
}

/** Digits of an E.164 number ("+62 812…" is not accepted: digits with an optional leading +). */
export function normalizeE164(phone: string): string | undefined {
  const trimmed = phone.trim();
  return E164.test(trimmed) ? trimmed.replace(/^\+/, '') : undefined;
}

/** Lenient normaliser for bulk input: strips spaces, dashes, dots and parentheses first. */
export function normalizeLoosePhone(raw: string): string | undefined {
  const compact = raw.trim().replace(/[\s().-]/g, '');
  return normalizeE164(compact.startsWith('00') ? `+${compact.slice(2)}` : compact);
}

export const phoneToJid = (digits: string) => `${digits}@${USER_SERVER}`;

/** Strips a device suffix: "49111:3@s.whatsapp.net" → "49111@s.whatsapp.net". */
export function normalizeUserJid(jid: string): string {
  const at = jid.indexOf('@');
  if (at < 0) return jid;
  const user = jid.slice(0, at).split(':')[0]!;
  return `${user}@${jid.slice(at + 1)}`;
}

export function phoneOfJid(jid: string): string | undefined {
  return USER_JID.exec(jid)?.[1];
}

export const isLid = (jid: string) => LID_JID.test(jid);
export const isUserJid = (jid: string) => USER_JID.test(jid);
export const isGroupJid = (jid: string) => GROUP_JID.test(jid);
