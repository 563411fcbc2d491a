/**
 * The live operations of WhatsAppConnection on top of an open Baileys socket: Baileys' result shapes
 * in, the driver's shapes out, Baileys' errors mapped to AppError.
 */
import {
  jidDecode,
  jidNormalizedUser,
  type SignalRepositoryWithLIDStore,
  type WASocket,
} from '@whiskeysockets/baileys';
import type { Logger } from 'pino';
import type { NumberCheck, WhatsAppConnection } from '../driver.js';
import { AppError } from '../../../shared/errors.js';
import { areNationalVariants } from '../../../shared/phones/national-variants.js';
import { mapBaileysError } from './errors.js';

/** The part of a Baileys socket the live calls use (a real WASocket satisfies it; tests pass a stub). */
export type LiveSocket = Pick<
  WASocket,
  | 'onWhatsApp'
  | 'fetchStatus'
  | 'profilePictureUrl'
  | 'updateBlockStatus'
  | 'requestPairingCode'
  | 'groupFetchAllParticipating'
> & {
  signalRepository?: { lidMapping?: Pick<SignalRepositoryWithLIDStore['lidMapping'], 'getLIDsForPNs'> };
};

export type LiveCalls = Pick<
  WhatsAppConnection,
  'onWhatsApp' | 'fetchAbout' | 'profilePicture' | 'updateBlock' | 'fetchAllGroups'
> & {
  /** Baileys' pairing code; the connection adds when it stops working. */
  requestPairingCode(phone: string): Promise<string>;
};

const digitsOf = (phone: string) => phone.replace(/\D/g, '');
const userOf = (jid: string) => jidDecode(jid)?.user ?? '';

async function mapped<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw mapBaileysError(err);
  }
}

/**
 * Pairs each registered JID WhatsApp returned with the number that was asked. The reply does not echo
 * the query, and for some countries (Brazil's ninth digit, Mexico's "1", Argentina's "9") the
 * account's JID is the other national form of the number asked. So: exact matches first, then a
 * leftover JID that is the national variant (shared/phones/national-variants.ts) of exactly one
 * leftover number (and vice versa).
 */
export function matchRegistered(askedDigits: string[], jids: string[]): Map<string, string> {
  const byDigits = new Map<string, string>();
  const asked = new Set(askedDigits);
  const leftoverJids: string[] = [];
  for (const jid of jids) {
    const user = userOf(jid);
    if (asked.has(user) && !byDigits.has(user)) byDigits.set(user, jid);
    else leftoverJids.push(jid);
  }
  const leftoverAsked = [...asked].filter((d) => !byDigits.has(d));
  for (const jid of leftoverJids) {
    const user = userOf(jid);
    const candidates = leftoverAsked.filter((d) => !byDigits.has(d) && areNationalVariants(d, user));
    if (candidates.length !== 1) continue;
    const digits = candidates[0]!;
    const rivals = leftoverJids.filter((other) => areNationalVariants(digits, userOf(other)));
    if (rivals.length === 1) byDigits.set(digits, jid);
  }
  return byDigits;
}

export interface LiveCallOptions {
  logger?: Logger;
  /**
   * LIDs the session already knows (its key store), by phone JID; never asks WhatsApp. Without it
   * every LID comes from a look-up (tests).
   */
  storedLids?: (pnJids: string[]) => Promise<Map<string, string>>;
  /** Runs a look-up that may ask WhatsApp for LIDs; the mappings it stores are marked as learned by a look-up. */
  lookUp?: <T>(pnJids: string[], work: () => Promise<T>) => Promise<T>;
  /** Told how many numbers each query asks WhatsApp about, for the session's rate budget. */
  countQueries?: (numbers: number) => void;
  /** Handed to the Baileys calls that take one, so a silent WhatsApp is a timeout rather than "no picture". */
  queryTimeoutMs?: number;
}

