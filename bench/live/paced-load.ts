import net from 'node:net';
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
const HEADER_END = Buffer.from('\r\n\r\n');

interface Due {
  path: string;
  dueAt: number;
}

/**
 * One keep-alive HTTP/1.1 connection with at most one request in flight, speaking just enough
 * HTTP for the gateway's answers (Content-Length bodies). Node's http client costs several times
 * more CPU per request, and the client shares the machine with what it measures.
 */
class Connection {
  private buffered: Buffer = Buffer.alloc(0);
  private current: Due | undefined;
  private readonly socket: net.Socket;

  constructor(
    host: string,
    port: number,
    private readonly head: (path: string) => string,
    private readonly done: (conn: Connection, due: Due, status: number | undefined) => void,
  ) {
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', () => this.fail());
    this.socket.on('close', () => this.fail());
  }

  get idle(): boolean {
    return this.current === undefined && !this.socket.destroyed;
  }

  send(due: Due): void {
    this.current = due;
    this.socket.write(this.head(due.path));
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const headerEnd = this.buffered.indexOf(HEADER_END);
    if (headerEnd < 0 || !this.current) return;
    const head = this.buffered.subarray(0, headerEnd).toString('latin1');
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    const end = headerEnd + HEADER_END.length + length;
    if (this.buffered.length < end) return;
    this.buffered = this.buffered.subarray(end);
    const due = this.current;
    this.current = undefined;
    this.done(this, due, Number(head.slice(9, 12)));
  }

  private fail(): void {
    const due = this.current;
    this.current = undefined;
    if (due) this.done(this, due, undefined);
  }
}

/**
 * Open-loop load at a fixed rate: request i is due at start + i / rate whatever happened to the
 * ones before it, and its latency runs from that due time, so time spent waiting for a free
 * connection counts (no coordinated omission). autocannon's own rate limit sends each second's
 * quota in a burst at the start of the second, which measures bursts rather than a steady rate.
 */
export async function pacedLoad(options: PacedLoadOptions): Promise<PacedLoadResult> {
  const url = new URL(options.baseUrl);
  const head = (path: string) =>
    `GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${options.token}\r\nConnection: keep-alive\r\n\r\n`;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const waiting: Due[] = [];
  let errors = 0;
  let answered = 0;
  const total = Math.round(options.rate * options.durationS);
  let allAnswered: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (allAnswered = resolve));

  const onDone = (conn: Connection, due: Due, status: number | undefined) => {
    answered++;
    if (status === undefined) errors++;
    else {
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status >= 200 && status < 300) latencies.push(performance.now() - due.dueAt);
    }
    const next = waiting.shift();
    if (next && conn.idle) conn.send(next);
    else if (next) waiting.unshift(next);
    if (answered === total) allAnswered();
  };
  const connections = Array.from(
    { length: options.connections },
    () => new Connection(url.hostname, Number(url.port), head, onDone),
  );
  // Round robin, as 64 independent clients would spread their calls: always taking the first idle
  // connection leaves the last ones unused past the server's keep-alive timeout, and a request
  // sent as the server closes such a connection fails.
  let turn = 0;
  const dispatch = (due: Due) => {
    for (let k = 0; k < connections.length; k++) {
      const conn = connections[(turn + k) % connections.length]!;
      if (!conn.idle) continue;
      turn = (turn + k + 1) % connections.length;
      return conn.send(due);
    }
    waiting.push(due);
  };

  const started = performance.now();
  await paceSchedule(options.rate, total, started, (dueAt) => dispatch({ path: options.nextPath(), dueAt }));
  // An overloaded gateway has a backlog: give it a bounded while, then count the rest as abandoned.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([finished, new Promise((resolve) => (timer = setTimeout(resolve, DRAIN_MS)))]);
  clearTimeout(timer);
  const elapsedS = (performance.now() - started) / 1000;
  const result = {
    ...summarise(latencies, elapsedS),
    offered: options.rate,
    statuses: { ...statuses },
    errors,
    abandoned: total - answered,
  };
  for (const conn of connections) conn.close();
  return result;
}

/**
 * Calls `due` for request i at `started + i / rate` (in batches when timers fire late, never
 * early), whatever happened to the ones before; resolves once all `total` are due.
 */
export function paceSchedule(
  rate: number,
  total: number,
  started: number,
  due: (dueAt: number) => void,
): Promise<void> {
  let sent = 0;
  return new Promise<void>((scheduled) => {
    const tick = () => {
      const dueNow = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
      for (; sent < dueNow; sent++) due(started + (sent * 1000) / rate);
      if (sent >= total) return scheduled();
      setTimeout(tick, Math.max(0, started + (sent * 1000) / rate - performance.now()));
    };
    tick();
  });
}
