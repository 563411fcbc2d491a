const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_ACCESS_DENIED_ERROR',
  'POOL_CLOSED',
  'CONNECTION_CLOSED',
]);

/** True when an error means MySQL or Redis could not be reached, as opposed to a bad query. */
export function isStoreUnavailable(err: unknown): boolean {
  for (
    let e = err as
        { code?: unknown; driverError?: unknown; cause?: unknown; name?: unknown; message?: unknown } | undefined,
      depth = 0;
    e && depth < 4;
    depth++
  ) {
    if (typeof e.code === 'string' && UNAVAILABLE_CODES.has(e.code)) return true;
    if (e.name === 'StoreUnavailableError') return true;
    if (
      typeof e.message === 'string' &&
      /Connection is closed|Connection is not established|connect ECONNREFUSED|Stream isn't writeable|max retries per request|Too many Cluster redirections|Cluster isn't ready|Failed to refresh slots cache|^CLUSTERDOWN|^TRYAGAIN|^MASTERDOWN|^LOADING|^READONLY/i.test(
        e.message,
      )
    )
      return true;
    if (e.name === 'CannotExecuteNotConnectedError' || e.name === 'ConnectionIsNotSetError') return true;
    e = (e.driverError ?? e.cause) as typeof e;
  }
  return false;
}

export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}
