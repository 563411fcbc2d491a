import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseCapabilities, type Capability } from './capabilities.js';

const intFrom = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);
const DURATION_UNITS_S = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
/** Whole seconds, or a number with a unit: "604800", "90m", "12h", "7d". */
const secondsFrom = (fallback: number) =>
  z
    .string()
    .regex(/^\d+\s*[smhd]?$/, 'must be whole seconds or a number with a unit s, m, h or d (e.g. 7d)')
    .default(String(fallback))
    .transform((text) => {
      const unit = text.trim().slice(-1) as keyof typeof DURATION_UNITS_S;
      return unit in DURATION_UNITS_S ? Number.parseInt(text, 10) * DURATION_UNITS_S[unit] : Number(text);
    });
/** `true`/`false` (also `1`/`0`, `yes`/`no`), case-insensitive. */
const flag = (fallback: boolean) =>
  z
    .string()
    .toLowerCase()
    .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), 'must be true or false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes')
    .default(fallback);
/** A WhatsApp Web version as WhatsApp Web prints it: `2.3000.1023223821`. */
const waVersion = z
  .string()
  .regex(/^\d{1,6}\.\d{1,6}\.\d{1,12}$/, 'must be three dot-separated numbers, e.g. 2.3000.1023223821')
  .transform((v) => v.split('.').map(Number) as [number, number, number])
  .optional();
const list = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    );

/**
 * "owner:read+send+manage,viewer:read" → owner → [...], viewer → [...]. A Map, so a role claim
 * such as `constructor` or `__proto__` finds nothing instead of an object's inherited members.
 */
function parseRoleMap(spec: string): ReadonlyMap<string, readonly Capability[]> {
  const map = new Map<string, Capability[]>();
  for (const entry of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [role, caps] = entry.split(':');
    if (!role || caps === undefined) throw new Error(`JWT_ROLE_CAPABILITIES: bad entry "${entry}" (want role:cap+cap)`);
    map.set(role, caps === '' ? [] : parseCapabilities(caps.replaceAll('+', ',')));
  }
  return map;
}

/** Express's `trust proxy`: true/false, a hop count, or addresses, subnets and the names loopback, linklocal, uniquelocal. */
function parseTrustProxy(value: string): boolean | number | string[] {
  if (value === 'true' || value === 'false') return value === 'true';
  if (/^\d+$/.test(value)) return Number(value);
  const entries = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const [address, bits, extra] = entry.split('/');
    const known =
      ['loopback', 'linklocal', 'uniquelocal'].includes(entry) ||
      (isIP(address ?? '') !== 0 && extra === undefined && (bits === undefined || /^\d{1,3}$/.test(bits)));
    if (!known)
      throw new Error(
        `TRUST_PROXY: "${entry}" is not true, false, a hop count, an address, a subnet, loopback, linklocal or uniquelocal`,
      );
  }
  return entries;
}

/** Published in this repository: fine for a try-out, never for production. */
export const DEFAULT_CURSOR_SECRET = 'change-me-cursor-secret-please';

