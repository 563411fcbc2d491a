/**
 * Capacity of one worker on the real Baileys driver (issue 13, item 7): N paired sessions of real
 * Baileys sockets against the fake WhatsApp server in this process, beside the sim driver measured
 * the same way in the same run. For each driver: RSS of the worker before and after its N sessions
 * (per session), the worker's idle CPU with them connected, the time for all N to come online,
 * and live `about` calls through api → queue → worker → driver (→ Baileys → fake) under
 * closed-loop HTTP load: throughput, p50, p99.
 *   npm run bench:baileys [-- --sessions 200 --connections 32 --duration 15]
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { AdminService } from '../../api/admin/admin-service.js';
import { sessionChangedMessage } from '../../shared/control-messages.js';
import { RedisKeys } from '../../shared/redis-keys.js';
import { FakeWhatsApp } from '../../test/fake-whatsapp/fake-server.js';
import { freePort, GatewayProcess, REPO_ROOT, waitFor } from '../../test/support/processes.js';
import { deleteKeysMatching } from '../../test/support/redis-cleanup.js';
import { generateSimWorld, writeSimWorld } from '../../worker/driver/sim/world-generator.js';
import { httpLoad, type HttpLoadResult } from '../live/http-load.js';
import { freshDatabase } from '../support/fresh-database.js';
import { storePairedSession } from './paired-fleet.js';
import { parseLease } from '../../shared/shard-lease.js';

const { values: args } = parseArgs({
  options: {
    db: { type: 'string', default: process.env['BENCH_DATABASE_SERVER_URL'] ?? 'mysql://root@127.0.0.1:3306' },
    redis: { type: 'string', default: process.env['BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379' },
    sessions: { type: 'string', default: '200' },
    targets: { type: 'string', default: '100' },
    connections: { type: 'string', default: '32' },
    duration: { type: 'string', default: '15' },
    idle: { type: 'string', default: '15' },
    /** V8 CPU profiles of each driver's worker, written to .run/bench/cpu-prof/ when it stops. */
    'cpu-prof': { type: 'boolean', default: false },
  },
});

const N = Number(args.sessions);
const TARGETS = Number(args.targets);
const SHARDS = 16;
/** How long the bench waits for all N sessions before it records a miss and goes on. */
const CONNECT_WAIT_S = 180;

/**
 * What one worker must reach with N real Baileys sessions; the run fails when it misses one. The
 * live-call targets are relative to the sim driver measured in the same run, on the same machine
 * at the same moment: the question is what Baileys and its socket add, not how loaded the host is.
 */
const TARGET = {
  minSessions: 200,
  connectAllS: 120,
  rssPerSessionMiB: 4,
  idleCpuShare: 0.15,
  /** Share of the sim driver's about throughput. */
  aboutThroughputShare: 0.5,
  /** p99 at most this many times the sim's, plus `aboutP99SlackMs`. */
  aboutP99Factor: 3,
  aboutP99SlackMs: 50,
};

type Kind = 'sim' | 'baileys';

interface Figures {
  kind: Kind;
  baselineRssMiB: number;
  rssMiB: number;
  connectS: number;
  idleCpuShare: number;
  benchCpuShare: number;
  about: HttpLoadResult;
}

const log = (line: string) => console.log(line);
const CLOCK_TICKS_PER_S = 100;

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
}

const ownCpuSeconds = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};

/** Share of one core the worker (and this process, the fake server's host) used over `seconds`. */
async function cpuOver(pid: number, seconds: number): Promise<{ worker: number; bench: number }> {
  const [w0, b0] = [cpuSeconds(pid), ownCpuSeconds()];
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  return { worker: (cpuSeconds(pid) - w0) / seconds, bench: (ownCpuSeconds() - b0) / seconds };
}

/** Waits until the worker uses under 5 % of a core over a second (start-up work done), at most `timeoutS`. */
async function settle(pid: number, timeoutS: number): Promise<void> {
  const deadline = Date.now() + timeoutS * 1000;
  while (Date.now() < deadline && (await cpuOver(pid, 1)).worker > 0.05);
}

