/**
 * `read`, shared: callers that arrive while a read is in flight get that read, and so do callers
 * within `reuseMs` after it finished. A failed read is not kept. Many scrapers of /metrics at once
 * then cost one rendering (and one reading of the queues) instead of one each.
 */
export function sharedReading<T>(reuseMs: number, read: () => Promise<T>): () => Promise<T> {
  let current: { value: Promise<T>; doneAt: number | undefined } | undefined;
  return () => {
    if (current && (current.doneAt === undefined || Date.now() - current.doneAt < reuseMs)) return current.value;
    const reading: { value: Promise<T>; doneAt: number | undefined } = { value: read(), doneAt: undefined };
    current = reading;
    reading.value.then(
      () => {
        reading.doneAt = Date.now();
      },
      () => {
        if (current === reading) current = undefined;
      },
    );
    return reading.value;
  };
}
