import type { DataSource } from 'typeorm';
import type { Logger } from '../../shared/logger.js';
import { writeBatchEvent } from '../../shared/webhooks/batch-events.js';
import { MAX_CONTACTS_PER_EVENT, type ContactChange, type NewEvent } from '../../shared/webhooks/events.js';
import { writeEvents, type TxQuery } from '../../shared/webhooks/outbox.js';
import type { BatchEvents } from '../batches/batch-events.js';
import type { ContactEvents } from '../ingest/contact-events.js';
import type { SessionEvents, StatusChange } from '../sessions/session-events.js';

export interface WebhookEventSinkOptions {
  publicUrl: string | undefined;
  /** At most one check_batch.progress per batch this often. */
  progressIntervalMs: number;
  /** Called after events were written (the relay may have new deliveries to queue). */
  onWritten: () => void;
}

/** Most batches whose last progress event time is remembered; the oldest are forgotten first. */
const MAX_TRACKED_BATCHES = 10_000;

/**
 * The worker's event producers, writing to the webhook outbox: session status and QR codes from
 * the session manager, batch progress and ends from the bulk checks, contact changes from ingestion.
 */
export class WebhookEventSinks implements SessionEvents, BatchEvents, ContactEvents {
  private readonly lastProgress = new Map<string, number>();

  constructor(
    private readonly db: DataSource,
    private readonly options: WebhookEventSinkOptions,
    private readonly logger: Logger,
  ) {}

  async statusChanged(query: TxQuery, sessionId: string, change: StatusChange): Promise<void> {
    await this.write(query, sessionId, [{ type: 'session.status', data: change }]);
  }

  /** No stored change goes with a QR code, so it is an event of its own transaction. */
  async qrShown(sessionId: string, qr: string): Promise<void> {
    await this.db.transaction((tx) =>
      this.write((sql, params) => tx.query(sql, params), sessionId, [{ type: 'session.qr', data: { qr } }]),
    );
  }

  async progressed(query: TxQuery, batchId: string): Promise<void> {
    const now = Date.now();
    const last = this.lastProgress.get(batchId);
    if (last !== undefined && now - last < this.options.progressIntervalMs) return;
    this.lastProgress.delete(batchId);
    this.lastProgress.set(batchId, now);
    if (this.lastProgress.size > MAX_TRACKED_BATCHES) this.lastProgress.delete(this.lastProgress.keys().next().value!);
    await writeBatchEvent(query, batchId, 'progress', this.options.publicUrl);
    this.options.onWritten();
  }

  async finished(query: TxQuery, batchId: string): Promise<void> {
    this.lastProgress.delete(batchId);
    await writeBatchEvent(query, batchId, 'finished', this.options.publicUrl);
    this.options.onWritten();
  }

  async contactsChanged(query: TxQuery, sessionId: string, changes: ContactChange[]): Promise<void> {
    if (changes.length === 0) return;
    const events: NewEvent[] = [];
    for (let start = 0; start < changes.length; start += MAX_CONTACTS_PER_EVENT) {
      events.push({
        type: 'contacts.changed',
        data: { contacts: changes.slice(start, start + MAX_CONTACTS_PER_EVENT) },
      });
    }
    await this.write(query, sessionId, events);
  }

  private async write(query: TxQuery, sessionId: string, events: NewEvent[]): Promise<void> {
    const written = await writeEvents(query, sessionId, events);
    if (written.length > 0) {
      this.logger.debug({ sessionId, events: written.length, type: written[0]!.type }, 'webhook events written');
      this.options.onWritten();
    }
  }
}