async function measure(kind: Kind): Promise<Figures> {
  const runId = randomBytes(3).toString('hex');
  const databaseUrl = `${args.db}/wag_bench_baileys_${kind}`;
  const db = await freshDatabase(databaseUrl);
  const redis = new Redis(args.redis, { maxRetriesPerRequest: 2 });
  const prefix = `wagbb_${runId}_${kind}`;
  const keys = new RedisKeys(prefix, SHARDS);
  const admin = new AdminService(db);
  const org = await admin.createOrganization(`Baileys bench ${kind}`, `org_bench_baileys_${kind}`);
  const token = (await admin.createApiKey(org.id, 'bench', ['read'])).token;
  const sessionIds = Array.from({ length: N }, (_, i) => `sess_bb${kind}${String(i).padStart(5, '0')}`);
  const processes: GatewayProcess[] = [];
  const fake = kind === 'baileys' ? new FakeWhatsApp() : undefined;
  const dir = path.join(REPO_ROOT, '.run', 'bench');
  mkdirSync(dir, { recursive: true });
  const worldPath = path.join(dir, `baileys-bench-world-${runId}.json`);
  let targets: string[];
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    REDIS_URL: args.redis,
    REDIS_PREFIX: prefix,
    SHARD_COUNT: String(SHARDS),
    CURSOR_SECRET: randomBytes(24).toString('hex'),
    RATE_LIMIT_PER_MINUTE: '100000000',
    // Sessions connect when announced, so the connect time is not a reconcile tick.
    RECONCILE_INTERVAL_MS: '600000',
    // Capacity, not lease hand-over, is measured: on a host shared with other work, a worker busy
    // logging in hundreds of sockets can renew its leases late (see bench/README.md).
    LEASE_TTL_MS: '60000',
  };
  const workerEnv: Record<string, string> = { ...env, WORKER_ID: `bench-${kind}` };
  const nodeArgs: string[] = args['cpu-prof']
    ? [
        '--cpu-prof',
        `--cpu-prof-dir=${path.join(REPO_ROOT, '.run', 'bench', 'cpu-prof')}`,
        `--cpu-prof-name=worker-${kind}-${runId}.cpuprofile`,
      ]
    : [];
  if (fake) {
    await fake.start();
    const people = Array.from({ length: TARGETS }, (_, i) => ({
      phone: `4930${String(i).padStart(8, '0')}`,
      lid: `7${String(i).padStart(14, '0')}@lid`,
      about: `about ${i}`,
      aboutSetAt: 1_719_662_400,
    }));
    for (const person of people) fake.world.addUser(person);
    targets = people.map((p) => p.phone);
    Object.assign(workerEnv, {
      WA_DRIVER: 'baileys',
      WA_WEBSOCKET_URL: fake.url,
      WA_VERSION_FETCH: 'false',
      FAKE_WA_ROOT_KEY: fake.rootPublicKeyHex,
    });
    nodeArgs.push('--import', path.join(REPO_ROOT, 'dist/test/fake-whatsapp/trust-preload.js'));
  } else {
    const world = generateSimWorld({
      sessions: N,
      sessionIds,
      paired: true,
      latencyMs: 0,
      seed: 7,
      peoplePerSession: 1,
      groupsPerSession: 0,
      people: TARGETS,
    });
    await writeSimWorld(worldPath, world);
    targets = world.accounts.slice(N).map((a) => a.phone);
    Object.assign(workerEnv, { WA_DRIVER: 'sim', SIM_WORLD: worldPath });
  }
  try {
    const port = await freePort();
    const api = GatewayProcess.start(`bench-baileys-${runId}-api`, 'dist/api/main.js', {
      ...env,
      HOST: '127.0.0.1',
      PORT: String(port),
    });
    const worker = GatewayProcess.start(`bench-baileys-${runId}-${kind}`, 'dist/worker/main.js', workerEnv, nodeArgs);
    processes.push(api, worker);
    const baseUrl = `http://127.0.0.1:${port}`;
    const pid = worker.child.pid!;
    await waitFor(async () => (await fetch(`${baseUrl}/readyz`)).status === 200, 'the api', 120_000);
    await waitFor(
      async () =>
        (await redis.mget(...Array.from({ length: SHARDS }, (_, i) => keys.lease(i)))).every(
          (h) => parseLease(h)?.workerId === `bench-${kind}`,
        ),
      'the worker to own every shard',
      30_000,
    );
    await settle(pid, 10);
    const baselineRssMiB = rssMiB(pid);

    const prepared = Date.now();
    for (let i = 0; i < N; i += 20) {
      await Promise.all(
        sessionIds.slice(i, i + 20).map(async (id, j) => {
          await admin.createSession(org.id, id, id);
          if (fake)
            await storePairedSession(
              fake,
              db,
              id,
              `4940${String(i + j).padStart(8, '0')}`,
              `6${String(i + j).padStart(14, '0')}@lid`,
            );
        }),
      );
    }
    log(
      `  ${kind}: ${N} sessions stored in ${((Date.now() - prepared) / 1000).toFixed(1)} s; worker at ${baselineRssMiB.toFixed(0)} MiB with none`,
    );
    const announced = performance.now();
    for (const id of sessionIds) await redis.publish(keys.control(), sessionChangedMessage(id));
    let online = 0;
    const allOnline = await waitFor(
      async () => {
        if (!worker.running) throw new Error(`the ${kind} worker exited`);
        online = (await redis.mget(...sessionIds.map((id) => keys.presence(id)))).filter(Boolean).length;
        return online === N;
      },
      `all ${N} ${kind} sessions online`,
      CONNECT_WAIT_S * 1000,
      200,
    ).catch(() => false);
    const connectS = allOnline ? (performance.now() - announced) / 1000 : Infinity;
    if (!allOnline) log(`  ${kind}: only ${online} of ${N} sessions online after ${CONNECT_WAIT_S} s`);
    await settle(pid, 60);
    const idle = await cpuOver(pid, Number(args.idle));
    const rss = rssMiB(pid);

    const about = await httpLoad({
      baseUrl,
      token,
      connections: Number(args.connections),
      durationS: Number(args.duration),
      nextPath: () => {
        const session = sessionIds[Math.floor(Math.random() * N)]!;
        const target = targets[Math.floor(Math.random() * targets.length)]!;
        return `/api/v1/sessions/${session}/contacts/${target}@s.whatsapp.net/about`;
      },
    });
    if (fake && (fake.unhandled.length > 0 || fake.errors.length > 0))
      log(`  fake: unhandled ${JSON.stringify(fake.unhandled.slice(0, 5))}, errors ${fake.errors.length}`);
    return { kind, baselineRssMiB, rssMiB: rss, connectS, idleCpuShare: idle.worker, benchCpuShare: idle.bench, about };
  } finally {
    await Promise.allSettled(processes.map((p) => p.stop('SIGTERM', 20_000)));
    await fake?.stop();
    await deleteKeysMatching(redis, `*${prefix}*`).catch(() => undefined);
    redis.disconnect();
    rmSync(worldPath, { force: true });
    await db.query(`DROP DATABASE IF EXISTS \`wag_bench_baileys_${kind}\``).catch(() => undefined);
    await db.destroy();
  }
}

