import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../shared/config.js';
import type { DataSource } from 'typeorm';
import { AdminService } from '../../api/admin/admin-service.js';
import { createDataSource, ensureDatabase } from '../../shared/db/data-source.js';
import { RedisKeys } from '../../shared/redis-keys.js';
import { generateSimWorld, writeSimWorld } from '../../worker/driver/sim/world-generator.js';
import type { SimWorld } from '../../worker/driver/sim/world.js';
import { freePort, GatewayProcess, REPO_ROOT, waitFor } from '../../test/support/processes.js';
import { deleteKeysMatching } from '../../test/support/redis-cleanup.js';
import { parseLease } from '../../shared/shard-lease.js';

export interface ClusterOptions {
  databaseUrl: string;
  redisUrl: string;
  sessions: number;
  workers: number;
  shardCount: number;
  /** Extra environment for every gateway process (e.g. API_KEY_CACHE_MS=1000). */
  extraEnv: Record<string, string>;
  /** Directory for V8 CPU profiles of the gateway processes, when profiling. */
  cpuProfileDir: string | undefined;
  log: (line: string) => void;
}

export const BENCH_ORG = 'org_bench_live';

/**
 * One api and N sim workers started the way production starts them, on a database and Redis
 * prefix of their own, with a generated world whose sessions are all paired. The world has one
 * session more than MySQL knows: the workers never connect it, so the bench can hold it
 * in-process for the driver floor.
 */
export class LiveBenchCluster {
  readonly runId = randomBytes(4).toString('hex');
  readonly redisPrefix = `wagbl_${this.runId}`;
  readonly keys: RedisKeys;
  readonly sessionIds: string[];
  /** In the world, not in MySQL: for the in-process driver floor. */
  readonly spareSessionId: string;
  readonly world: SimWorld;
  readonly redis: Redis;
  readonly processes: GatewayProcess[] = [];
  workers: { id: string; process: GatewayProcess }[] = [];
  api: GatewayProcess | undefined;
  baseUrl = '';
  token = '';
  private db: DataSource | undefined;
  private worldPath = '';
  private mysqlPid: number | undefined;

