/**
 * The one interface between the worker and WhatsApp. Two implementations: `baileys` (real) and
 * `sim` (a simulated network for tests, benchmarks and demos). Driver methods throw AppError with
 * the gateway's codes: not_found (no such user / privacy), not_implemented (connection closed),
 * rate_limited, validation_error (bad JID).
 */
import type { EventEmitter } from 'node:events';
import type { BaileysEventMap } from '@whiskeysockets/baileys';
import type { LiveOutput, PictureType } from '../../shared/live/operations.js';

/** The Baileys events carrying contact and group data: drivers emit them, ingestion stores them. */
export const WHATSAPP_DATA_EVENTS = [
  'messaging-history.set',
  'contacts.upsert',
  'contacts.update',
  'chats.upsert',
  'groups.upsert',
  'groups.update',
  'group-participants.update',
  'group.member-tag.update',
  'lid-mapping.update',
] as const satisfies readonly (keyof BaileysEventMap)[];

export interface NumberCheck {
  /** E.164 digits, as asked. */
  phone: string;
  exists: boolean;
  jid?: string;
  lid?: string;
}

export interface ConnectionUpdate {
  status: 'connecting' | 'pairing' | 'online' | 'offline' | 'logged_out';
  /** Present while pairing: the QR payload to render. */
  qr?: string;
  /** Own identity once known. */
  phoneJid?: string;
  lid?: string;
  /**
   * Why the session is in this status, for people: the close reason (`timedOut (408)`), what it
   * waits for, or what it will do next. Absent when the status says it all (`online`).
   */
  reason?: string;
  /** Epoch ms of the next connection attempt, while one is scheduled. */
  retryAt?: number;
}

/** The 'lid-mapping.update' payload, as Baileys emits it or (with `lookup`) as the driver adds it. */
export interface LookupMapping {
  lid: string;
  pn: string;
  /** Learned by a look-up of the gateway's own, not from the session's chats or address book. */
  lookup?: true;
}

export interface NumberCheckOptions {
  /**
   * A bulk-check chunk: LIDs come only from what the session already knows (never a second query
   * per number), and the caller has already taken the session's rate budget for it.
   */
  bulk?: boolean;
}

/** `expiresAt`: epoch ms after which the code no longer links the phone (its connection has ended by then). */
export type PairingCode = LiveOutput<'session.pairingCode'>;

export type About = LiveOutput<'contacts.about'>;

/** What the driver knows of a picture; the live operation adds its type and when it was fetched. */
export type Picture = Pick<LiveOutput<'contacts.picture'>, 'url' | 'id'>;

/**
 * Events in Baileys' own payload shapes (BaileysEventMap), so one ingestion path serves both
 * drivers: 'messaging-history.set', 'contacts.upsert', 'contacts.update', 'chats.upsert',
 * 'groups.upsert', 'groups.update', 'group-participants.update', 'lid-mapping.update',
 * 'group.member-tag.update' (a member's nickname in a group).
 *
 * One addition to Baileys' shapes: a 'lid-mapping.update' the driver derives from a look-up of its
 * own (a live number check, a block) carries `lookup: true` (LookupMapping). Such a mapping says
 * nothing about who the session has seen, so ingestion applies it only to people already stored.
 */
export type WhatsAppEvents = EventEmitter<WhatsAppEventMap>;

type BaileysEvents = { [K in keyof BaileysEventMap]: [payload: BaileysEventMap[K]] };

/** Each event's listener arguments: the status as 'connection', and Baileys' events in its shapes. */
export interface WhatsAppEventMap extends BaileysEvents {
  connection: [update: ConnectionUpdate];
  'lid-mapping.update': [mapping: LookupMapping];
}

export type WhatsAppEventName = keyof WhatsAppEventMap;

export interface WhatsAppConnection {
  readonly sessionId: string;
  /** Emits 'connection' (ConnectionUpdate) and the Baileys-shaped data events above. */
  readonly events: WhatsAppEvents;
  onWhatsApp(phones: string[], options?: NumberCheckOptions): Promise<NumberCheck[]>;
  fetchAbout(jid: string): Promise<About>;
  /** undefined when the contact has no accessible picture. */
  profilePicture(jid: string, type: PictureType): Promise<Picture | undefined>;
  updateBlock(jid: string, action: 'block' | 'unblock'): Promise<void>;
  requestPairingCode(phone: string): Promise<PairingCode>;
  /** All groups the account participates in, as Baileys' groupFetchAllParticipating returns them. */
  fetchAllGroups(): Promise<Record<string, unknown>>;
  /** Logs the account out (WhatsApp forgets this device). */
  logout(): Promise<void>;
  /** Closes the connection, keeping the credentials for a later resume. */
  close(): Promise<void>;
}

export interface WhatsAppDriver {
  readonly kind: 'baileys' | 'sim';
  /** Starts connecting; the returned connection reports its progress through `events`. */
  connect(sessionId: string): Promise<WhatsAppConnection>;
  /** Releases what the driver itself holds (subscriptions), after every connection was closed. */
  dispose?(): Promise<void>;
}
