/**
 * Defensive readers for the fields of Baileys payloads. Nothing here trusts a type annotation:
 * payloads come from the network (or a simulator) and any field may be missing or of another type.
 */
import {
  GROUP_SERVER,
  isGroupJid,
  isLid,
  isUserJid,
  LID_SERVER,
  normalizeUserJid,
  phoneToJid,
  USER_SERVER,
} from '../../shared/jid.js';
import type { PersonRef, Role } from './ingest-ops.js';

/** The widest text any ingested column holds (names, business names, subjects, tags). */
export const TEXT_COLUMN_CHARS = 255;

export type Fields = Record<string, unknown>;

export function isFields(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A trimmed, non-empty text cut to the column's width in characters (never splitting a surrogate
 * pair); undefined for anything else, so a blank never overwrites a known value.
 */
export function readText(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (trimmed.length <= TEXT_COLUMN_CHARS) return trimmed;
  return Array.from(trimmed).slice(0, TEXT_COLUMN_CHARS).join('');
}

/** How a JID reads: a person by LID or phone, a group, something else we don't store, or garbage. */
export type JidReading = { lid: string } | { pn: string } | { group: string } | 'other' | 'invalid';

export function readJid(value: unknown): JidReading {
  if (typeof value !== 'string') return 'invalid';
  const at = value.indexOf('@');
  if (at <= 0) return 'invalid';
  const server = value.slice(at + 1);
  // Dispatch on the server first: history syncs carry hundreds of thousands of JIDs.
  switch (server) {
    case LID_SERVER: {
      const jid = value.includes(':') ? normalizeUserJid(value) : value;
      return isLid(jid) ? { lid: jid } : 'invalid';
    }
    case USER_SERVER: {
      const jid = value.includes(':') ? normalizeUserJid(value) : value;
      return isUserJid(jid) ? { pn: jid } : 'invalid';
    }
    case GROUP_SERVER:
      return isGroupJid(value) ? { group: value } : 'invalid';
    default:
      return 'other';
  }
}

export function readLid(value: unknown): string | undefined {
  const reading = readJid(value);
  return typeof reading === 'object' && 'lid' in reading ? reading.lid : undefined;
}

/** A phone JID, also accepted as bare digits ("+49111…"): Contact.phoneNumber is a JID in Baileys 7. */
export function readPhoneJid(value: unknown): string | undefined {
  if (typeof value === 'string' && /^\+?[1-9]\d{4,19}$/.test(value)) return phoneToJid(value.replace(/^\+/, ''));
  const reading = readJid(value);
  return typeof reading === 'object' && 'pn' in reading ? reading.pn : undefined;
}

export function readGroupJid(value: unknown): string | undefined {
  return typeof value === 'string' && isGroupJid(value) ? value : undefined;
}

/**
 * The person a Contact-shaped object (`id` plus optional `lid` / `phoneNumber`) names. 'other' for
 * groups, newsletters, broadcasts and the like (history syncs list those among contacts).
 */
export function readPerson(id: unknown, lid: unknown, phoneNumber: unknown): PersonRef | 'other' | 'invalid' {
  const reading = readJid(id);
  if (reading === 'other' || reading === 'invalid') return reading;
  if ('group' in reading) return 'other';
  if ('lid' in reading) {
    const pn = readPhoneJid(phoneNumber);
    return pn === undefined ? { lid: reading.lid } : { lid: reading.lid, pn };
  }
  const otherLid = readLid(lid);
  return otherLid === undefined ? { pn: reading.pn } : { lid: otherLid, pn: reading.pn };
}

/** Baileys 7 sets `admin`; older shapes set `isAdmin` / `isSuperAdmin`. Undefined when unreadable. */
export function readParticipantRole(entry: Fields): Role | undefined {
  const admin = entry['admin'];
  if (admin === 'superadmin' || entry['isSuperAdmin'] === true) return 'superadmin';
  if (admin === 'admin' || entry['isAdmin'] === true) return 'admin';
  if (admin === null || admin === undefined) return 'member';
  return undefined;
}

/** proto.GroupParticipant.Rank in a history sync: 0 REGULAR, 1 ADMIN, 2 SUPERADMIN (or their names). */
export function readRank(rank: unknown): Role | undefined {
  if (rank === 2 || rank === 'SUPERADMIN') return 'superadmin';
  if (rank === 1 || rank === 'ADMIN') return 'admin';
  if (rank === 0 || rank === 'REGULAR' || rank === null || rank === undefined) return 'member';
  return undefined;
}
