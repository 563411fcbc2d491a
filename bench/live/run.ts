/**
 * Live-path benchmark (issue 3): one api and two sim workers, 16 shards, 1,000 online sessions
 * with zero sim latency; 64 HTTP clients call `about` on random sessions and contacts. Beside it,
 * in the same run, the floors: the same live path without HTTP (the api's LiveClient in-process),
 * the HTTP stack alone, a Redis round trip and the driver call in-process.
 *   npm run bench:live [-- --duration 15 --connections 64 --rate 1000 --env API_KEY_CACHE_MS=1000 --cpu-prof]
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../../test/support/processes.js';
import { cpuShares, LiveBenchCluster, type CpuSnapshot } from './cluster.js';
import { inProcessDriverCall, queuePathPaced, redisRoundTrip } from './floors.js';
import { httpLoad } from './http-load.js';
import type { LatencySummary } from './latency.js';
import { pacedLoad, type PacedLoadResult } from './paced-load.js';
import { seededRandom } from '../../shared/seeded-random.js';

const { values: args } = parseArgs({
  options: {
    db: {
      type: 'string',
      default: process.env['BENCH_LIVE_DATABASE_URL'] ?? 'mysql://root@127.0.0.1:3306/wag_bench_live',
    },
    redis: { type: 'string', default: process.env['BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379' },
    sessions: { type: 'string', default: '1000' },
    workers: { type: 'string', default: '2' },
    shards: { type: 'string', default: '16' },
    connections: { type: 'string', default: '64' },
    duration: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '3' },
    /** Requests per second of the paced run, where the latency targets are checked. */
    rate: { type: 'string', default: '1000' },
    /** KEY=VALUE for every gateway process, repeatable (e.g. --env API_KEY_CACHE_MS=1000). */
    env: { type: 'string', multiple: true, default: [] },
    'cpu-prof': { type: 'boolean', default: false },
    'keep-db': { type: 'boolean', default: false },
  },
});

const SESSIONS = Number(args.sessions);
const WORKERS = Number(args.workers);
const CONNECTIONS = Number(args.connections);
const DURATION_S = Number(args.duration);
const WARMUP_S = Number(args.warmup);
const RATE = Number(args.rate);
const FLOOR_S = 5;
const SWEEP_S = 8;
const SWEEP_SHARES = [0.25, 0.5, 0.75];
const TIME_BUDGET_MS = 10 * 60_000;
const TARGET = { p50Ms: 5, p99Ms: 50, opsPerS: 1_000 };
/** A paced run that completes less than this share of its offered rate did not hold the rate. */
const HELD_RATE = 0.98;

const log = (line: string) => console.log(line);

