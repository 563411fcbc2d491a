/**
 * What the simulated network tells a session, built in Baileys' own types so the ingestion path
 * written for the real driver consumes it unchanged (and tsc catches any drift in Baileys' shapes).
 */
import type {
  BaileysEventMap,
  Chat,
  Contact,
  GroupMetadata,
  GroupParticipant,
  proto,
  WAMessageAddressingMode,
} from '@whiskeysockets/baileys';
import { phoneToJid } from '../../../shared/jid.js';
import type { SimGroupView, SimNetwork } from './network.js';
import type { SimAccount, SimSessionProfile } from './world.js';

type HistorySet = BaileysEventMap['messaging-history.set'];
type MemberTagUpdate = BaileysEventMap['group.member-tag.update'];

// Baileys' enums by value, without loading Baileys at runtime (a sim worker never needs it).
const INITIAL_BOOTSTRAP: proto.HistorySync.HistorySyncType.INITIAL_BOOTSTRAP = 0;
const LID_ADDRESSING = 'lid' as WAMessageAddressingMode.LID;

function contactOf(account: SimAccount, savedName: string | undefined): Contact {
  return {
    id: account.lid,
    phoneNumber: phoneToJid(account.phone),
    ...(savedName === undefined ? {} : { name: savedName }),
    notify: account.name,
    ...(account.businessName ? { verifiedName: account.businessName } : {}),
  };
}

/**
 * The history sync a session receives on connecting: its address book and direct chats, one chunk
 * (`progress: 100`, `isLatest: true`). People it knows only from groups come with fetchAllGroups.
 */
export function historySync(network: SimNetwork, profile: SimSessionProfile | undefined): HistorySet {
  const people = new Map<string, { account: SimAccount; savedName?: string }>();
  for (const entry of profile?.contacts ?? []) {
    const phone = typeof entry === 'string' ? entry : entry.phone;
    const account = network.accountByPhone(phone)!;
    people.set(account.phone, { account, savedName: typeof entry === 'string' ? account.name : entry.name });
  }

  const chats: Chat[] = [];
  for (const ref of profile?.chats ?? []) {
    const account = network.accountByRef(ref)!;
    if (!people.has(account.phone)) people.set(account.phone, { account });
    const phoneJid = phoneToJid(account.phone);
    chats.push(
      ref === account.lid
        ? { id: account.lid, pnJid: phoneJid, unreadCount: 0 }
        : { id: phoneJid, lidJid: account.lid, unreadCount: 0 },
    );
  }

  const everyone = [...people.values()];
  return {
    chats,
    contacts: everyone.map(({ account, savedName }) => contactOf(account, savedName)),
    messages: [],
    lidPnMappings: everyone.map(({ account }) => ({ lid: account.lid, pn: phoneToJid(account.phone) })),
    isLatest: true,
    syncType: INITIAL_BOOTSTRAP,
    progress: 100,
  };
}

function participantOf(member: SimGroupView['members'][number]): GroupParticipant {
  return {
    id: member.account.lid,
    phoneNumber: phoneToJid(member.account.phone),
    admin: member.role === 'member' ? null : member.role,
  };
}

/** As groupFetchAllParticipating returns a group: LID-addressed participants with their roles. */
export function groupMetadata({ group, members }: SimGroupView): GroupMetadata {
  const owner = members.find((m) => m.role === 'superadmin')?.account;
  return {
    id: group.jid,
    subject: group.subject,
    owner: owner?.lid,
    ...(owner ? { ownerPn: phoneToJid(owner.phone) } : {}),
    ...(group.creation === undefined ? {} : { creation: group.creation }),
    ...(group.desc === undefined ? {} : { desc: group.desc }),
    addressingMode: LID_ADDRESSING,
    size: members.length,
    participants: members.map(participantOf),
  };
}

/** Nicknames are WhatsApp's group member tags ("member labels"), announced per participant. */
export function memberTagUpdates(groups: SimGroupView[], nowMs: number): MemberTagUpdate[] {
  const updates: MemberTagUpdate[] = [];
  for (const { group, members } of groups) {
    for (const member of members) {
      if (!member.nickname) continue;
      updates.push({
        groupId: group.jid,
        participant: member.account.lid,
        participantAlt: phoneToJid(member.account.phone),
        label: member.nickname,
        messageTimestamp: Math.floor(nowMs / 1000),
      });
    }
  }
  return updates;
}