const envSchema = z.object({
  NODE_ENV: z.string().default('development'),
  HOST: z.string().default('0.0.0.0'),
  PORT: intFrom(3000),
  /**
   * Which peers' X-Forwarded-For / -Proto / -Host are believed (Express's `trust proxy`). The
   * client address drives the per-client limits on failed logins, so a client must not be able to
   * name its own: only proxies on this host by default.
   */
  TRUST_PROXY: z.string().default('loopback'),
  /** api processes sharing PORT (Node's cluster); more than one puts a supervising process in front of them. */
  API_PROCESSES: intFrom(1, 1),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  DATABASE_URL: z.string().url().default('mysql://root@127.0.0.1:3306/wa_gateway'),
  DB_POOL_SIZE: intFrom(20, 1),
  DB_CONNECT_TIMEOUT_MS: intFrom(3000, 100),

  /** Single server, or (with REDIS_SENTINELS / REDIS_CLUSTER_NODES) the user, password, database and TLS (`rediss://`) every node shares. */
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /** host:port list of Sentinels: the master named REDIS_SENTINEL_NAME is found through them. */
  REDIS_SENTINELS: z.string().optional(),
  REDIS_SENTINEL_NAME: z.string().default('mymaster'),
  REDIS_SENTINEL_PASSWORD: z.string().optional(),
  /** host:port list of Redis Cluster nodes (a few are enough; the rest are discovered). */
  REDIS_CLUSTER_NODES: z.string().optional(),
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]+$/)
    .default('wag'),

  SHARD_COUNT: intFrom(16, 1),
  LIVE_TIMEOUT_MS: intFrom(10_000, 100),
  LEASE_TTL_MS: intFrom(2_000, 1000),
  PRESENCE_TTL_MS: intFrom(15_000, 1000),
  /** How long an unpaired session keeps showing QR codes after it was last asked for one; then its connection is closed until the next request. */
  PAIRING_WINDOW_MS: intFrom(600_000, 1000),
  /** How often a worker reads back all sessions of its shards, for changes it was not told about. */
  RECONCILE_INTERVAL_MS: intFrom(5_000, 500),
  WORKER_ID: z.string().optional(),
  WORKER_CONCURRENCY: intFrom(32, 1),
  WORKER_METRICS_PORT: intFrom(0),

  WA_DRIVER: z.enum(['baileys', 'sim']).default('baileys'),
  SIM_WORLD: z.string().optional(),
  /** WhatsApp Web version the Baileys driver announces; unset: the latest fetched at start-up (WA_VERSION_FETCH), else Baileys' bundled one. */
  WA_VERSION: waVersion,
  /** Fetch the current WhatsApp Web version at start-up (and again after WhatsApp refuses ours with 405) when WA_VERSION is unset. */
  WA_VERSION_FETCH: flag(true),
  /** How long that fetch may take before the bundled version is used. */
  WA_VERSION_FETCH_TIMEOUT_MS: intFrom(5_000, 100),
  /** The device name shown on the phone under Linked devices. */
  WA_BROWSER_NAME: z.string().trim().min(1).max(50).default('WhatsApp Gateway'),
  /** Ask the phone for its full history at pairing instead of the recent part. */
  WA_SYNC_FULL_HISTORY: flag(false),
  /** A WhatsApp connection that has shown neither a QR code nor come online this long after it started is ended and retried. */
  WA_CONNECT_TIMEOUT_MS: intFrom(60_000, 1000),
  /** How long one WhatsApp query of a live call may take before it answers `timeout`. */
  WA_QUERY_TIMEOUT_MS: intFrom(20_000, 100),
  /** Pause between attempts while WhatsApp refuses the client version (405). */
  WA_VERSION_REJECTED_RETRY_MS: intFrom(30 * 60_000, 1000),
  /** WhatsApp's WebSocket endpoint for the baileys driver; unset, Baileys' own (wss://web.whatsapp.com/ws/chat). */
  WA_WEBSOCKET_URL: z
    .string()
    .url()
    .regex(/^wss?:\/\//, 'must be a ws:// or wss:// URL')
    .optional(),

  JWKS_URL: z.string().url().optional(),
  JWT_ISSUER: z.string().optional(),
  JWT_AUDIENCE: z.string().optional(),
  JWT_ALGORITHMS: list('RS256'),
  JWT_CLOCK_TOLERANCE_S: intFrom(30),
  JWT_ORG_CLAIM: z.string().default('org'),
  JWT_ROLE_CLAIM: z.string().default('role'),
  JWT_ROLE_CAPABILITIES: z
    .string()
    .default('owner:read+send+manage,admin:read+send+manage,member:read+send,viewer:read'),
  /** At most this many JWKS fetches a minute for unknown key ids (one every 60/N s, shared by all requests). */
  JWKS_REQUESTS_PER_MINUTE: intFrom(10, 1),
  /** How long a fetched key set is used before it is fetched again; the last good set is kept while the JWKS is unreachable. */
  JWKS_CACHE_MS: intFrom(10 * 60_000, 1000),
  /** Login JWTs meant to live longer than this (exp − iat, or exp − now without iat) are refused; 0 = no limit. */
  JWT_MAX_LIFETIME_S: intFrom(24 * 3600),

  API_KEY_CACHE_MS: intFrom(10_000),
  /** How long an api process remembers which organization owns a session; deletions reach it at once over Redis. 0 turns it off. */
  SESSION_OWNER_CACHE_MS: intFrom(60_000),
  API_KEY_TOUCH_INTERVAL_MS: intFrom(60_000, 1000),
  CURSOR_SECRET: z.string().min(16).default(DEFAULT_CURSOR_SECRET),

  /** Numbers per onWhatsApp query in a bulk check. */
  BATCH_CHUNK_SIZE: intFrom(50, 1),
  /** Numbers a session may check per minute in bulk, across all workers; 0 lifts the limit. */
  BATCH_RATE_PER_MINUTE: intFrom(60),
  /** Batches one worker runs at once per owned shard. */
  BATCH_CONCURRENCY: intFrom(4, 1),
  /** How often a batch waiting for its session looks again. */
  BATCH_SESSION_POLL_MS: intFrom(5_000, 50),
  /** First pause after WhatsApp answers rate-overlimit (doubles on each repeat, up to 32×) or a server error. */
  BATCH_BACKOFF_MS: intFrom(60_000, 10),
  /** A chunk failing this many times in a row (server errors, not rate limits or disconnects) fails the batch. */
  BATCH_MAX_FAILURES: intFrom(10, 1),
  /** Numbers a session may check in bulk per UTC day, across all workers; 0 (the default) sets no daily cap. */
  BATCH_DAILY_LIMIT: intFrom(0),
  /** How long WhatsApp's answer about a number is reused instead of asking again (seconds, or with a unit: 7d); 0 stores and reuses none. */
  CHECK_CACHE_TTL: secondsFrom(7 * 86_400),

  /** Numbers of check batches not yet checked, per organization, beyond which a new batch is refused (429); 0 = no cap. */
  BATCH_MAX_PENDING_PER_ORG: intFrom(200_000),

  /** Requests per minute per organization on /api/*, counted in Redis; 0 turns the limit off. */
  RATE_LIMIT_PER_MINUTE: intFrom(600),
  /** Failed token checks per client address per minute; past it the client is answered 429 without a lookup until the minute ends. 0 = off. */
  AUTH_FAILURES_PER_MINUTE: intFrom(30),
  /** HMAC key of the job envelopes the api hands the workers; unset, one generated once and kept in MySQL. */
  JOB_SIGNING_SECRET: z.string().min(32).optional(),
  /** When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`; unset, it is open. */
  METRICS_TOKEN: z.string().min(16).optional(),
  /** HMAC key of the Bull Board session cookie; unset, a random key per process (one api instance only). */
  ADMIN_SESSION_SECRET: z.string().min(32).optional(),
  /** Lifetime of a Bull Board session cookie (a login JWT's own expiry shortens it). */
  ADMIN_SESSION_TTL_MS: intFrom(12 * 3600_000, 60_000),
  /** Operator credentials for Bull Board (login form or HTTP Basic); both unset disables them. */
  ADMIN_USER: z.string().min(1).optional(),
  ADMIN_PASSWORD: z.string().min(12).optional(),
  /** Organizations whose `manage` callers may open Bull Board; empty admits none (operator credentials only). */
  ADMIN_ORGANIZATIONS: list(''),
  /** Who may change queues in Bull Board (retry, promote, pause, clean, add…): the operator, also ADMIN_ORGANIZATIONS' callers, or nobody. */
  ADMIN_QUEUE_ACTIONS: z.enum(['operator', 'organizations', 'none']).default('operator'),
  /** Failed Bull Board logins per client address and per operator user name in 15 minutes before further attempts are refused (429); 0 = off. */
  ADMIN_LOGIN_FAILURES: intFrom(10),

  /** The gateway's public base URL (e.g. https://wa.example.com), put before the paths that event payloads carry. */
  PUBLIC_URL: z.string().url().optional(),
  /** Webhook endpoints one organization may have. */
  WEBHOOK_MAX_ENDPOINTS: intFrom(10, 1),
  /** Accept plain http:// endpoint URLs (tests, private networks); https only otherwise. */
  WEBHOOK_ALLOW_HTTP: flag(false),
  /** Accept endpoints on loopback, private, link-local, CGNAT and other non-public addresses. */
  WEBHOOK_ALLOW_PRIVATE: flag(false),
  /** One delivery attempt's time limit, connection to last response byte. */
  WEBHOOK_TIMEOUT_MS: intFrom(5_000, 100),
  /** Attempts per delivery before it is given up; with the default back-off 12 attempts span about a day. */
  WEBHOOK_MAX_ATTEMPTS: intFrom(12, 1),
  /** Pause after the first failed attempt; each further pause is 3× longer, up to 6 h. */
  WEBHOOK_RETRY_BASE_MS: intFrom(5_000, 10),
  /** An endpoint whose attempts have all failed for this long is disabled (a success resets the clock). */
  WEBHOOK_DISABLE_AFTER_MS: intFrom(3 * 86_400_000, 1_000),
  /** How long the previous secret keeps signing beside the new one after a rotation. */
  WEBHOOK_SECRET_GRACE_MS: intFrom(86_400_000),
  /** Deliveries of one endpoint in the queue at once, across all workers: its concurrency bound. */
  WEBHOOK_ENDPOINT_IN_FLIGHT: intFrom(10, 1),
  /** Delivery attempts one worker makes at once, all endpoints together. */
  WEBHOOK_CONCURRENCY: intFrom(32, 1),
  /** At most one check_batch.progress event per batch this often. */
  WEBHOOK_PROGRESS_INTERVAL_MS: intFrom(5_000, 100),
  /** How often the outbox is read for deliveries to queue (a worker's own events are queued at once). */
  WEBHOOK_RELAY_INTERVAL_MS: intFrom(250, 10),
  /** Finished deliveries and their events are deleted after this long. */
  WEBHOOK_RETENTION_MS: intFrom(7 * 86_400_000, 60_000),
});

