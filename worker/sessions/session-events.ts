import type { SessionStatus } from '../../shared/db/entities/wa-session.js';
import type { TxQuery } from '../../shared/webhooks/outbox.js';

export interface StatusChange {
  status: SessionStatus;
  previousStatus: SessionStatus | null;
  reason: string | null;
}

/** Where the session manager reports what users subscribe to (webhooks); the api never hears of it. */
export interface SessionEvents {
  /** Called inside the transaction that stores the new status, only when the stored status changes. */
  statusChanged(query: TxQuery, sessionId: string, change: StatusChange): Promise<void>;
  /** A new pairing QR code is showing. */
  qrShown(sessionId: string, qr: string): Promise<void>;
}

export const NO_SESSION_EVENTS: SessionEvents = {
  statusChanged: () => Promise.resolve(),
  qrShown: () => Promise.resolve(),
};
