import type { EventEmitter } from 'node:events';
import autocannon from 'autocannon';
import { summarise, type LatencySummary } from './latency.js';

export interface HttpLoadOptions {
  baseUrl: string;
  token: string;
  connections: number;
  durationS: number;
  /** Called for every request, so each one can hit another session and contact. */
  nextPath: () => string;
}

export interface HttpLoadResult extends LatencySummary {
  /** Responses by status code. */
  statuses: Record<string, number>;
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
}

/**
 * Closed-loop HTTP load with autocannon: `connections` clients, each sending its next request on
 * the previous reply. Latencies are taken from autocannon's per-response event rather than its
 * histogram, which keeps whole milliseconds only.
 */
export async function httpLoad(options: HttpLoadOptions): Promise<HttpLoadResult> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let ok = 0;
  // @types/autocannon types the promise form without its events, and 'response' without its first argument.
  const run = autocannon({
    url: options.baseUrl,
    connections: options.connections,
    duration: options.durationS,
    headers: { authorization: `Bearer ${options.token}` },
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: options.nextPath() }) }],
  }) as unknown as Promise<autocannon.Result> & EventEmitter;
  // `on` returns the emitter, which the cast above also calls a promise: `run` itself is awaited below.
  (run as EventEmitter).on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status >= 200 && status < 300) {
      ok++;
      latencies.push(ms);
    }
  });
  const result = await run;
  const summary = summarise(latencies, result.duration);
  return { ...summary, count: ok, statuses, non2xx: result.non2xx, errors: result.errors };
}
