import { parseArgs } from 'node:util';
import { parseCapabilities } from '../../shared/capabilities.js';
import { loadConfig } from '../../shared/config.js';
import { createDataSource, ensureDatabase } from '../../shared/db/data-source.js';
import { AppError } from '../../shared/errors.js';
import { AdminService, RevocationNotAnnounced } from '../admin/admin-service.js';
import type { Config } from '../../shared/config.js';
import { announcer } from '../../shared/control-messages.js';
import { createRedis } from '../../shared/redis.js';
import { RedisKeys } from '../../shared/redis-keys.js';
import type { DataSource } from 'typeorm';
import { SESSION_STATUSES, type SessionStatus } from '../../shared/db/entities/wa-session.js';
import { createLogger } from '../../shared/logger.js';
import { PushedCache } from '../cache/pushed-cache.js';
import { LiveClient } from '../live/live-client.js';
import { JobSigningKey } from '../../shared/job-signing/job-signing-key.js';
import { SessionAccess } from '../sessions/session-access.js';
import { SessionService } from '../sessions/session-service.js';
import { SessionViews } from '../sessions/session-views.js';

const USAGE = `Usage: npm run gateway -- <command> [options]

  migrate                                          create the database if missing and apply migrations
  org create --name NAME [--id ID]                 create an organization (ID: your frontend's org id)
  key create --org ORG --name NAME --capabilities read,send,manage
                                                   create an API key; the token is printed once
  key list --org ORG                               list an organization's API keys (never the secrets)
  key revoke KEY_ID                                revoke an API key (refused from the next request on;
                                                   running api processes are told over Redis)
  session create --org ORG [--name NAME] [--id sess_…]
                                                   create a session (its worker connects it at once)
  session list --org ORG [--status STATUS]         list an organization's sessions
  session logout SESSION_ID --org ORG              log the account out (its worker must be running)
  session delete SESSION_ID --org ORG              log out when connected, then delete the session
                                                   and everything stored for it

Add --json for machine-readable output. Reads DATABASE_URL (and, for key revoke and the session
commands, REDIS_URL, REDIS_PREFIX and REDIS_SENTINELS or REDIS_CLUSTER_NODES) like the gateway does.`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    name: { type: 'string' },
    id: { type: 'string' },
    org: { type: 'string' },
    status: { type: 'string' },
    capabilities: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

function required(name: 'name' | 'org' | 'capabilities'): string {
  const value = values[name];
  if (!value) throw new UsageError(`--${name} is required`);
  return value;
}

class UsageError extends Error {}

function print(human: string, data: unknown): void {
  process.stdout.write(values.json ? `${JSON.stringify(data)}\n` : `${human}\n`);
}

async function run(): Promise<void> {
  const [noun, verb, arg] = positionals;
  if (values.help || !noun) return void console.log(USAGE);
  const config = loadConfig();
  if (noun === 'migrate') await ensureDatabase(config.db.url);
  const db = createDataSource({ ...config.db, poolSize: 2 });
  await db.initialize();
  try {
    const admin = new AdminService(db, noun === 'key' && verb === 'revoke' ? announceOnce(config) : undefined);
    switch (`${noun} ${verb ?? ''}`.trim()) {
      case 'migrate': {
        const applied = await db.runMigrations({ transaction: 'each' });
        return print(applied.length ? `applied: ${applied.map((m) => m.name).join(', ')}` : 'schema is up to date', {
          applied: applied.map((m) => m.name),
        });
      }
      case 'org create': {
        const org = await admin.createOrganization(required('name'), values.id);
        return print(`organization ${org.id} created`, org);
      }
      case 'key create': {
        const { key, token } = await admin.createApiKey(
          required('org'),
          required('name'),
          parseCapabilities(required('capabilities')),
        );
        return print(
          `API key ${key.id} created with [${key.capabilities.join(', ')}].\nToken (shown only now, store it safely):\n${token}`,
          {
            id: key.id,
            organizationId: key.organizationId,
            name: key.name,
            capabilities: key.capabilities,
            token,
          },
        );
      }
      case 'key list': {
        const keys = await admin.listApiKeys(required('org'));
        const rows = keys.map(({ secretHash: _hidden, ...rest }) => rest);
        return print(
          rows
            .map(
              (k) =>
                `${k.id}  ${k.name}  [${k.capabilities.join(',')}]  ${k.revokedAt ? 'revoked' : 'active'}  last used: ${k.lastUsedAt ? new Date(k.lastUsedAt).toISOString() : 'never'}`,
            )
            .join('\n') || 'no keys',
          rows,
        );
      }
      case 'key revoke': {
        if (!arg) throw new UsageError('key revoke needs a KEY_ID');
        const key = await admin.revokeApiKey(arg);
        return print(`API key ${key.id} revoked`, { id: key.id, revokedAt: key.revokedAt });
      }
      case 'session create': {
        const session = await withSessions(config, db, (sessions) =>
          sessions.create(required('org'), values.name ?? null, values.id),
        );
        return print(`session ${session.id} created (${session.status}, shard ${session.shard})`, session);
      }
      case 'session list': {
        const status = values.status === undefined ? undefined : parseStatus(values.status);
        const rows = await withSessions(config, db, async (sessions) => {
          const all = [];
          let after: string | undefined;
          do {
            const page = await sessions.page({ scope: required('org'), status }, after, 500);
            all.push(...page.rows);
            after = page.hasMore ? page.last : undefined;
          } while (after);
          return all;
        });
        return print(
          rows
            .map((r) => `${r.id}  ${r.status}  ${r.phoneJid ?? '-'}  shard ${r.shard}  ${r.name ?? ''}`.trimEnd())
            .join('\n') || 'no sessions',
          rows,
        );
      }
      case 'session logout':
      case 'session delete': {
        if (!arg) throw new UsageError(`session ${verb} needs a SESSION_ID`);
        await withSessions(config, db, (sessions) =>
          verb === 'logout' ? sessions.logout(required('org'), arg) : sessions.delete(required('org'), arg),
        );
        return print(`session ${arg} ${verb === 'logout' ? 'logged out' : 'deleted'}`, { id: arg });
      }
      default:
        throw new UsageError(`unknown command "${positionals.join(' ')}"`);
    }
  } finally {
    await db.destroy();
  }
}

