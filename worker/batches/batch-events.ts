import type { TxQuery } from '../../shared/webhooks/outbox.js';

/** Where a batch's progress and end are reported (webhooks), from inside the transactions that record them. */
export interface BatchEvents {
  /** A chunk's answers were recorded; the sink decides how often this becomes an event. */
  progressed(query: TxQuery, batchId: string): Promise<void>;
  /** The batch has just been given its final status (completed or failed). */
  finished(query: TxQuery, batchId: string): Promise<void>;
}

export const NO_BATCH_EVENTS: BatchEvents = {
  progressed: () => Promise.resolve(),
  finished: () => Promise.resolve(),
};