export function adaptSocket(sock: LiveSocket, options: LiveCallOptions = {}): LiveCalls {
  const { logger, storedLids, countQueries = () => undefined } = options;
  const lookUp = options.lookUp ?? (<T>(_pns: string[], work: () => Promise<T>) => work());

  /** Phone JID → LID for registered numbers: the stored ones, then (unless `storedOnly`) a look-up for the rest. */
  async function lidsFor(jids: string[], storedOnly: boolean): Promise<Map<string, string>> {
    if (jids.length === 0) return new Map();
    const lids = storedLids ? await storedLids(jids).catch(() => new Map<string, string>()) : new Map<string, string>();
    const missing = jids.filter((jid) => !lids.has(jid));
    const lidMapping = sock.signalRepository?.lidMapping;
    if (storedOnly || !lidMapping || missing.length === 0) return lids;
    try {
      // Baileys asks WhatsApp (a usync query) for every number it has no mapping for.
      countQueries(missing.length);
      const found = await lookUp(missing, () => lidMapping.getLIDsForPNs(missing));
      for (const pair of found ?? []) lids.set(jidNormalizedUser(pair.pn), jidNormalizedUser(pair.lid));
    } catch (err) {
      // The LID is a bonus on a number check; the check itself already succeeded.
      logger?.debug({ err }, 'LID lookup for checked numbers failed');
    }
    return lids;
  }

  /**
   * Runs a call that Baileys may precede with a LID look-up for a phone JID (a block is made by LID;
   * a picture query carries the LID-keyed privacy token): counted as one more query when the LID is
   * not stored, and run as a look-up of ours, so the mapping it learns is marked as such.
   */
  async function resolvingLid<T>(jid: string, work: () => Promise<T>): Promise<T> {
    const normalized = jidNormalizedUser(jid);
    if (jidDecode(normalized)?.server !== 's.whatsapp.net') return work();
    if (storedLids && !(await storedLids([normalized]).catch(() => new Map<string, string>())).has(normalized))
      countQueries(1);
    return lookUp([normalized], work);
  }

  return {
    async onWhatsApp(phones, checkOptions) {
      const bulk = checkOptions?.bulk === true;
      const asked = [...new Set(phones.map(digitsOf).filter(Boolean))];
      if (asked.length === 0) return phones.map((phone): NumberCheck => ({ phone, exists: false }));
      // A bulk chunk's runner has already taken its budget before asking.
      if (!bulk) countQueries(asked.length);
      const results = await mapped(() => sock.onWhatsApp(...asked.map((d) => `+${d}`)));
      // rc14 resolves a query WhatsApp never answered to undefined instead of throwing.
      if (!results) throw new AppError('timeout', 'WhatsApp did not answer the number check in time');
      const registered = results.filter((r) => r.exists).map((r) => jidNormalizedUser(r.jid));
      const jidByDigits = matchRegistered(asked, registered);
      const lids = await lidsFor([...jidByDigits.values()], bulk);
      return phones.map((phone): NumberCheck => {
        const jid = jidByDigits.get(digitsOf(phone));
        if (!jid) return { phone, exists: false };
        const lid = lids.get(jid);
        return lid ? { phone, exists: true, jid, lid } : { phone, exists: true, jid };
      });
    },

    async fetchAbout(jid) {
      countQueries(1);
      const list = await mapped(() => sock.fetchStatus(jid));
      // undefined: the query timed out (rc14 resolves instead of throwing); [] is a real empty answer.
      if (list === undefined) throw new AppError('timeout', 'WhatsApp did not answer the about query in time');
      const wanted = jidNormalizedUser(jid);
      const entry = list.find((e) => jidNormalizedUser(e.id) === wanted) ?? list[0];
      const status = entry?.['status'] as { status?: string | null; setAt?: Date } | undefined;
      const about = status?.status ?? '';
      const setAt = status?.setAt instanceof Date ? status.setAt.getTime() : undefined;
      // Baileys reports a missing timestamp as the epoch.
      return setAt !== undefined && setAt > 0 && about !== '' ? { about, setAt } : { about };
    },

    async profilePicture(jid, type) {
      countQueries(1);
      // With a timeout Baileys throws on silence (408) instead of answering "no picture".
      const url = await resolvingLid(jid, () =>
        mapped(() => sock.profilePictureUrl(jid, type, options.queryTimeoutMs)),
      );
      // Baileys returns the URL only; WhatsApp's picture id stays inside it.
      return url ? { url, id: null } : undefined;
    },

    async updateBlock(jid, action) {
      countQueries(1);
      await resolvingLid(jid, () => mapped(() => sock.updateBlockStatus(jid, action)));
    },

    async requestPairingCode(phone) {
      const digits = digitsOf(phone);
      if (!digits) throw new AppError('validation_error', 'phone must contain digits');
      return mapped(() => sock.requestPairingCode(digits));
    },

    async fetchAllGroups() {
      return mapped(() => sock.groupFetchAllParticipating());
    },
  };
}