/**
 * Runs `work` with the session service the api uses, on Redis connections opened for it and
 * closed after: creating a session announces it to the workers, logging out goes through the
 * worker that holds the session.
 */
async function withSessions<T>(
  config: Config,
  db: DataSource,
  work: (sessions: SessionService) => Promise<T>,
): Promise<T> {
  // Its output is the command's answer (--json is parsed by scripts): no log lines in it.
  const logger = createLogger('silent', 'cli');
  const redis = createRedis(config.redis, { lazyConnect: true });
  const subscriber = createRedis(config.redis, { lazyConnect: true, enableOfflineQueue: true });
  for (const client of [redis, subscriber]) client.on('error', () => undefined);
  const keys = new RedisKeys(config.redis.prefix, config.shards.count);
  let live: LiveClient | undefined;
  try {
    // Before the live client exists: its queues would start connecting the shared client themselves.
    await Promise.all([redis.connect(), subscriber.connect()]);
    live = new LiveClient(config, keys, redis, subscriber, new JobSigningKey(config.jobSigningSecret, db), logger);
    await live.start();
    const sessions = new SessionService({
      admin: new AdminService(db),
      access: new SessionAccess(db, new PushedCache<string>(0)),
      views: new SessionViews(db, redis, keys, config.shards.count),
      live,
      redis,
      keys,
      db,
      pairingWindowMs: config.pairing.windowMs,
      shardCount: config.shards.count,
    });
    return await work(sessions);
  } finally {
    await live?.stop();
    redis.disconnect();
    subscriber.disconnect();
  }
}

function parseStatus(value: string): SessionStatus {
  if (!(SESSION_STATUSES as readonly string[]).includes(value))
    throw new UsageError(`--status must be one of ${SESSION_STATUSES.join(', ')}`);
  return value as SessionStatus;
}

/** One publish on the gateway's control channel, on a connection opened for it and closed after. */
function announceOnce(config: Config) {
  return async (message: string) => {
    const redis = createRedis(config.redis, { lazyConnect: true, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      await announcer(redis, new RedisKeys(config.redis.prefix, config.shards.count).control())(message);
    } finally {
      redis.disconnect();
    }
  };
}

run().catch((err: unknown) => {
  if (err instanceof RevocationNotAnnounced)
    console.error(
      `${err.message}.\nThey refuse it once their cached copy expires (API_KEY_CACHE_MS), or at once if you run "key revoke ${err.key.id}" again when Redis is reachable.`,
    );
  else if (err instanceof UsageError) console.error(`${err.message}\n\n${USAGE}`);
  else if (err instanceof AppError) console.error(`error (${err.code}): ${err.message}`);
  else console.error(err instanceof Error ? err.message : err);
  process.exit(err instanceof UsageError ? 64 : 1);
});