  constructor(private readonly options: ClusterOptions) {
    this.keys = new RedisKeys(this.redisPrefix, options.shardCount);
    this.sessionIds = Array.from({ length: options.sessions }, (_, i) => `sess_bl${String(i).padStart(5, '0')}`);
    this.spareSessionId = 'sess_bl_inprocess';
    this.world = generateSimWorld({
      sessions: options.sessions + 1,
      sessionIds: [...this.sessionIds, this.spareSessionId],
      paired: true,
      latencyMs: 0,
      seed: 7,
    });
    this.redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 2 });
  }

  /** User JIDs of the world's non-session accounts: every about call goes to one of these. */
  targetJids(): string[] {
    return this.world.accounts.slice(this.options.sessions + 1).map((a) => `${a.phone}@s.whatsapp.net`);
  }

  async prepare(): Promise<void> {
    const { log } = this.options;
    const dir = path.join(REPO_ROOT, '.run', 'bench');
    mkdirSync(dir, { recursive: true });
    this.worldPath = path.join(dir, `live-world-${this.runId}.json`);
    await writeSimWorld(this.worldPath, this.world);
    log(
      `world: ${Object.keys(this.world.sessions).length} sessions, ${this.world.accounts.length} accounts, ${this.world.groups.length} groups, zero latency (${this.worldPath})`,
    );

    await this.dropDatabase();
    await ensureDatabase(this.options.databaseUrl);
    this.db = createDataSource({ url: this.options.databaseUrl, poolSize: 8, connectTimeoutMs: 5000 });
    await this.db.initialize();
    await this.db.runMigrations({ transaction: 'each' });
    const admin = new AdminService(this.db);
    await admin.createOrganization('Live bench', BENCH_ORG);
    this.token = (await admin.createApiKey(BENCH_ORG, 'live bench', ['read'])).token;
    const started = Date.now();
    for (let i = 0; i < this.sessionIds.length; i += 16) {
      await Promise.all(this.sessionIds.slice(i, i + 16).map((id) => admin.createSession(BENCH_ORG, id, id)));
    }
    log(
      `database: ${this.options.databaseUrl} migrated, ${this.sessionIds.length} sessions inserted in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  }

  /** The configuration the gateway processes run with, for clients the bench runs in-process. */
  gatewayConfig(): Config {
    return loadConfig(this.env({}));
  }

  private env(overrides: Record<string, string>): Record<string, string> {
    return {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: this.options.databaseUrl,
      REDIS_URL: this.options.redisUrl,
      REDIS_PREFIX: this.redisPrefix,
      SHARD_COUNT: String(this.options.shardCount),
      CURSOR_SECRET: randomBytes(24).toString('hex'),
      // On, as in production, so its Redis round trip is measured; high enough never to answer 429.
      RATE_LIMIT_PER_MINUTE: '100000000',
      ...this.options.extraEnv,
      ...overrides,
    };
  }

  async start(): Promise<void> {
    const port = await freePort();
    this.api = this.spawn('api', 'dist/api/main.js', { HOST: '127.0.0.1', PORT: String(port) });
    this.baseUrl = `http://127.0.0.1:${port}`;
    for (let i = 1; i <= this.options.workers; i++) {
      const id = `bench-live-w${i}`;
      this.workers.push({
        id,
        process: this.spawn(id, 'dist/worker/main.js', { WA_DRIVER: 'sim', SIM_WORLD: this.worldPath, WORKER_ID: id }),
      });
    }
    await waitFor(
      async () => {
        this.assertRunning();
        return (await fetch(`${this.baseUrl}/readyz`)).status === 200;
      },
      'the api to become ready',
      30_000,
    );
  }

  private spawn(name: string, script: string, overrides: Record<string, string>): GatewayProcess {
    const fullName = `bench-live-${this.runId}-${name}`;
    const proc = this.options.cpuProfileDir
      ? this.spawnProfiled(fullName, script, this.env(overrides))
      : GatewayProcess.start(fullName, script, this.env(overrides));
    this.processes.push(proc);
    return proc;
  }

  /** As GatewayProcess.start, with V8's CPU profiler on (its flags are refused in NODE_OPTIONS); the profile is written at exit. */
  private spawnProfiled(name: string, script: string, env: Record<string, string>): GatewayProcess {
    return GatewayProcess.start(name, script, env, [
      '--cpu-prof',
      `--cpu-prof-dir=${this.options.cpuProfileDir}`,
      `--cpu-prof-name=${name}.cpuprofile`,
    ]);
  }

  private assertRunning(): void {
    for (const proc of this.processes)
      if (!proc.running)
        throw new Error(`${proc.name} exited with ${proc.child.exitCode} (log in .run/test-logs/${proc.name}.log)`);
  }

  /** Sessions whose presence key is set, by the worker that set it. */
  async presenceByWorker(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (let i = 0; i < this.sessionIds.length; i += 500) {
      const owners = await this.redis.mget(...this.sessionIds.slice(i, i + 500).map((id) => this.keys.presence(id)));
      for (const owner of owners) if (owner) counts.set(owner, (counts.get(owner) ?? 0) + 1);
    }
    return counts;
  }

  /** Shards per worker, from the lease keys. */
  async leasesByWorker(): Promise<Map<string, number>> {
    const holders = await this.redis.mget(
      ...Array.from({ length: this.options.shardCount }, (_, i) => this.keys.lease(i)),
    );
    const counts = new Map<string, number>();
    for (const holder of holders.map((value) => parseLease(value)?.workerId))
      if (holder) counts.set(holder, (counts.get(holder) ?? 0) + 1);
    return counts;
  }

  /** Every session online and every shard held, by an even split of the workers. */
  async waitUntilSettled(timeoutMs: number): Promise<void> {
    const started = Date.now();
    let last = '';
    await waitFor(
      async () => {
        this.assertRunning();
        const [presence, leases] = await Promise.all([this.presenceByWorker(), this.leasesByWorker()]);
        const online = [...presence.values()].reduce((a, b) => a + b, 0);
        const held = [...leases.values()];
        const line = `online ${online}/${this.sessionIds.length}, shards ${held.join('/') || '0'}`;
        if (line !== last) this.options.log(`  ${((Date.now() - started) / 1000).toFixed(1)} s: ${line}`);
        last = line;
        const balanced =
          leases.size === this.options.workers &&
          held.reduce((a, b) => a + b, 0) === this.options.shardCount &&
          Math.max(...held) - Math.min(...held) <= 1;
        return online === this.sessionIds.length && balanced;
      },
      'every session online on balanced workers',
      timeoutMs,
      500,
    );
  }

  /**
   * Waits for start-up work (history sync ingestion, group sync) to finish: the gateway processes
   * together use under `idleShare` of one core over a second.
   */
  async waitUntilIdle(idleShare: number, timeoutMs: number): Promise<number> {
    const started = Date.now();
    const pids = this.processes.map((p) => p.child.pid!);
    for (;;) {
      const before = pids.map(cpuTicks);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const share = pids.map(cpuTicks).reduce((sum, t, i) => sum + (t - before[i]!), 0) / CLOCK_TICKS_PER_S;
      if (share < idleShare || Date.now() - started > timeoutMs) return share;
    }
  }

  /** CPU seconds used so far by each gateway process, by Redis, and by the whole machine (busy and total). */
  async cpuSnapshot(): Promise<CpuSnapshot> {
    const processes = new Map(
      this.processes.map((p) => [
        p.name.replace(`bench-live-${this.runId}-`, ''),
        cpuTicks(p.child.pid!) / CLOCK_TICKS_PER_S,
      ]),
    );
    this.mysqlPid ??= pidOf(['mariadbd', 'mysqld']) ?? 0;
    if (this.mysqlPid) processes.set('mariadbd (shared)', cpuTicks(this.mysqlPid) / CLOCK_TICKS_PER_S);
    const own = process.cpuUsage();
    processes.set('bench client', (own.user + own.system) / 1e6);
    const info = await this.redis.info('cpu');
    const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? NaN);
    const [busy, total] = machineTicks();
    return {
      at: performance.now(),
      processes,
      redis: field('used_cpu_sys') + field('used_cpu_user'),
      machineBusy: busy / CLOCK_TICKS_PER_S,
      machineTotal: total / CLOCK_TICKS_PER_S,
    };
  }

  /** Redis's own count and time per command (INFO commandstats), to diff around a load. */
  async redisCommandStats(): Promise<Map<string, { calls: number; usec: number }>> {
    const stats = new Map<string, { calls: number; usec: number }>();
    for (const line of (await this.redis.info('commandstats')).split('\n')) {
      const match = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
      if (match) stats.set(match[1]!, { calls: Number(match[2]), usec: Number(match[3]) });
    }
    return stats;
  }

  /** Resident set size of each worker process (MiB). */
  workerRss(): { id: string; rssMiB: number }[] {
    return this.workers.map((w) => ({ id: w.id, rssMiB: rssMiB(w.process.child.pid!) }));
  }

  apiRss(): number {
    return rssMiB(this.api!.child.pid!);
  }

  async stop(keepDatabase: boolean): Promise<void> {
    await Promise.allSettled(this.processes.map((p) => p.stop('SIGTERM', 15_000)));
    await deleteKeysMatching(this.redis, `*${this.redisPrefix}*`);
    this.redis.disconnect();
    rmSync(this.worldPath, { force: true });
    if (this.db?.isInitialized) await this.db.destroy();
    if (!keepDatabase) await this.dropDatabase();
  }

  /** Last resort when the bench overruns its time budget. */
  kill(): void {
    for (const proc of this.processes) if (proc.running) proc.child.kill('SIGKILL');
  }

  private async dropDatabase(): Promise<void> {
    const name = new URL(this.options.databaseUrl).pathname.replace(/^\//, '');
    const server = new URL(this.options.databaseUrl);
    server.pathname = '/';
    const { createConnection } = await import('mysql2/promise');
    const conn = await createConnection({ uri: server.toString() });
    try {
      await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
    } finally {
      await conn.end();
    }
  }
}

