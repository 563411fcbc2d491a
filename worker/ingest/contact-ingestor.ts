/**
 * Keeps a session's contacts, groups and memberships in MySQL current from its WhatsApp events
 * (Baileys' payload shapes, from either driver). Listeners only read and queue; writing happens on
 * the session's queue, in arrival order, batched. A payload that does not read is logged and
 * skipped; nothing here throws into the emitter or rejects.
 */
import type { EventEmitter } from 'node:events';
import type { BaileysEventEmitter } from '@whiskeysockets/baileys';
import type { DataSource } from 'typeorm';
import type { Logger } from '../../shared/logger.js';
import { GROUP_FETCH, INGESTED_EVENTS, readEvent, type IngestSource } from './event-readers.js';
import type { PersonRef, TimedOps } from './ingest-ops.js';
import type { ContactEvents } from './contact-events.js';
import { IngestWriter, type WriteCounts } from './ingest-writer.js';
import { withoutOwnAccount } from './own-account-filter.js';
import { describeError, SessionIngestQueue } from './session-ingest-queue.js';
import { WriteSlots } from './write-slots.js';

export interface IngestorOptions {
  /** Rows per multi-row statement. */
  chunkSize?: number;
  /** Operations coalesced into one transaction before a batch is cut. */
  maxOpsPerBatch?: number;
  /** Ingestion transactions running at once across all sessions. */
  maxConcurrentWrites?: number;
  /** Attempts per batch for transient database failures. */
  attempts?: number;
  retryDelayMs?: number;
  /** The clock stamping events (first_seen_at, updated_at, last_seen). */
  now?: () => number;
  /** Told what each committed batch wrote (for metrics). */
  onWritten?: (counts: WriteCounts) => void;
  /** Told, inside each batch's transaction, which contacts it stored or changed (webhooks). */
  events?: ContactEvents;
}

export interface IngestHandle {
  /** Stops listening; already queued events are still written. */
  detach(): void;
  /** Resolves when every event received so far has been written. */
  drain(): Promise<void>;
  /** Same as drain(). */
  flush(): Promise<void>;
}

/** A Node emitter re-emitting Baileys events, or Baileys' own `sock.ev` / makeEventBuffer(). */
export type IngestEventSource = EventEmitter | BaileysEventEmitter;

type Listener = (payload: unknown) => void;
interface Subscribable {
  on(event: string, listener: Listener): unknown;
  off(event: string, listener: Listener): unknown;
}

export class ContactIngestor {
  private readonly queues = new Map<string, SessionIngestQueue>();
  private readonly ownAccounts = new Map<string, PersonRef>();
  private readonly writer: IngestWriter;
  private readonly slots: WriteSlots;
  private readonly now: () => number;

  constructor(
    db: DataSource,
    private readonly logger: Logger,
    private readonly options: IngestorOptions = {},
  ) {
    this.writer = new IngestWriter(db, options.chunkSize ?? 2000, options.events);
    this.slots = new WriteSlots(options.maxConcurrentWrites ?? 4);
    this.now = options.now ?? Date.now;
  }

  attach(sessionId: string, events: IngestEventSource): IngestHandle {
    const source = events as unknown as Subscribable;
    const listeners = INGESTED_EVENTS.map((name) => {
      const listener: Listener = (payload) => void this.receive(sessionId, name, payload);
      source.on(name, listener);
      return [name, listener] as const;
    });
    let attached = true;
    const drain = () => this.flush(sessionId);
    return {
      detach: () => {
        if (!attached) return;
        attached = false;
        for (const [name, listener] of listeners) source.off(name, listener);
      },
      drain,
      flush: drain,
    };
  }

  /**
   * Ingests groupFetchAllParticipating's result: each listed group's participants are its whole
   * membership, so stored members missing from the list are removed. Groups not listed are untouched.
   */
  ingestGroups(sessionId: string, groups: Record<string, unknown>): Promise<void> {
    return this.receive(sessionId, GROUP_FETCH, groups);
  }

  /** Resolves when the session's queued events have been written. */
  async flush(sessionId: string): Promise<void> {
    await this.queues.get(sessionId)?.idle();
  }

  /** Resolves when every session's queued events have been written (call on shutdown). */
  async drain(): Promise<void> {
    while (this.queues.size > 0) await Promise.all([...this.queues.values()].map((q) => q.idle()));
  }

  /** The session's own account, once known, so it is never stored as one of its contacts. */
  setOwnAccount(sessionId: string, self: PersonRef | undefined): void {
    if (self && (self.lid || self.pn)) this.ownAccounts.set(sessionId, self);
    else this.ownAccounts.delete(sessionId);
  }

  private receive(sessionId: string, source: IngestSource, payload: unknown): Promise<void> {
    try {
      const at = this.now();
      const read = readEvent(source, payload);
      const { problems } = read;
      const self = this.ownAccounts.get(sessionId);
      const ops = self ? withoutOwnAccount(read.ops, self) : read.ops;
      if (problems.length > 0) {
        this.logger.warn(
          { sessionId, event: source, problems, kept: ops.length },
          ops.length > 0 ? 'skipped malformed parts of an event payload' : 'skipped a malformed event payload',
        );
      }
      if (ops.length === 0) return Promise.resolve();
      return this.queueOf(sessionId).push({ source, at, ops });
    } catch (err) {
      this.logger.error(
        { sessionId, event: source, err: describeError(err) },
        'could not read event payload, skipped it',
      );
      return Promise.resolve();
    }
  }

  private async write(sessionId: string, batch: TimedOps[]): Promise<WriteCounts> {
    const counts = await this.writer.write(sessionId, batch);
    try {
      this.options.onWritten?.(counts);
    } catch (err) {
      this.logger.warn({ err: describeError(err) }, 'ingest observer threw');
    }
    return counts;
  }

  private queueOf(sessionId: string): SessionIngestQueue {
    let queue = this.queues.get(sessionId);
    if (!queue) {
      const created: SessionIngestQueue = new SessionIngestQueue(
        sessionId,
        (batch) => this.slots.run(() => this.write(sessionId, batch)),
        this.logger,
        {
          maxOpsPerBatch: this.options.maxOpsPerBatch ?? 20_000,
          attempts: this.options.attempts ?? 3,
          retryDelayMs: this.options.retryDelayMs ?? 100,
          // A queue lives while it has work; the session's next event makes a new one.
          onIdle: () => {
            if (this.queues.get(sessionId) === created) this.queues.delete(sessionId);
          },
        },
      );
      this.queues.set(sessionId, created);
      queue = created;
    }
    return queue;
  }
}
