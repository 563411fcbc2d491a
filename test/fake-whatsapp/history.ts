/**
 * The history sync a phone sends a newly linked companion, built as WhatsApp's HistorySync protos:
 * an INITIAL_BOOTSTRAP chunk (conversations, with group members and their labels, and the
 * phone↔LID mappings) and a PUSH_NAME chunk, each deflated into a HistorySyncNotification's inline
 * payload (Baileys' Utils/history.js reads both the same way).
 */
import { deflateSync } from 'node:zlib';
import { proto } from '@whiskeysockets/baileys';
import { pnJid, type FakeGroup, type FakeUser, type FakeWorld } from './world.js';

export interface HistoryChat {
  user: FakeUser;
  /** The name the phone's address book has for them. */
  savedName?: string;
  /** An old chat still addressed by phone number (its LID given beside it). */
  byPhone?: boolean;
}

export interface HistorySpec {
  chats: HistoryChat[];
  /** Group chats: subject and members with their rank and member label. */
  groups: FakeGroup[];
  /** Users whose phone↔LID mapping the bootstrap carries. */
  mappings: FakeUser[];
  /** Users whose push name the PUSH_NAME chunk carries. */
  pushNames: FakeUser[];
}

const RANK = {
  member: proto.GroupParticipant.Rank.REGULAR,
  admin: proto.GroupParticipant.Rank.ADMIN,
  superadmin: proto.GroupParticipant.Rank.SUPERADMIN,
} as const;

function directChat(chat: HistoryChat, now: number): proto.IConversation {
  const { user } = chat;
  const conversation: proto.IConversation = chat.byPhone
    ? { id: pnJid(user.phone), lidJid: user.lid }
    : { id: user.lid, pnJid: pnJid(user.phone) };
  if (chat.savedName) conversation.displayName = chat.savedName;
  conversation.unreadCount = 0;
  conversation.conversationTimestamp = now;
  if (user.businessName) {
    // WhatsApp marks a business chat with a system message naming the verified business.
    conversation.messages = [
      {
        msgOrderId: 1,
        message: {
          key: { remoteJid: conversation.id!, fromMe: false, id: `BIZ${user.phone}` },
          messageTimestamp: now,
          messageStubType: proto.WebMessageInfo.StubType.BIZ_PRIVACY_MODE_TO_BSP,
          messageStubParameters: [user.businessName],
        },
      },
    ];
  }
  return conversation;
}

function groupChat(world: FakeWorld, group: FakeGroup, now: number): proto.IConversation {
  return {
    id: group.jid,
    name: group.subject,
    conversationTimestamp: now,
    participant: group.members.map((m) => ({
      userJid: world.byPhoneNumber(m.phone)!.lid,
      rank: RANK[m.role ?? 'member'],
      ...(m.label ? { memberLabel: { label: m.label, labelTimestamp: now } } : {}),
    })),
  };
}

/** The HistorySyncNotifications, in the order the phone sends them. */
export function historyNotifications(world: FakeWorld, spec: HistorySpec): proto.Message.IHistorySyncNotification[] {
  const now = Math.floor(Date.now() / 1000);
  const bootstrap = proto.HistorySync.encode({
    syncType: proto.HistorySync.HistorySyncType.INITIAL_BOOTSTRAP,
    conversations: [...spec.chats.map((c) => directChat(c, now)), ...spec.groups.map((g) => groupChat(world, g, now))],
    phoneNumberToLidMappings: spec.mappings.map((u) => ({ pnJid: pnJid(u.phone), lidJid: u.lid })),
    chunkOrder: 0,
    progress: 100,
  }).finish();
  const pushNames = proto.HistorySync.encode({
    syncType: proto.HistorySync.HistorySyncType.PUSH_NAME,
    pushnames: spec.pushNames.filter((u) => u.pushName).map((u) => ({ id: u.lid, pushname: u.pushName! })),
    chunkOrder: 1,
  }).finish();
  return [
    {
      syncType: proto.HistorySync.HistorySyncType.INITIAL_BOOTSTRAP,
      initialHistBootstrapInlinePayload: deflateSync(bootstrap),
      chunkOrder: 0,
      progress: 100,
    },
    {
      syncType: proto.HistorySync.HistorySyncType.PUSH_NAME,
      initialHistBootstrapInlinePayload: deflateSync(pushNames),
      chunkOrder: 1,
    },
  ];
}
