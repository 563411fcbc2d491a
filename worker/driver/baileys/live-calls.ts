/**
 * The live operations of WhatsAppConnection on top of an open Baileys socket: Baileys' result shapes
 * in, the driver's shapes out, Baileys' errors mapped to AppError.
 */
import { jidDecode, jidNormalizedUser, type SignalRepositoryWithLIDStore, type WASocket } from '@whiskeysockets/baileys';
import type { Logger } from 'pino';
import type { NumberCheck, WhatsAppConnection } from '../driver.js';
import { AppError } from '../../../shared/errors.js';
import { areNationalVariants } from '../../../shared/phones/national-variants.js';
import { mapBaileysError } from './errors.js';

/** The part of a Baileys socket the live calls use (a real WASocket satisfies it; tests pass a stub). */
export type LiveSocket = Pick<WASocket, 'onWhatsApp' | 'fetchStatus' | 'profilePictureUrl' | 'updateBlockStatus' | 'requestPairingCode' | 'groupFetchAllParticipating'> & {
  signalRepository?: { lidMapping?: Pick<SignalRepositoryWithLIDStore['lidMapping'], 'getLIDsForPNs'> };
};

export type LiveCalls = Pick<WhatsAppConnection, 'onWhatsApp' | 'fetchAbout' | 'profilePicture' | 'updateBlock' | 'requestPairingCode' | 'fetchAllGroups'>;

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

export function adaptSocket(sock: LiveSocket, logger?: Logger): LiveCalls {
  async function lidsFor(jids: string[]): Promise<Map<string, string>> {
    const lids = new Map<string, string>();
    const lidMapping = sock.signalRepository?.lidMapping;
    if (!lidMapping || jids.length === 0) return lids;
    try {
      for (const pair of (await lidMapping.getLIDsForPNs(jids)) ?? []) {
        lids.set(jidNormalizedUser(pair.pn), jidNormalizedUser(pair.lid));
      }
    } catch (err) {
      // The LID is a bonus on a number check; the check itself already succeeded.
      logger?.debug({ err }, 'LID lookup for checked numbers failed');
    }
    return lids;
  }

  return {
    async onWhatsApp(phones) {
      const asked = [...new Set(phones.map(digitsOf).filter(Boolean))];
      if (asked.length === 0) return phones.map((phone): NumberCheck => ({ phone, exists: false }));
      const results = await mapped(() => sock.onWhatsApp(...asked.map((d) => `+${d}`)));
      if (!results) throw new AppError('internal', 'WhatsApp gave no usable answer to the number check');
      const registered = results.filter((r) => r.exists).map((r) => jidNormalizedUser(r.jid));
      const jidByDigits = matchRegistered(asked, registered);
      const lids = await lidsFor([...jidByDigits.values()]);
      return phones.map((phone): NumberCheck => {
        const jid = jidByDigits.get(digitsOf(phone));
        if (!jid) return { phone, exists: false };
        const lid = lids.get(jid);
        return lid ? { phone, exists: true, jid, lid } : { phone, exists: true, jid };
      });
    },

    async fetchAbout(jid) {
      const list = await mapped(() => sock.fetchStatus(jid));
      const wanted = jidNormalizedUser(jid);
      const entry = list?.find((e) => jidNormalizedUser(e.id) === wanted) ?? list?.[0];
      const status = entry?.['status'] as { status?: string | null; setAt?: Date } | undefined;
      const about = status?.status ?? '';
      const setAt = status?.setAt instanceof Date ? status.setAt.getTime() : undefined;
      // Baileys reports a missing timestamp as the epoch.
      return setAt !== undefined && setAt > 0 && about !== '' ? { about, setAt } : { about };
    },

    async profilePicture(jid, type) {
      const url = await mapped(() => sock.profilePictureUrl(jid, type));
      // Baileys returns the URL only; WhatsApp's picture id stays inside it.
      return url ? { url, id: null } : undefined;
    },

    async updateBlock(jid, action) {
      await mapped(() => sock.updateBlockStatus(jid, action));
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
