/**
 * One session's ingestion queue: events are written strictly in arrival order, one batch at a time.
 * Events that queue up while a batch is being written are coalesced into the next batch (one
 * transaction), so a burst costs a few transactions rather than one per event.
 *
 * A batch that fails is retried while the failure looks transient (deadlock, lost connection); if it
 * still fails, its events are retried one by one so a single poisonous event cannot sink the others,
 * and what cannot be written is logged and dropped. Nothing here ever rejects.
 */
import type { Logger } from '../../shared/logger.js';
import type { TimedOps } from './ingest-ops.js';
import type { WriteCounts } from './ingest-writer.js';

export interface QueuedEvent extends TimedOps {
  source: string;
}

export type BatchWriter = (batch: QueuedEvent[]) => Promise<WriteCounts>;

export interface QueueOptions {
  /** Stop coalescing once a batch holds this many operations (one event is never split). */
  maxOpsPerBatch: number;
  /** Attempts per batch for transient failures. */
  attempts: number;
  retryDelayMs: number;
  /** Called each time the queue runs dry. */
  onIdle?: () => void;
}

/** MySQL error numbers and client codes worth another attempt. */
const TRANSIENT_ERRNO = new Set([1205, 1213, 2006, 2013]);
const TRANSIENT_CODES = new Set(['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE']);

export function isTransient(err: unknown): boolean {
  const e = err as { errno?: unknown; code?: unknown; driverError?: { errno?: unknown; code?: unknown } } | null;
  const errno = e?.errno ?? e?.driverError?.errno;
  const code = e?.code ?? e?.driverError?.code;
  return (
    (typeof errno === 'number' && TRANSIENT_ERRNO.has(errno)) || (typeof code === 'string' && TRANSIENT_CODES.has(code))
  );
}

/** Error fields safe to log: never the statement or its parameters (they hold personal data). */
export function describeError(err: unknown): Record<string, unknown> {
  const e = err as { message?: unknown; code?: unknown; errno?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message.slice(0, 300) : String(err);
  return { message, code: e?.code, errno: e?.errno };
}

export class SessionIngestQueue {
  private readonly pending: { event: QueuedEvent; done: () => void }[] = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly sessionId: string,
    private readonly write: BatchWriter,
    private readonly logger: Logger,
    private readonly options: QueueOptions,
  ) {}

  /** Resolves once the event has been written (or given up on). */
  push(event: QueuedEvent): Promise<void> {
    const written = new Promise<void>((resolve) => this.pending.push({ event, done: resolve }));
    this.running ??= this.drainPending();
    return written;
  }

  /** Resolves when everything queued so far, and anything queued meanwhile, has been handled. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drainPending(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.takeBatch();
        await this.writeBatch(batch.map((b) => b.event));
        for (const { done } of batch) done();
      }
    } finally {
      this.running = undefined;
      this.options.onIdle?.();
    }
  }

  private takeBatch(): { event: QueuedEvent; done: () => void }[] {
    let ops = 0;
    let count = 0;
    while (
      count < this.pending.length &&
      (count === 0 || ops + this.pending[count]!.event.ops.length <= this.options.maxOpsPerBatch)
    ) {
      ops += this.pending[count]!.event.ops.length;
      count++;
    }
    return this.pending.splice(0, count);
  }

  private async writeBatch(events: QueuedEvent[]): Promise<void> {
    const error = await this.attempt(events);
    if (error === undefined) return;
    if (events.length > 1) {
      this.logger.warn(
        { sessionId: this.sessionId, events: events.length, err: describeError(error) },
        'ingest batch failed, writing its events one by one',
      );
      for (const event of events) {
        const single = await this.attempt([event]);
        if (single !== undefined) this.giveUp(event, single);
      }
      return;
    }
    this.giveUp(events[0]!, error);
  }

  /** Writes the batch, retrying transient failures; returns the last error, or undefined on success. */
  private async attempt(events: QueuedEvent[]): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      try {
        const started = Date.now();
        const counts = await this.write(events);
        this.logger.debug(
          { sessionId: this.sessionId, events: events.length, ms: Date.now() - started, ...counts },
          'ingested',
        );
        return undefined;
      } catch (err) {
        if (attempt >= this.options.attempts || !isTransient(err)) return err;
        await new Promise((resolve) => setTimeout(resolve, this.options.retryDelayMs * 4 ** (attempt - 1)));
      }
    }
  }

  private giveUp(event: QueuedEvent, err: unknown): void {
    this.logger.error(
      { sessionId: this.sessionId, event: event.source, ops: event.ops.length, err: describeError(err) },
      'could not ingest event, dropped it',
    );
  }
}