export type Env = Record<string, string | undefined>;

export interface Config {
  env: string;
  http: { host: string; port: number; processes: number; trustProxy: boolean | number | string[] };
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  db: { url: string; poolSize: number; connectTimeoutMs: number };
  redis: RedisConfig;
  shards: { count: number; leaseTtlMs: number };
  live: { timeoutMs: number; presenceTtlMs: number };
  pairing: { windowMs: number };
  reconcileIntervalMs: number;
  worker: { id: string | undefined; concurrency: number; metricsPort: number };
  driver: { kind: 'baileys' | 'sim'; simWorld: string | undefined };
  whatsapp: {
    /** [major, minor, build]; undefined: fetched or bundled. */
    version: [number, number, number] | undefined;
    fetchVersion: boolean;
    fetchVersionTimeoutMs: number;
    browserName: string;
    syncFullHistory: boolean;
    /** Another WhatsApp endpoint (a local fake server); undefined: Baileys' own. */
    webSocketUrl: string | undefined;
    connectTimeoutMs: number;
    queryTimeoutMs: number;
    versionRejectedRetryMs: number;
  };
  jwt:
    | {
        jwksUrl: string;
        issuer: string | undefined;
        audience: string | undefined;
        algorithms: string[];
        clockToleranceS: number;
        orgClaim: string;
        roleClaim: string;
        roleCapabilities: ReadonlyMap<string, readonly Capability[]>;
        jwksRequestsPerMinute: number;
        jwksCacheMs: number;
        maxLifetimeS: number;
      }
    | undefined;
  apiKeys: { cacheMs: number; touchIntervalMs: number };
  sessionOwnerCacheMs: number;
  cursorSecret: string;
  batches: {
    chunkSize: number;
    ratePerMinute: number;
    dailyLimit: number;
    concurrency: number;
    sessionPollMs: number;
    backoffMs: number;
    maxFailures: number;
    maxPendingPerOrg: number;
  };
  /** Number checks (live and bulk): how long an answer is reused; 0 = no answer cache. */
  checks: { cacheTtlMs: number };
  rateLimit: { perMinute: number; authFailuresPerMinute: number };
  jobSigningSecret: string | undefined;
  metrics: { token: string | undefined };
  admin: {
    sessionSecret: string;
    sessionTtlMs: number;
    basic: { user: string; password: string } | undefined;
    organizations: string[];
    queueActions: 'operator' | 'organizations' | 'none';
    loginFailures: number;
  };
  publicUrl: string | undefined;
  webhooks: {
    maxEndpoints: number;
    allowHttp: boolean;
    allowPrivate: boolean;
    timeoutMs: number;
    maxAttempts: number;
    retryBaseMs: number;
    disableAfterMs: number;
    secretGraceMs: number;
    endpointInFlight: number;
    concurrency: number;
    progressIntervalMs: number;
    relayIntervalMs: number;
    retentionMs: number;
  };
}

