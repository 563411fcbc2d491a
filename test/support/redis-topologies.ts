import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { redisAnswering, REPO_ROOT, waitFor } from './processes.js';

/**
 * Throw-away Redis topologies from Debian's redis-server and redis-cli, on free loopback ports:
 * a Cluster of 3 masters with a replica each, and a master, a replica and three Sentinels. `env`
 * points the gateway at it.
 */
export interface RedisTopology {
  kind: 'cluster' | 'sentinel';
  env: Record<string, string>;
  /** The data nodes' ports, masters first (Cluster: the 3 masters, then their replicas). */
  ports: number[];
  kill(port: number): void;
  stop(): Promise<void>;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** `count` free ports whose cluster bus ports (+10000) are free too, none in use by anyone now. */
async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let tries = 0; ports.length < count && tries < 2_000; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if (ports.includes(port) || ports.includes(port + 10_000)) continue;
    if ((await portFree(port)) && (await portFree(port + 10_000))) ports.push(port);
  }
  if (ports.length < count) throw new Error('no free loopback ports for a Redis topology');
  return ports;
}

function answering(port: number): Promise<void> {
  return redisAnswering(port, 15_000);
}

class Servers {
  readonly children = new Map<number, ChildProcess>();
  readonly dir = path.join(REPO_ROOT, '.run', 'redis', `${Date.now().toString(36)}-${process.pid}`);

  constructor() {
    mkdirSync(this.dir, { recursive: true });
    // A test run that dies must not leave servers holding loopback ports behind it.
    process.once('exit', () => {
      for (const child of this.children.values()) child.kill('SIGKILL');
    });
  }

  start(port: number, args: string[], configFile?: string): void {
    const log = path.join(this.dir, `${port}.log`);
    const argv = [
      ...(configFile ? [configFile] : []),
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--logfile',
      log,
      ...args,
    ];
    this.children.set(port, spawn('redis-server', argv, { stdio: 'ignore' }));
  }

  kill(port: number): void {
    this.children.get(port)?.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    await Promise.all(
      [...this.children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Installs Debian's redis-server (with redis-cli) when missing and this runs as root, as scripts/test.sh does for Chromium. */
export function ensureRedisServer(): void {
  if (spawnSync('redis-cli', ['--version']).status === 0 && spawnSync('redis-server', ['--version']).status === 0)
    return;
  if (process.getuid?.() !== 0) throw new Error('redis-server and redis-cli are needed (apt-get install redis-server)');
  spawnSync('apt-get', ['update'], { stdio: 'inherit' });
  const install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'redis-server'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (install.status !== 0) throw new Error('apt-get install redis-server failed');
}

export async function startCluster(): Promise<RedisTopology> {
  ensureRedisServer();
  const servers = new Servers();
  try {
    const nodes = await freePorts(6);
    for (const port of nodes)
      servers.start(port, [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        // A master is failed over about this long after it stops answering.
        '--cluster-node-timeout',
        '1000',
      ]);
    await Promise.all(nodes.map(answering));
    const created = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    const role = (port: number) =>
      spawnSync('redis-cli', ['-p', String(port), 'role'], { encoding: 'utf8' }).stdout.split('\n')[0];
    await waitFor(
      async () => {
        for (const port of nodes) {
          const info = spawnSync('redis-cli', ['-p', String(port), 'cluster', 'info'], { encoding: 'utf8' }).stdout;
          if (!info.includes('cluster_state:ok')) return false;
          // Every replica in sync with its master, so a master's failover loses nothing acknowledged before.
          if (role(port) === 'slave') {
            const replication = spawnSync('redis-cli', ['-p', String(port), 'info', 'replication'], {
              encoding: 'utf8',
            }).stdout;
            if (!replication.includes('master_link_status:up')) return false;
          }
        }
        return true;
      },
      'the cluster to be ok with every replica in sync',
      30_000,
    );
    const masters = nodes.filter((port) => role(port) === 'master');
    const ports = [...masters, ...nodes.filter((port) => !masters.includes(port))];
    return {
      kind: 'cluster',
      ports,
      env: { REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: ports.map((p) => `127.0.0.1:${p}`).join(',') },
      kill: (port) => servers.kill(port),
      stop: () => servers.stop(),
    };
  } catch (err) {
    await servers.stop();
    throw err;
  }
}

export const SENTINEL_MASTER_NAME = 'wagmaster';

export async function startSentinel(): Promise<RedisTopology> {
  ensureRedisServer();
  const servers = new Servers();
  try {
    const [master, replica, ...sentinels] = await freePorts(5);
    servers.start(master!, []);
    servers.start(replica!, ['--replicaof', '127.0.0.1', String(master)]);
    await Promise.all([master!, replica!].map(answering));
    for (const port of sentinels) {
      // Sentinel rewrites its configuration file: one of its own each.
      const file = path.join(servers.dir, `sentinel-${port}.conf`);
      writeFileSync(
        file,
        [
          `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${master} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} 1000`,
          `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 5000`,
          `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
          '',
        ].join('\n'),
      );
      servers.start(port, ['--sentinel'], file);
    }
    await Promise.all(sentinels.map(answering));
    await waitFor(
      async () => {
        const replicas = spawnSync(
          'redis-cli',
          ['-p', String(sentinels[0]), 'sentinel', 'replicas', SENTINEL_MASTER_NAME],
          { encoding: 'utf8' },
        ).stdout;
        const known = spawnSync(
          'redis-cli',
          ['-p', String(sentinels[0]), 'sentinel', 'sentinels', SENTINEL_MASTER_NAME],
          { encoding: 'utf8' },
        ).stdout;
        return replicas.includes(String(replica)) && known.split('\n').filter((l) => l === 'name').length >= 2;
      },
      'the Sentinels to know the replica and each other',
      30_000,
      250,
    );
    return {
      kind: 'sentinel',
      ports: [master!, replica!],
      env: {
        REDIS_URL: 'redis://127.0.0.1:6379',
        REDIS_SENTINELS: sentinels.map((p) => `127.0.0.1:${p}`).join(','),
        REDIS_SENTINEL_NAME: SENTINEL_MASTER_NAME,
      },
      kill: (port) => servers.kill(port),
      stop: () => servers.stop(),
    };
  } catch (err) {
    await servers.stop();
    throw err;
  }
}