export interface CpuSnapshot {
  at: number;
  processes: Map<string, number>;
  redis: number;
  machineBusy: number;
  machineTotal: number;
}

/** Share of one core each used between two snapshots; machine is the share of all cores busy. */
export function cpuShares(from: CpuSnapshot, to: CpuSnapshot): { name: string; share: number }[] {
  const wall = (to.at - from.at) / 1000;
  const shares = [...to.processes].map(([name, s]) => ({ name, share: (s - (from.processes.get(name) ?? 0)) / wall }));
  shares.push({ name: 'redis-server (shared)', share: (to.redis - from.redis) / wall });
  shares.push({
    name: 'machine (all cores)',
    share: (to.machineBusy - from.machineBusy) / (to.machineTotal - from.machineTotal),
  });
  return shares;
}

/** Linux reports process CPU time in clock ticks of 1/100 s (USER_HZ). */
const CLOCK_TICKS_PER_S = 100;

function cpuTicks(pid: number): number {
  try {
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15 overall.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

/** Busy and total ticks of all cores, from the first line of /proc/stat. */
function machineTicks(): [number, number] {
  const ticks = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return [total - idle, total];
}

/** The pid of a local server process by its command name, when it runs on this machine. */
function pidOf(names: string[]): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (names.includes(readFileSync(`/proc/${entry}/comm`, 'utf8').trim())) return Number(entry);
    } catch {
      // exited while we looked
    }
  }
  return undefined;
}