export interface RedisEndpoint {
  host: string;
  port: number;
}

/** Where Redis is and how to reach it; shared/redis builds every connection from this. */
export interface RedisConfig {
  url: string;
  prefix: string;
  topology:
    | { kind: 'single' }
    | { kind: 'sentinel'; sentinels: RedisEndpoint[]; name: string; sentinelPassword: string | undefined }
    | { kind: 'cluster'; nodes: RedisEndpoint[] };
  /** From the URL, so every topology authenticates and encrypts alike. */
  username: string | undefined;
  password: string | undefined;
  tls: boolean;
  db: number;
}

export class ConfigError extends Error {}

function parseEndpoints(name: string, spec: string): RedisEndpoint[] {
  const endpoints = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const match = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(entry);
      const port = Number(match?.[2]);
      if (!match || port < 1 || port > 65535)
        throw new ConfigError(`invalid configuration:\n  ${name}: "${entry}" is not host:port`);
      return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
    });
  if (endpoints.length === 0) throw new ConfigError(`invalid configuration:\n  ${name}: no host:port given`);
  return endpoints;
}

function parseRedis(e: {
  REDIS_URL: string;
  REDIS_PREFIX: string;
  REDIS_SENTINELS?: string | undefined;
  REDIS_SENTINEL_NAME: string;
  REDIS_SENTINEL_PASSWORD?: string | undefined;
  REDIS_CLUSTER_NODES?: string | undefined;
}): RedisConfig {
  const url = new URL(e.REDIS_URL);
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw new ConfigError('invalid configuration:\n  REDIS_URL: must start with redis:// or rediss://');
  if (e.REDIS_SENTINELS && e.REDIS_CLUSTER_NODES)
    throw new ConfigError('invalid configuration:\n  REDIS_SENTINELS and REDIS_CLUSTER_NODES: set one, not both');
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0)
    throw new ConfigError('invalid configuration:\n  REDIS_URL: the database must be a number');
  if (e.REDIS_CLUSTER_NODES && db !== 0)
    throw new ConfigError('invalid configuration:\n  REDIS_URL: Redis Cluster has only database 0');
  const topology: RedisConfig['topology'] = e.REDIS_CLUSTER_NODES
    ? { kind: 'cluster', nodes: parseEndpoints('REDIS_CLUSTER_NODES', e.REDIS_CLUSTER_NODES) }
    : e.REDIS_SENTINELS
      ? {
          kind: 'sentinel',
          sentinels: parseEndpoints('REDIS_SENTINELS', e.REDIS_SENTINELS),
          name: e.REDIS_SENTINEL_NAME,
          sentinelPassword: e.REDIS_SENTINEL_PASSWORD,
        }
      : { kind: 'single' };
  return {
    url: e.REDIS_URL,
    prefix: e.REDIS_PREFIX,
    topology,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    tls: url.protocol === 'rediss:',
    db,
  };
}

