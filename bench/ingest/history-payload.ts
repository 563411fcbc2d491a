/**
 * A synthetic history sync in Baileys' own shapes: an address book of people (LID + phone + names),
 * a share of them with a direct chat, and group chats with their participant lists, the way
 * processHistoryMessage hands a decoded HistorySync to `messaging-history.set`.
 */
import type { BaileysEventMap, Chat, Contact, GroupMetadata, proto } from '@whiskeysockets/baileys';
import { seededRandom } from '../../shared/seeded-random.js';

export type HistorySet = BaileysEventMap['messaging-history.set'];

export interface HistoryShape {
  contacts: number;
  groups: number;
  membersPerGroup: number;
  dmShare: number;
  seed: number;
}

export const lidOf = (i: number) => `${140000000000000 + i}@lid`;
export const phoneJidOf = (i: number) => `62812${String(i).padStart(8, '0')}@s.whatsapp.net`;
export const groupJidOf = (g: number) => `1203634${String(g).padStart(11, '0')}@g.us`;

const FIRST = ['Ayu', 'Budi', 'Citra', 'Dewi', 'Eko', 'Fitri', 'Gilang', 'Hana', 'Indra', 'Joko', 'Kartika', 'Lestari'];
const LAST = ['Santoso', 'Wijaya', 'Pratama', 'Saputra', 'Hidayat', 'Nugroho', 'Kusuma', 'Halim'];

/** For each group, `size` distinct people and their ranks (first one superadmin, a few admins). */
export function groupRosters(shape: HistoryShape): { people: number[]; ranks: (0 | 1 | 2)[] }[] {
  const random = seededRandom(shape.seed + 1);
  return Array.from({ length: shape.groups }, () => {
    const people = new Set<number>();
    while (people.size < Math.min(shape.membersPerGroup, shape.contacts))
      people.add(Math.floor(random() * shape.contacts));
    const list = [...people];
    return { people: list, ranks: list.map((_, i) => (i === 0 ? 2 : random() < 0.05 ? 1 : 0)) };
  });
}

export function historySync(shape: HistoryShape): HistorySet {
  const random = seededRandom(shape.seed);
  const contacts: Contact[] = [];
  const chats: Chat[] = [];
  for (let i = 0; i < shape.contacts; i++) {
    const name = `${FIRST[i % FIRST.length]} ${LAST[Math.floor(i / FIRST.length) % LAST.length]} ${i}`;
    contacts.push({
      id: lidOf(i),
      phoneNumber: phoneJidOf(i),
      name,
      ...(random() < 0.1 ? { verifiedName: `${name} Store` } : {}),
    });
    if (random() < shape.dmShare) chats.push({ id: lidOf(i), pnJid: phoneJidOf(i), unreadCount: 0 });
  }
  groupRosters(shape).forEach((roster, g) => {
    const participant: proto.IGroupParticipant[] = roster.people.map((p, k) => ({
      userJid: lidOf(p),
      rank: roster.ranks[k]!,
    }));
    chats.push({ id: groupJidOf(g), name: `Group ${g}`, participant });
  });
  return { chats, contacts, messages: [], isLatest: true, progress: 100, syncType: 0 };
}

/** The same groups as groupFetchAllParticipating returns them: LID participants with phone numbers. */
export function groupFetch(shape: HistoryShape): Record<string, GroupMetadata> {
  const out: Record<string, GroupMetadata> = {};
  groupRosters(shape).forEach((roster, g) => {
    out[groupJidOf(g)] = {
      id: groupJidOf(g),
      subject: `Group ${g}`,
      owner: lidOf(roster.people[0]!),
      participants: roster.people.map((p, k) => ({
        id: lidOf(p),
        phoneNumber: phoneJidOf(p),
        admin: roster.ranks[k] === 2 ? 'superadmin' : roster.ranks[k] === 1 ? 'admin' : null,
      })),
    };
  });
  return out;
}
