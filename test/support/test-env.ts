import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import { AdminService } from '../../api/admin/admin-service.js';
import { createDataSource, ensureDatabase } from '../../shared/db/data-source.js';
import { RedisKeys } from '../../shared/redis-keys.js';
import { loadConfig } from '../../shared/config.js';
import { blockingRedisOptions, createRedis, getMany, type RedisClient } from '../../shared/redis.js';
import { parseLease } from '../../shared/shard-lease.js';
import { announcer } from '../../shared/control-messages.js';
import { JwksServer } from './jwks-server.js';
import { deleteKeysMatching } from './redis-cleanup.js';
import { freePort, GatewayProcess, REPO_ROOT, waitFor } from './processes.js';

const DB_SERVER = process.env['TEST_DATABASE_SERVER_URL'] ?? 'mysql://root@127.0.0.1:3306';
const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export interface RunningApi {
  process: GatewayProcess;
  baseUrl: string;
}

/** The gateway's default shard count, which the tests' processes run with unless they say otherwise. */
export const TEST_SHARDS = 16;

/**
 * One test run's world: its own database and Redis key prefix (so two runs never collide), a JWKS
 * server, and the gateway processes it started. Everything is torn down in `stop()`.
 */
export class TestEnv {
  readonly runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  readonly databaseName = `wag_test_${this.runId}`;
  readonly databaseUrl = `${DB_SERVER}/${this.databaseName}`;
  readonly redisUrl = REDIS_URL;
  readonly redisPrefix = `wagt_${this.runId}`;
  readonly keys = new RedisKeys(this.redisPrefix, TEST_SHARDS);
  readonly jwks = new JwksServer();
  readonly processes: GatewayProcess[] = [];
  db!: DataSource;
  admin!: AdminService;
  redis!: RedisClient;
  api!: RunningApi;

  /**
   * `redisEnv` points every process and the test's own client at another Redis (a Sentinel set or a
   * Cluster): REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES, … as the gateway reads them.
   */
  constructor(readonly redisEnv: Record<string, string> = { REDIS_URL: REDIS_URL }) {}

  async start(): Promise<void> {
    await this.jwks.start();
    await ensureDatabase(this.databaseUrl);
    this.db = createDataSource({ url: this.databaseUrl, poolSize: 5, connectTimeoutMs: 3000 });
    await this.db.initialize();
    await this.db.runMigrations({ transaction: 'each' });
    this.redis = createRedis(loadConfig({ ...this.redisEnv, REDIS_PREFIX: this.redisPrefix }).redis, {
      maxRetriesPerRequest: 2,
      enableOfflineQueue: true,
    });
    // A topology test kills Redis nodes on purpose; the client reconnects by itself.
    this.redis.on('error', () => undefined);
    // Revocations are announced like the CLI does, so the api processes refuse a key at once.
    this.admin = new AdminService(this.db, announcer(this.redis, this.keys.control()));
    this.api = await this.startApi();
  }

  /** Another connection to this run's Redis, as the gateway's subscribers make it (queueing, never giving up). */
  subscriber(): RedisClient {
    return createRedis(loadConfig({ ...this.redisEnv, REDIS_PREFIX: this.redisPrefix }).redis, blockingRedisOptions());
  }

  /** The worker holding each shard's lease (undefined: none). */
  async leaseHolders(shardCount = TEST_SHARDS): Promise<(string | undefined)[]> {
    const keys = new RedisKeys(this.redisPrefix, shardCount);
    const values = await getMany(
      this.redis,
      Array.from({ length: shardCount }, (_, shard) => keys.lease(shard)),
    );
    return values.map((value) => parseLease(value)?.workerId);
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.processes.map((p) => p.stop('SIGTERM', 5_000)));
    await this.jwks.stop();
    if (this.db?.isInitialized) {
      await this.db.query(`DROP DATABASE IF EXISTS \`${this.databaseName}\``).catch(() => undefined);
      await this.db.destroy();
    }
    if (this.redis) {
      await deleteKeysMatching(this.redis, `*${this.redisPrefix}*`).catch(() => undefined);
      this.redis.disconnect();
    }
  }

  /** The environment every gateway process of this run shares; `overrides` win. */
  env(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      DATABASE_URL: this.databaseUrl,
      ...this.redisEnv,
      REDIS_PREFIX: this.redisPrefix,
      JWKS_URL: this.jwks.url,
      JWT_ISSUER: this.jwks.issuer,
      JWT_AUDIENCE: this.jwks.audience,
      CURSOR_SECRET: `test-cursor-secret-${this.runId}`,
      // Every test calls from 127.0.0.1, and many present bad credentials on purpose: counted per
      // client, they would lock the whole run out. test/security.test.ts turns them on for its own api.
      AUTH_FAILURES_PER_MINUTE: '0',
      ADMIN_LOGIN_FAILURES: '0',
      // Tests never reach out to web.whatsapp.com.
      WA_VERSION_FETCH: 'false',
      ...overrides,
    };
  }

  /** A worker process on the sim driver; `world` is the path of its sim world file. */
  startWorker(world: string, overrides: Record<string, string> = {}, name = 'worker'): GatewayProcess {
    const proc = GatewayProcess.start(
      `${this.runId}-${name}`,
      'dist/worker/main.js',
      this.env({ WA_DRIVER: 'sim', SIM_WORLD: world, WORKER_ID: name, ...overrides }),
    );
    this.processes.push(proc);
    return proc;
  }

  /**
   * A worker process on the real Baileys driver, connected to a fake WhatsApp server at `waUrl`.
   * `trustRootKeyHex` is the fake's root key, installed by the test-only trust preload; without it
   * the worker trusts only WhatsApp's own root, as in production.
   */
  startBaileysWorker(
    waUrl: string,
    trustRootKeyHex: string | undefined,
    overrides: Record<string, string> = {},
    name = 'worker',
  ): GatewayProcess {
    const env = this.env({ WA_DRIVER: 'baileys', WA_WEBSOCKET_URL: waUrl, WORKER_ID: name, ...overrides });
    const nodeArgs: string[] = [];
    if (trustRootKeyHex !== undefined) {
      env['FAKE_WA_ROOT_KEY'] = trustRootKeyHex;
      nodeArgs.push('--import', path.join(REPO_ROOT, 'dist/test/fake-whatsapp/trust-preload.js'));
    }
    const proc = GatewayProcess.start(`${this.runId}-${name}`, 'dist/worker/main.js', env, nodeArgs);
    this.processes.push(proc);
    return proc;
  }

  async startApi(overrides: Record<string, string> = {}, name = 'api'): Promise<RunningApi> {
    const port = await freePort();
    const proc = GatewayProcess.start(
      `${this.runId}-${name}`,
      'dist/api/main.js',
      this.env({ HOST: '127.0.0.1', PORT: String(port), ...overrides }),
    );
    this.processes.push(proc);
    const baseUrl = `http://127.0.0.1:${port}`;
    // Generous: on a machine shared with other builds a process can take half a minute to start.
    await waitFor(
      async () => {
        if (!proc.running) throw new Error(`${name} exited with ${proc.child.exitCode}`);
        const res = await fetch(`${baseUrl}/readyz`);
        return res.status === 200;
      },
      `${name} to become ready`,
      60_000,
    );
    return { process: proc, baseUrl };
  }
}
