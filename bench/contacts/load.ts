import autocannon from 'autocannon';

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  /** Requests that did not succeed (non-2xx, connection errors, timeouts). A run with any is invalid. */
  failures: number;
}

export interface HttpLoad {
  baseUrl: string;
  token: string;
  connections: number;
  durationS: number;
  /** Called for every request, so a scenario can vary its path (e.g. a different contact each time). */
  nextPath: () => string;
}

/** Closed-loop HTTP load with autocannon: `connections` clients, each sending its next request on the previous reply. */
export async function httpLoad(load: HttpLoad): Promise<LoadResult> {
  const result = await autocannon({
    url: load.baseUrl,
    connections: load.connections,
    duration: load.durationS,
    headers: { authorization: `Bearer ${load.token}` },
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: load.nextPath() }) }],
  });
  const requests = result['2xx'];
  return {
    requests,
    rps: requests / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failures: result.non2xx + result.errors + result.timeouts,
  };
}

/**
 * The same closed loop without HTTP: `concurrency` async loops, each awaiting `work()` back to
 * back for `durationS` seconds.
 */
export async function loopLoad(work: () => Promise<unknown>, concurrency: number, durationS: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let failures = 0;
  const started = performance.now();
  const deadline = started + durationS * 1000;
  const loop = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        await work();
        latencies.push(performance.now() - t0);
      } catch {
        failures++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsedS = (performance.now() - started) / 1000;
  return { requests: latencies.length, rps: latencies.length / elapsedS, ...percentiles(latencies), failures };
}

export function percentiles(latencies: number[]): { p50: number; p99: number } {
  const sorted = Float64Array.from(latencies).sort();
  const at = (p: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!);
  return { p50: at(0.5), p99: at(0.99) };
}
