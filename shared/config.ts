import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { parseCapabilities, type Capability } from './capabilities.js';

const intFrom = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);
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
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

/** "owner:read+send+manage,viewer:read" → { owner: [...], viewer: [...] } */
function parseRoleMap(spec: string): Record<string, Capability[]> {
  const map: Record<string, Capability[]> = {};
  for (const entry of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [role, caps] = entry.split(':');
    if (!role || caps === undefined) throw new Error(`JWT_ROLE_CAPABILITIES: bad entry "${entry}" (want role:cap+cap)`);
    map[role] = caps === '' ? [] : parseCapabilities(caps.replaceAll('+', ','));
  }
  return map;
}

const envSchema = z.object({
  NODE_ENV: z.string().default('development'),
  HOST: z.string().default('0.0.0.0'),
  PORT: intFrom(3000),
  /** api processes sharing PORT (Node's cluster); more than one puts a supervising process in front of them. */
  API_PROCESSES: intFrom(1, 1),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  DATABASE_URL: z.string().url().default('mysql://root@127.0.0.1:3306/wa_gateway'),
  DB_POOL_SIZE: intFrom(20, 1),
  DB_CONNECT_TIMEOUT_MS: intFrom(3000, 100),

  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]+$/).default('wag'),

  SHARD_COUNT: intFrom(16, 1),
  LIVE_TIMEOUT_MS: intFrom(10_000, 100),
  LEASE_TTL_MS: intFrom(10_000, 1000),
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
  WA_WEBSOCKET_URL: z.string().url().regex(/^wss?:\/\//, 'must be a ws:// or wss:// URL').optional(),

  JWKS_URL: z.string().url().optional(),
  JWT_ISSUER: z.string().optional(),
  JWT_AUDIENCE: z.string().optional(),
  JWT_ALGORITHMS: list('RS256'),
  JWT_CLOCK_TOLERANCE_S: intFrom(30),
  JWT_ORG_CLAIM: z.string().default('org'),
  JWT_ROLE_CLAIM: z.string().default('role'),
  JWT_ROLE_CAPABILITIES: z.string().default('owner:read+send+manage,admin:read+send+manage,member:read+send,viewer:read'),
  JWKS_REQUESTS_PER_MINUTE: intFrom(10, 1),

  API_KEY_CACHE_MS: intFrom(10_000),
  /** How long an api process remembers which organization owns a session; deletions reach it at once over Redis. 0 turns it off. */
  SESSION_OWNER_CACHE_MS: intFrom(60_000),
  API_KEY_TOUCH_INTERVAL_MS: intFrom(60_000, 1000),
  CURSOR_SECRET: z.string().min(16).default('change-me-cursor-secret-please'),

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

  /** Requests per minute per organization on /api/*, counted in Redis; 0 turns the limit off. */
  RATE_LIMIT_PER_MINUTE: intFrom(600),
  /** When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`; unset, it is open. */
  METRICS_TOKEN: z.string().min(16).optional(),
  /** HMAC key of the Bull Board session cookie; unset, a random key per process (one api instance only). */
  ADMIN_SESSION_SECRET: z.string().min(32).optional(),
  /** Lifetime of a Bull Board session cookie (a login JWT's own expiry shortens it). */
  ADMIN_SESSION_TTL_MS: intFrom(12 * 3600_000, 60_000),
  /** Operator credentials for Bull Board (login form or HTTP Basic); both unset disables them. */
  ADMIN_USER: z.string().min(1).optional(),
  ADMIN_PASSWORD: z.string().min(12).optional(),
  /** Organizations whose `manage` callers may open Bull Board; empty admits every organization's. */
  ADMIN_ORGANIZATIONS: list(''),
});

export type Env = Record<string, string | undefined>;

export interface Config {
  env: string;
  http: { host: string; port: number; processes: number };
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  db: { url: string; poolSize: number; connectTimeoutMs: number };
  redis: { url: string; prefix: string };
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
        roleCapabilities: Record<string, Capability[]>;
        jwksRequestsPerMinute: number;
      }
    | undefined;
  apiKeys: { cacheMs: number; touchIntervalMs: number };
  sessionOwnerCacheMs: number;
  cursorSecret: string;
  batches: { chunkSize: number; ratePerMinute: number; concurrency: number; sessionPollMs: number; backoffMs: number; maxFailures: number };
  rateLimit: { perMinute: number };
  metrics: { token: string | undefined };
  admin: {
    sessionSecret: string;
    sessionTtlMs: number;
    basic: { user: string; password: string } | undefined;
    organizations: string[];
  };
}

export class ConfigError extends Error {}

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
  let roleCapabilities: Record<string, Capability[]>;
  try {
    roleCapabilities = parseRoleMap(e.JWT_ROLE_CAPABILITIES);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  return {
    env: e.NODE_ENV,
    http: { host: e.HOST, port: e.PORT, processes: e.API_PROCESSES },
    logLevel: e.LOG_LEVEL,
    db: { url: e.DATABASE_URL, poolSize: e.DB_POOL_SIZE, connectTimeoutMs: e.DB_CONNECT_TIMEOUT_MS },
    redis: { url: e.REDIS_URL, prefix: e.REDIS_PREFIX },
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
        }
      : undefined,
    apiKeys: { cacheMs: e.API_KEY_CACHE_MS, touchIntervalMs: e.API_KEY_TOUCH_INTERVAL_MS },
    sessionOwnerCacheMs: e.SESSION_OWNER_CACHE_MS,
    cursorSecret: e.CURSOR_SECRET,
    batches: {
      chunkSize: e.BATCH_CHUNK_SIZE,
      ratePerMinute: e.BATCH_RATE_PER_MINUTE,
      concurrency: e.BATCH_CONCURRENCY,
      sessionPollMs: e.BATCH_SESSION_POLL_MS,
      backoffMs: e.BATCH_BACKOFF_MS,
      maxFailures: e.BATCH_MAX_FAILURES,
    },
    rateLimit: { perMinute: e.RATE_LIMIT_PER_MINUTE },
    metrics: { token: e.METRICS_TOKEN },
    admin: {
      // A random key keeps cookies unforgeable when none is configured; they then hold on this instance only.
      sessionSecret: e.ADMIN_SESSION_SECRET ?? randomBytes(32).toString('base64url'),
      sessionTtlMs: e.ADMIN_SESSION_TTL_MS,
      basic: e.ADMIN_USER !== undefined && e.ADMIN_PASSWORD !== undefined ? { user: e.ADMIN_USER, password: e.ADMIN_PASSWORD } : undefined,
      organizations: e.ADMIN_ORGANIZATIONS,
    },
  };
}