const fmt = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : v === Infinity ? 'never' : '-');

async function main(): Promise<void> {
  log(
    `load average ${(await import('node:os'))
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${(await import('node:os')).cpus().length} cores`,
  );
  log(
    `bench:baileys — one worker, ${N} sessions per driver, ${SHARDS} shards, about calls on ${TARGETS} contacts, ${args.connections} HTTP clients for ${args.duration} s`,
  );
  const figures: Figures[] = [];
  for (const kind of ['sim', 'baileys'] as const) figures.push(await measure(kind));
  const widths = [34, 12, 12];
  const line = (cells: string[]) =>
    log(cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | '));
  log('');
  line(['', 'sim', 'baileys']);
  const per = (f: Figures) => (f.rssMiB - f.baselineRssMiB) / N;
  const rows: [string, (f: Figures) => string][] = [
    ['worker RSS, no sessions (MiB)', (f) => fmt(f.baselineRssMiB, 0)],
    [`worker RSS, ${N} sessions (MiB)`, (f) => fmt(f.rssMiB, 0)],
    ['RSS per session (MiB)', (f) => fmt(per(f), 2)],
    [`connect all ${N} (s)`, (f) => fmt(f.connectS, 1)],
    ['idle CPU, worker (% of a core)', (f) => fmt(f.idleCpuShare * 100, 1)],
    ['idle CPU, bench + fake (% core)', (f) => fmt(f.benchCpuShare * 100, 1)],
    ['about: calls/s', (f) => fmt(f.about.opsPerS, 0)],
    ['about: p50 (ms)', (f) => fmt(f.about.p50, 1)],
    ['about: p99 (ms)', (f) => fmt(f.about.p99, 1)],
    ['about: non-2xx / errors', (f) => `${f.about.non2xx} / ${f.about.errors}`],
  ];
  for (const [label, value] of rows) line([label, ...figures.map(value)]);
  const baileys = figures.find((f) => f.kind === 'baileys')!;
  const sim = figures.find((f) => f.kind === 'sim')!;
  const p99Limit = sim.about.p99 * TARGET.aboutP99Factor + TARGET.aboutP99SlackMs;
  const checks: [string, boolean][] = [
    [`sessions ≥ ${TARGET.minSessions}`, N >= TARGET.minSessions],
    [`connect all ≤ ${TARGET.connectAllS} s`, baileys.connectS <= TARGET.connectAllS],
    [`RSS per session ≤ ${TARGET.rssPerSessionMiB} MiB`, per(baileys) <= TARGET.rssPerSessionMiB],
    [`idle CPU ≤ ${TARGET.idleCpuShare * 100} % of a core`, baileys.idleCpuShare <= TARGET.idleCpuShare],
    [
      `about ≥ ${TARGET.aboutThroughputShare} × sim's calls/s (${fmt(sim.about.opsPerS * TARGET.aboutThroughputShare, 0)})`,
      baileys.about.opsPerS >= sim.about.opsPerS * TARGET.aboutThroughputShare,
    ],
    [
      `about p99 ≤ ${TARGET.aboutP99Factor} × sim's + ${TARGET.aboutP99SlackMs} ms (${fmt(p99Limit, 0)} ms)`,
      baileys.about.p99 <= p99Limit,
    ],
    ['about: every answer 2xx', baileys.about.non2xx === 0 && baileys.about.errors === 0],
  ];
  log('');
  log('targets (baileys):');
  for (const [what, ok] of checks) log(`  ${ok ? 'ok  ' : 'MISS'} ${what}`);
  if (checks.some(([, ok]) => !ok)) process.exitCode = 1;
}

await main();
process.exit(process.exitCode ?? 0);
