import type { WhatsAppEvents } from '../driver/driver.js';

/** Where a connected session's contact and group data goes (the MySQL ingestion). */
export interface SessionDataSink {
  attach(sessionId: string, events: WhatsAppEvents): { detach: () => void; drain: () => Promise<void> };
  ingestGroups(sessionId: string, groups: Record<string, unknown>): Promise<void>;
  /** The session's own account (phone JID and LID), which must never be stored as a contact. */
  setOwnAccount(sessionId: string, self: { lid?: string; pn?: string } | undefined): void;
}
