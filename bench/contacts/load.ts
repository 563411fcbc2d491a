import autocannon from 'autocannon';

/** What one timed round of closed-loop load produced. */
export interface Round {
  latencies: number[];
  failures: number;
  seconds: number;
}

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
  /**
   * The paths each connection cycles through (one for a fixed query, many for get-one). They are
   * built into request buffers once: rebuilding a request per call (autocannon's setupRequest)
   * costs the load generator CPU that the api then lacks on the same two cores.
   */
  paths: readonly string[];
}

/**
 * Closed-loop HTTP load with autocannon: `connections` clients, each sending its next request on
 * the previous reply, for `length.seconds` or until `length.requests` have been answered. A round
 * by count waits for its slowest request, so slow scenarios keep their tail in the percentiles.
 *
 * A round lasts from its start to its last answer, timed here: autocannon's own `duration` counts
 * whole ticks of its one-second sampler, so a count round answered in 2.0 s reports 3.0 s and
 * understated the api's rate by a third.
 */
export function httpRound(load: HttpLoad, length: { seconds: number } | { requests: number }): Promise<Round> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    const started = performance.now();
    let lastAnswer = started;
    const instance = autocannon(
      {
        url: load.baseUrl,
        connections: load.connections,
        ...('seconds' in length ? { duration: length.seconds } : { amount: length.requests }),
        timeout: 120,
        headers: { authorization: `Bearer ${load.token}` },
        requests: load.paths.map((path) => ({ method: 'GET', path })),
      },
      (err, result) => {
        if (err) return reject(err as Error);
        const seconds = lastAnswer > started ? (lastAnswer - started) / 1000 : result.duration;
        resolve({ latencies, failures: result.non2xx + result.errors + result.timeouts, seconds });
      },
    );
    (instance as unknown as NodeJS.EventEmitter).on(
      'response',
      (_client: unknown, status: number, _bytes: number, ms: number) => {
        lastAnswer = performance.now();
        if (status >= 200 && status < 300) latencies.push(ms);
      },
    );
  });
}

/**
 * The same closed loop without HTTP: `concurrency` async loops, each awaiting `work()` back to
 * back for `durationS` seconds.
 */
export async function loopRound(work: () => Promise<unknown>, concurrency: number, durationS: number): Promise<Round> {
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
  return { latencies, failures, seconds: (performance.now() - started) / 1000 };
}

export function summarize(rounds: Round[]): LoadResult {
  const latencies = rounds.flatMap((r) => r.latencies);
  const seconds = rounds.reduce((s, r) => s + r.seconds, 0);
  return {
    requests: latencies.length,
    rps: latencies.length / seconds,
    ...percentiles(latencies),
    failures: rounds.reduce((n, r) => n + r.failures, 0),
  };
}

export function percentiles(latencies: number[]): { p50: number; p99: number } {
  const sorted = Float64Array.from(latencies).sort();
  const at = (p: number) =>
    sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  return { p50: at(0.5), p99: at(0.99) };
}
