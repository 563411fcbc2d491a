export interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

/**
 * Collects the requests for keys that arrive in the same turn of the event loop and hands them to
 * `flush` together on the next turn, grouped by key in arrival order: under load many callers then
 * share one round trip, and each request is still sent after it arrived (nothing is served stale).
 */
export class TurnBatch<K, T> {
  private pending: Map<K, Waiter<T>[]> | undefined;

  constructor(private readonly flush: (batch: Map<K, Waiter<T>[]>) => void) {}

  add(key: K): Promise<T> {
    if (!this.pending) {
      this.pending = new Map();
      setImmediate(() => {
        const batch = this.pending!;
        this.pending = undefined;
        this.flush(batch);
      });
    }
    const batch = this.pending;
    return new Promise((resolve, reject) => {
      const waiters = batch.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else batch.set(key, [{ resolve, reject }]);
    });
  }
}
