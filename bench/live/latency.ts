/** Latency samples (ms) summarised the same way for every row of the live bench table. */
export interface LatencySummary {
  count: number;
  opsPerS: number;
  p50: number;
  p99: number;
}

export function summarise(latenciesMs: number[], elapsedS: number): LatencySummary {
  const sorted = Float64Array.from(latenciesMs).sort();
  const at = (p: number) =>
    sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  return { count: sorted.length, opsPerS: sorted.length / elapsedS, p50: at(0.5), p99: at(0.99) };
}

/**
 * Closed loop without HTTP: `concurrency` async loops, each awaiting `work()` back to back for
 * `durationS` seconds. A failure stops the run: a floor that errors measures nothing.
 */
export async function concurrentLoops(
  work: () => Promise<unknown>,
  concurrency: number,
  durationS: number,
): Promise<LatencySummary> {
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + durationS * 1000;
  const loop = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      await work();
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return summarise(latencies, (performance.now() - started) / 1000);
}