/** Parses and validates the environment once, at start-up. Nothing else reads process.env. */
export function loadConfig(env: Env = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  if ((e.ADMIN_USER === undefined) !== (e.ADMIN_PASSWORD === undefined)) {
    throw new ConfigError('invalid configuration:\n  ADMIN_USER and ADMIN_PASSWORD must be set together');
  }
  const redis = parseRedis(e);
  let roleCapabilities: ReadonlyMap<string, readonly Capability[]>;
  let trustProxy: boolean | number | string[];
  try {
    roleCapabilities = parseRoleMap(e.JWT_ROLE_CAPABILITIES);
    trustProxy = parseTrustProxy(e.TRUST_PROXY);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  return {
    env: e.NODE_ENV,
    http: { host: e.HOST, port: e.PORT, processes: e.API_PROCESSES, trustProxy },
    logLevel: e.LOG_LEVEL,
    db: { url: e.DATABASE_URL, poolSize: e.DB_POOL_SIZE, connectTimeoutMs: e.DB_CONNECT_TIMEOUT_MS },
    redis,
    shards: { count: e.SHARD_COUNT, leaseTtlMs: e.LEASE_TTL_MS },
    live: { timeoutMs: e.LIVE_TIMEOUT_MS, presenceTtlMs: e.PRESENCE_TTL_MS },
    pairing: { windowMs: e.PAIRING_WINDOW_MS },
    reconcileIntervalMs: e.RECONCILE_INTERVAL_MS,
    worker: { id: e.WORKER_ID, concurrency: e.WORKER_CONCURRENCY, metricsPort: e.WORKER_METRICS_PORT },
    driver: { kind: e.WA_DRIVER, simWorld: e.SIM_WORLD },
    whatsapp: {
      version: e.WA_VERSION,
      fetchVersion: e.WA_VERSION_FETCH,
      fetchVersionTimeoutMs: e.WA_VERSION_FETCH_TIMEOUT_MS,
      browserName: e.WA_BROWSER_NAME,
      syncFullHistory: e.WA_SYNC_FULL_HISTORY,
      webSocketUrl: e.WA_WEBSOCKET_URL,
      connectTimeoutMs: e.WA_CONNECT_TIMEOUT_MS,
      queryTimeoutMs: e.WA_QUERY_TIMEOUT_MS,
      versionRejectedRetryMs: e.WA_VERSION_REJECTED_RETRY_MS,
    },
    jwt: e.JWKS_URL
      ? {
          jwksUrl: e.JWKS_URL,
          issuer: e.JWT_ISSUER,
          audience: e.JWT_AUDIENCE,
          algorithms: e.JWT_ALGORITHMS,
          clockToleranceS: e.JWT_CLOCK_TOLERANCE_S,
          orgClaim: e.JWT_ORG_CLAIM,
          roleClaim: e.JWT_ROLE_CLAIM,
          roleCapabilities,
          jwksRequestsPerMinute: e.JWKS_REQUESTS_PER_MINUTE,
          jwksCacheMs: e.JWKS_CACHE_MS,
          maxLifetimeS: e.JWT_MAX_LIFETIME_S,
        }
      : undefined,
    apiKeys: { cacheMs: e.API_KEY_CACHE_MS, touchIntervalMs: e.API_KEY_TOUCH_INTERVAL_MS },
    sessionOwnerCacheMs: e.SESSION_OWNER_CACHE_MS,
    cursorSecret: e.CURSOR_SECRET,
    batches: {
      chunkSize: e.BATCH_CHUNK_SIZE,
      ratePerMinute: e.BATCH_RATE_PER_MINUTE,
      dailyLimit: e.BATCH_DAILY_LIMIT,
      concurrency: e.BATCH_CONCURRENCY,
      sessionPollMs: e.BATCH_SESSION_POLL_MS,
      backoffMs: e.BATCH_BACKOFF_MS,
      maxFailures: e.BATCH_MAX_FAILURES,
      maxPendingPerOrg: e.BATCH_MAX_PENDING_PER_ORG,
    },
    checks: { cacheTtlMs: e.CHECK_CACHE_TTL * 1000 },
    rateLimit: { perMinute: e.RATE_LIMIT_PER_MINUTE, authFailuresPerMinute: e.AUTH_FAILURES_PER_MINUTE },
    jobSigningSecret: e.JOB_SIGNING_SECRET,
    metrics: { token: e.METRICS_TOKEN },
    admin: {
      // A random key keeps cookies unforgeable when none is configured; they then hold on this instance only.
      sessionSecret: e.ADMIN_SESSION_SECRET ?? randomBytes(32).toString('base64url'),
      sessionTtlMs: e.ADMIN_SESSION_TTL_MS,
      basic:
        e.ADMIN_USER !== undefined && e.ADMIN_PASSWORD !== undefined
          ? { user: e.ADMIN_USER, password: e.ADMIN_PASSWORD }
          : undefined,
      organizations: e.ADMIN_ORGANIZATIONS,
      queueActions: e.ADMIN_QUEUE_ACTIONS,
      loginFailures: e.ADMIN_LOGIN_FAILURES,
    },
    publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ''),
    webhooks: {
      maxEndpoints: e.WEBHOOK_MAX_ENDPOINTS,
      allowHttp: e.WEBHOOK_ALLOW_HTTP,
      allowPrivate: e.WEBHOOK_ALLOW_PRIVATE,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      maxAttempts: e.WEBHOOK_MAX_ATTEMPTS,
      retryBaseMs: e.WEBHOOK_RETRY_BASE_MS,
      disableAfterMs: e.WEBHOOK_DISABLE_AFTER_MS,
      secretGraceMs: e.WEBHOOK_SECRET_GRACE_MS,
      endpointInFlight: e.WEBHOOK_ENDPOINT_IN_FLIGHT,
      concurrency: e.WEBHOOK_CONCURRENCY,
      progressIntervalMs: e.WEBHOOK_PROGRESS_INTERVAL_MS,
      relayIntervalMs: e.WEBHOOK_RELAY_INTERVAL_MS,
      retentionMs: e.WEBHOOK_RETENTION_MS,
    },
  };
}
