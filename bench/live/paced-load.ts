import http from 'node:http';
import { summarise, type LatencySummary } from './latency.js';

export interface PacedLoadOptions {
  baseUrl: string;
  token: string;
  /** Keep-alive connections the requests share (at most this many in flight). */
  connections: number;
  /** Requests per second, sent evenly spaced. */
  rate: number;
  durationS: number;
  nextPath: () => string;
}

export interface PacedLoadResult extends LatencySummary {
  offered: number;
  statuses: Record<string, number>;
  errors: number;
  /** Still unanswered DRAIN_MS after the last one was due. */
  abandoned: number;
}

const DRAIN_MS = 10_000;

/**
 * Open-loop load at a fixed rate: request i is due at start + i / rate whatever happened to the
 * ones before it, and its latency runs from that due time, so time spent waiting for a free
 * connection counts (no coordinated omission). autocannon's own rate limit sends each second's
 * quota in a burst at the start of the second, which measures bursts rather than a steady rate.
 */
export async function pacedLoad(options: PacedLoadOptions): Promise<PacedLoadResult> {
  const url = new URL(options.baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections, maxFreeSockets: options.connections });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let sent = 0;
  const inFlight = new Set<Promise<void>>();
  const total = Math.round(options.rate * options.durationS);
  const started = performance.now();

  const send = (dueAt: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const req = http.request(
        { agent, host: url.hostname, port: url.port, method: 'GET', path: options.nextPath(), headers: { authorization: `Bearer ${options.token}` } },
        (res) => {
          res.resume();
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            statuses[status] = (statuses[status] ?? 0) + 1;
            if (status >= 200 && status < 300) latencies.push(performance.now() - dueAt);
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });

  await new Promise<void>((done) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - started) * options.rate) / 1000) + 1);
      for (; sent < due; sent++) {
        const p = send(started + (sent * 1000) / options.rate);
        inFlight.add(p);
        void p.then(() => inFlight.delete(p));
      }
      if (sent >= total) return done();
      setTimeout(tick, Math.max(0, started + (sent * 1000) / options.rate - performance.now()));
    };
    tick();
  });
  // An overloaded gateway has a backlog: give it a bounded while, then count the rest as abandoned.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(inFlight), new Promise((resolve) => (timer = setTimeout(resolve, DRAIN_MS)))]);
  clearTimeout(timer);
  const abandoned = inFlight.size;
  const elapsedS = (performance.now() - started) / 1000;
  agent.destroy();
  // Snapshots: replies to abandoned requests may still trickle in after this.
  return { ...summarise([...latencies], elapsedS), offered: options.rate, statuses: { ...statuses }, errors, abandoned };
}