function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--env wants KEY=VALUE, got "${pair}"`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(v < 1 ? 3 : v < 10 ? 2 : 1) : '-');
const row = (cells: string[], widths: number[]) =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ');
const statusLine = (statuses: Record<string, number>) =>
  Object.entries(statuses)
    .map(([status, n]) => `${status}: ${n}`)
    .join(', ') || 'none';

/** Requests of a paced run that did not end in a 2xx answer. */
function pacedFailures(r: PacedLoadResult): number {
  return (
    r.errors +
    r.abandoned +
    Object.entries(r.statuses).reduce((n, [status, count]) => n + (status.startsWith('2') ? 0 : count), 0)
  );
}

function cpuLine(from: CpuSnapshot, to: CpuSnapshot, opsPerS: number): string {
  return cpuShares(from, to)
    .map((c) =>
      c.name.startsWith('machine')
        ? `${c.name} ${(c.share * 100).toFixed(0)} %`
        : `${c.name} ${(c.share * 100).toFixed(0)} % (${((c.share * 1000) / opsPerS).toFixed(2)} ms/call)`,
    )
    .join(', ');
}

function redisLine(
  from: Map<string, { calls: number; usec: number }>,
  to: Map<string, { calls: number; usec: number }>,
  calls: number,
): string {
  const rows = [...to].map(([name, s]) => ({
    name,
    calls: s.calls - (from.get(name)?.calls ?? 0),
    usec: s.usec - (from.get(name)?.usec ?? 0),
  }));
  const total = rows.reduce((n, r) => n + r.usec, 0);
  const top = rows
    .filter((r) => r.calls > 0)
    .sort((a, b) => b.usec - a.usec)
    .slice(0, 8);
  return `total ${(total / calls).toFixed(0)} µs; ${top.map((r) => `${r.name} ${(r.calls / calls).toFixed(2)} (${(r.usec / calls).toFixed(0)})`).join(', ')}`;
}

async function main(): Promise<number> {
  const began = Date.now();
  const extraEnv = parseEnv(args.env);
  const cpuProfileDir = args['cpu-prof']
    ? path.join(REPO_ROOT, '.run', 'bench', `live-cpu-${new Date().toISOString().replace(/[:.]/g, '-')}`)
    : undefined;
  log(
    `live about benchmark — ${os.cpus().length} CPU (${os.cpus()[0]?.model ?? '?'}), node ${process.version}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const cluster = new LiveBenchCluster({
    databaseUrl: args.db,
    redisUrl: args.redis,
    sessions: SESSIONS,
    workers: WORKERS,
    shardCount: Number(args.shards),
    extraEnv,
    cpuProfileDir,
    log,
  });
  const overrun = setTimeout(() => {
    log(`the bench overran its ${TIME_BUDGET_MS / 60_000} min budget: killing its processes`);
    cluster.kill();
    process.exit(2);
  }, TIME_BUDGET_MS);
  let failed: boolean;
  try {
    await cluster.prepare();
    await cluster.start();
    log(
      `started 1 api + ${WORKERS} workers (SHARD_COUNT=${args.shards}, LOG_LEVEL=warn${Object.keys(extraEnv).length ? `, ${args.env.join(', ')}` : ''}); waiting for sessions:`,
    );
    await cluster.waitUntilSettled(180_000);
    const busy = await cluster.waitUntilIdle(0.15, 90_000);
    log(`start-up work done (gateway CPU ${(busy * 100).toFixed(0)} % of a core over the last second)`);
    const rssBefore = cluster.workerRss();

    const random = seededRandom(42);
    const jids = cluster.targetJids();
    const nextJid = () => jids[Math.floor(random() * jids.length)]!;
    const nextPath = () =>
      `/api/v1/sessions/${cluster.sessionIds[Math.floor(random() * cluster.sessionIds.length)]!}/contacts/${nextJid()}/about`;
    const load = { baseUrl: cluster.baseUrl, token: cluster.token, connections: CONNECTIONS, nextPath };

    log(
      `load: GET …/sessions/{random of ${SESSIONS}}/contacts/{random of ${jids.length}}/about, ${CONNECTIONS} keep-alive connections`,
    );
    log(
      `  ${WARMUP_S} s warm-up, then ${DURATION_S} s closed loop (autocannon: each connection sends on the previous reply)`,
    );
    await httpLoad({ ...load, durationS: WARMUP_S });
    const cpu0 = await cluster.cpuSnapshot();
    const redis0 = await cluster.redisCommandStats();
    const loadStartedUs = process.hrtime.bigint() / 1000n;
    const closed = await httpLoad({ ...load, durationS: DURATION_S });
    const cpu1 = await cluster.cpuSnapshot();
    const redis1 = await cluster.redisCommandStats();
    // Same clock as the profiles' sample times: cut them to the measured load with these.
    if (cpuProfileDir) log(`  closed-loop window, monotonic µs: ${loadStartedUs} - ${process.hrtime.bigint() / 1000n}`);
    log(
      `  then, once the gateway is idle again, ${WARMUP_S} s paced warm-up and ${DURATION_S} s paced: ${RATE} requests/s evenly spaced over the same connections, latency from each request's due time`,
    );
    // The paced run measures the steady state at this rate, like the closed loop after its warm-up,
    // not the gateway catching up with the overload the closed loop just left behind.
    await cluster.waitUntilIdle(0.15, 30_000);
    await pacedLoad({ ...load, rate: RATE, durationS: WARMUP_S });
    const cpuPaced = await cluster.cpuSnapshot();
    const pacedStartedUs = process.hrtime.bigint() / 1000n;
    const paced = await pacedLoad({ ...load, rate: RATE, durationS: DURATION_S });
    if (cpuProfileDir) log(`  paced window, monotonic µs: ${pacedStartedUs} - ${process.hrtime.bigint() / 1000n}`);
    const cpu2 = await cluster.cpuSnapshot();
    const rssAfter = cluster.workerRss();
    // Where the latency targets stop holding: the same paced load at lower rates.
    const sweep: { rate: number; result: PacedLoadResult }[] = [];
    for (const rate of SWEEP_SHARES.map((share) => Math.round(RATE * share))) {
      log(`  then ${SWEEP_S} s paced at ${rate}/s`);
      sweep.push({ rate, result: await pacedLoad({ ...load, rate, durationS: SWEEP_S }) });
    }
    const presence = await cluster.presenceByWorker();

    log(
      `floor: the live path without HTTP (the api's LiveClient in this process → shard queues → workers → reply), paced ${RATE}/s, ${FLOOR_S * 2} s`,
    );
    const nextCall = () => ({
      sessionId: cluster.sessionIds[Math.floor(random() * cluster.sessionIds.length)]!,
      jid: nextJid(),
    });
    const cpu3 = await cluster.cpuSnapshot();
    const queueFloor = await queuePathPaced(cluster.gatewayConfig(), nextCall, RATE, FLOOR_S * 2);
    const cpu4 = await cluster.cpuSnapshot();
    log(`floor: GET /healthz closed loop (HTTP stack only: no auth, no Redis, no MySQL), ${FLOOR_S} s`);
    const healthz = await httpLoad({ ...load, nextPath: () => '/healthz', durationS: FLOOR_S });
    log(`floor: Redis GET, ${CONNECTIONS} concurrent loops on one ioredis connection, ${FLOOR_S} s`);
    const redisFloor = await redisRoundTrip(
      args.redis,
      cluster.keys.presence(cluster.sessionIds[0]!),
      CONNECTIONS,
      FLOOR_S,
    );
    log(`floor: sim fetchAbout in this process, one call at a time, ${FLOOR_S} s`);
    const driverFloor = await inProcessDriverCall(
      cluster.world,
      args.redis,
      cluster.redisPrefix,
      cluster.spareSessionId,
      nextJid,
      1,
      FLOOR_S,
    );

    log('');
    const widths = [58, 7, 8, 8, 8];
    const header = row(['path', 'ops/s', 'p50 ms', 'p99 ms', 'calls'], widths);
    log(header);
    log('-'.repeat(header.length));
    const line = (label: string, s: LatencySummary) =>
      log(row([label, s.opsPerS.toFixed(0), ms(s.p50), ms(s.p99), String(s.count)], widths));
    line(`about, closed loop, ${CONNECTIONS} connections (autocannon)`, closed);
    line(`about, paced ${RATE}/s over ${CONNECTIONS} connections`, paced);
    for (const { rate, result } of sweep) line(`about, paced ${rate}/s (${SWEEP_S} s)`, result);
    line(`floor: queue path without HTTP, paced ${RATE}/s`, queueFloor);
    line(`floor: GET /healthz, closed loop, ${CONNECTIONS} connections`, healthz);
    line(`floor: Redis GET round trip, ${CONNECTIONS} loops`, redisFloor);
    line('floor: in-process sim fetchAbout, 1 loop', driverFloor);
    log('');
    log(
      `closed loop: ${statusLine(closed.statuses)}; non-2xx ${closed.non2xx}, connection errors/timeouts ${closed.errors}`,
    );
    const meetsTargets = (r: LatencySummary) => r.p50 <= TARGET.p50Ms && r.p99 <= TARGET.p99Ms;
    const highestMet = [...sweep].reverse().find(({ result }) => meetsTargets(result));
    log(
      `latency targets (p50 ≤ ${TARGET.p50Ms} ms, p99 ≤ ${TARGET.p99Ms} ms) ${meetsTargets(paced) ? `hold at ${RATE}/s` : highestMet ? `hold up to ${highestMet.rate}/s of the rates tried` : 'hold at none of the rates tried'}`,
    );
    log(
      `paced:       ${statusLine(paced.statuses)}; connection errors ${paced.errors}, unanswered 10 s after the end ${paced.abandoned}`,
    );
    log(`CPU, closed loop — share of one core (per call): ${cpuLine(cpu0, cpu1, closed.opsPerS)}`);
    log(`CPU, paced       — share of one core (per call): ${cpuLine(cpuPaced, cpu2, paced.opsPerS)}`);
    log(
      `CPU, queue path without HTTP (bench client = the LiveClient) — share of one core (per call): ${cpuLine(cpu3, cpu4, queueFloor.opsPerS)}`,
    );
    log(`Redis, closed loop — commands per call (µs of Redis per call): ${redisLine(redis0, redis1, closed.count)}`);
    log(`api RSS ${cluster.apiRss().toFixed(0)} MiB`);
    for (const [i, w] of rssAfter.entries()) {
      log(
        `worker ${w.id}: ${presence.get(w.id) ?? 0} sessions online, RSS ${w.rssMiB.toFixed(0)} MiB after the load (${rssBefore[i]!.rssMiB.toFixed(0)} MiB before)`,
      );
    }

    const failures =
      queueFloor.failures +
      closed.non2xx +
      closed.errors +
      [paced, ...sweep.map(({ result }) => result)].reduce((n, r) => n + pacedFailures(r), 0);
    const checks: [string, boolean][] = [
      [
        `≥ ${TARGET.opsPerS} ops/s, closed loop at ${CONNECTIONS} connections (${closed.opsPerS.toFixed(0)} ops/s)`,
        closed.opsPerS >= TARGET.opsPerS,
      ],
      [`holds ${RATE}/s paced (${paced.opsPerS.toFixed(0)}/s completed)`, paced.opsPerS >= RATE * HELD_RATE],
      [`p50 ≤ ${TARGET.p50Ms} ms at ${RATE}/s (${ms(paced.p50)} ms)`, paced.p50 <= TARGET.p50Ms],
      [`p99 ≤ ${TARGET.p99Ms} ms at ${RATE}/s (${ms(paced.p99)} ms)`, paced.p99 <= TARGET.p99Ms],
      [`no failed request (${failures})`, failures === 0],
    ];
    log('');
    log(
      `targets (closed-loop latency is ${CONNECTIONS} ÷ throughput by Little's law, so p50/p99 are checked on the paced run):`,
    );
    for (const [label, ok] of checks) log(`  ${ok ? 'PASS' : 'FAIL'}  ${label}`);
    failed = checks.some(([, ok]) => !ok);
  } finally {
    log('');
    log('stopping the gateway processes');
    await cluster.stop(args['keep-db']);
    clearTimeout(overrun);
    if (cpuProfileDir) log(`CPU profiles: ${cpuProfileDir}`);
    log(
      `total bench time ${((Date.now() - began) / 1000).toFixed(0)} s, load average now ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
  }
  return failed ? 1 : 0;
}

process.exit(await main());
