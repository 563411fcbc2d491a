import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createPool as createCallbackPool, type Pool as CallbackPool } from 'mysql2';
import type { Pool } from 'mysql2/promise';
import type { DataSource } from 'typeorm';
import { AdminService } from '../../api/admin/admin-service.js';
import { ContactStore, type ContactListFilter } from '../../api/contacts/contact-store.js';
import { createDataSource } from '../../shared/db/data-source.js';
import { freePort, GatewayProcess, waitFor } from '../../test/support/processes.js';
import { httpRound, loopRound, percentiles, summarize, type LoadResult, type Round } from './load.js';
import { BENCH_ORG, BIG_SESSION, connect, DATASET, DEFAULT_BENCH_DATABASE_URL, ensureSeeded } from './seed.js';
import { deleteKeysMatching } from '../../test/support/redis-cleanup.js';

const { values: args } = parseArgs({
  options: {
    db: { type: 'string', default: process.env['BENCH_DATABASE_URL'] ?? DEFAULT_BENCH_DATABASE_URL },
    redis: { type: 'string', default: process.env['BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379' },
    connections: { type: 'string', default: '64' },
    duration: { type: 'string', default: '10' },
    'pool-size': { type: 'string', default: '20' },
    // The gateway's default. On this two-core machine, which also runs MariaDB and the load, a
    // second api process lifts the cheapest queries a little and lengthens every tail (bench/README.md).
    'api-processes': { type: 'string', default: '1' },
    'page-reps': { type: 'string', default: '300' },
    'api-key-cache-ms': { type: 'string' },
    reseed: { type: 'boolean', default: false },
    'keep-buffer-pool': { type: 'boolean', default: false },
  },
});

const CONNECTIONS = Number(args.connections);
const DURATION_S = Number(args.duration);
const WARMUP_S = 2;
/** api and raw take turns in short rounds, so a change in background load hits both alike. */
const ROUNDS = 5;
const POOL_SIZE = Number(args['pool-size']);
const API_PROCESSES = Number(args['api-processes']);
/** The api's processes share the floor's pool size between them, so both hold as many MySQL connections. */
const API_POOL_SIZE = Math.ceil(POOL_SIZE / API_PROCESSES);
const PAGE_REPS = Number(args['page-reps']);
const PAGE_SIZE = 50;
const FAR_PAGE = 2_000;
const BUFFER_POOL_BYTES = 1024 ** 3;
/** A fragment of many first names (Maria, Sari, Hariyanto, …) and one of a rare surname. */
const Q_COMMON = 'ari';
const Q_RARE = 'elowo';
/**
 * Contacts get-one cycles through, spread over the session. Every connection builds a request for
 * each once per round, so a few dozen: thousands would spend a round's first second building them.
 */
const GET_ONE_CONTACTS = 64;

const log = (line: string) => console.log(line);
const contactsPath = (query = '') => `/api/v1/sessions/${BIG_SESSION}/contacts${query}`;

interface Scenario {
  name: string;
  isList: boolean;
  isQ: boolean;
  paths: readonly string[];
  raw: () => Promise<unknown>;
  /** Rows a list page must hold: a query that answered less (an empty search) would only look faster. */
  rows?: number;
}

interface Measured {
  scenario: Scenario;
  api: LoadResult;
  raw: LoadResult;
}

/**
 * The api's own ContactStore over a bare mysql2 pool: the same SQL and row mapping, without HTTP,
 * auth, the session lookup or TypeORM.
 */
function rawStore(pool: CallbackPool): ContactStore {
  const bare = { isInitialized: true, driver: { pool } };
  return new ContactStore(bare as unknown as DataSource);
}

async function raiseBufferPool(): Promise<string> {
  const conn = await connect(args.db);
  try {
    const [rows] = await conn.query(`SELECT @@innodb_buffer_pool_size AS size, VERSION() AS version`);
    const { size, version } = (rows as { size: number | string; version: string }[])[0]!;
    let note = `${version}, innodb_buffer_pool_size ${(Number(size) / 1024 ** 2).toFixed(0)} MiB`;
    if (Number(size) < BUFFER_POOL_BYTES && !args['keep-buffer-pool']) {
      await conn.query(`SET GLOBAL innodb_buffer_pool_size = ${BUFFER_POOL_BYTES}`);
      note += ` -> raised to ${BUFFER_POOL_BYTES / 1024 ** 2} MiB for this run (until the server restarts; --keep-buffer-pool to skip)`;
    }
    return note;
  } finally {
    await conn.end();
  }
}

async function fixtures(pool: Pool): Promise<{ groupJid: string; lids: string[]; matches: Record<string, number> }> {
  const [groups] = await pool.query('SELECT jid FROM wa_groups WHERE session_id = ? ORDER BY jid LIMIT 1', [
    BIG_SESSION,
  ]);
  const [lids] = await pool.query(
    `SELECT c.lid FROM contacts c WHERE c.session_id = ? AND c.lid IS NOT NULL AND c.id % 61 = 0 ORDER BY c.id LIMIT ${GET_ONE_CONTACTS}`,
    [BIG_SESSION],
  );
  const matches: Record<string, number> = {};
  for (const q of [Q_COMMON, Q_RARE]) {
    const [rows] = await pool.query(`SELECT COUNT(*) AS n FROM contacts WHERE session_id = ? AND name LIKE ?`, [
      BIG_SESSION,
      `%${q}%`,
    ]);
    matches[q] = Number((rows as { n: number }[])[0]!.n);
  }
  return {
    groupJid: (groups as { jid: string }[])[0]!.jid,
    lids: (lids as { lid: string }[]).map((r) => r.lid),
    matches,
  };
}

async function startApi(token: string): Promise<{ proc: GatewayProcess; baseUrl: string; redisPrefix: string }> {
  const port = await freePort();
  const redisPrefix = `wagbench_${randomBytes(4).toString('hex')}`;
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: args.db,
    API_PROCESSES: String(API_PROCESSES),
    DB_POOL_SIZE: String(API_POOL_SIZE),
    REDIS_URL: args.redis,
    REDIS_PREFIX: redisPrefix,
    CURSOR_SECRET: randomBytes(24).toString('hex'),
    // On, as in production, so its Redis round trip is measured; high enough never to answer 429.
    RATE_LIMIT_PER_MINUTE: '100000000',
  };
  if (args['api-key-cache-ms'] !== undefined) env['API_KEY_CACHE_MS'] = args['api-key-cache-ms'];
  const proc = GatewayProcess.start('bench-contacts-api', 'dist/api/main.js', env);
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (!proc.running)
        throw new Error(`api exited with ${proc.child.exitCode} (see .run/test-logs/bench-contacts-api.log)`);
      const res = await fetch(`${baseUrl}/readyz`);
      if (res.status !== 200) return false;
      const probe = await fetch(`${baseUrl}${contactsPath('?limit=1')}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      return probe.status === 200;
    },
    'the api to serve the bench session',
    30_000,
  );
  return { proc, baseUrl, redisPrefix };
}

async function getJson(url: string, token: string): Promise<{ nextCursor: string; data: unknown[] }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { nextCursor: string; data: unknown[] };
}

/** Follows nextCursor from page 1 to page FAR_PAGE and returns that page's cursor. */
async function cursorOfFarPage(baseUrl: string, token: string): Promise<string> {
  let cursor = '';
  for (let page = 1; page < FAR_PAGE; page++) {
    const body = await getJson(
      `${baseUrl}${contactsPath(`?limit=${PAGE_SIZE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)}`,
      token,
    );
    if (!body.nextCursor) throw new Error(`the list ended at page ${page}; the data set has too few listable contacts`);
    cursor = body.nextCursor;
  }
  return cursor;
}

/** Keyset id after which page FAR_PAGE starts, walked through the raw store. */
async function rawAfterIdOfFarPage(store: ContactStore, filter: ContactListFilter): Promise<number> {
  let afterId = 0;
  for (let page = 1; page < FAR_PAGE; page++)
    afterId = (await store.list(BIG_SESSION, filter, afterId, PAGE_SIZE)).lastId!;
  return afterId;
}

/** One request at a time, page 1 and page FAR_PAGE alternating, so both see the same conditions. */
async function alternate(
  first: () => Promise<unknown>,
  far: () => Promise<unknown>,
): Promise<{ first: number[]; far: number[] }> {
  const times = { first: [] as number[], far: [] as number[] };
  for (let i = 0; i < 30; i++) await Promise.all([first(), far()]);
  for (let i = 0; i < PAGE_REPS; i++) {
    for (const [key, fn] of [
      ['first', first],
      ['far', far],
    ] as const) {
      const t0 = performance.now();
      await fn();
      times[key].push(performance.now() - t0);
    }
  }
  return times;
}

/**
 * A list page must hold the rows the data set has for it, and the api must answer exactly what the
 * store (the floor) answers; each get-one contact must be found, with the store's detail.
 */
async function checkBodies(
  baseUrl: string,
  token: string,
  scenario: Scenario,
  store: ContactStore,
  lids: readonly string[],
): Promise<void> {
  if (scenario.isList) {
    const [path] = scenario.paths;
    const body = await getJson(`${baseUrl}${path}`, token);
    const raw = (await scenario.raw()) as { rows: unknown[] };
    assert.equal(
      raw.rows.length,
      scenario.rows,
      `${scenario.name}: the store answered ${raw.rows.length} rows, the data set has ${scenario.rows}`,
    );
    assert.deepEqual(
      body.data,
      JSON.parse(JSON.stringify(raw.rows)),
      `${scenario.name}: the api answered other rows than the store`,
    );
    return;
  }
  assert.equal(scenario.paths.length, lids.length);
  for (const [i, path] of scenario.paths.entries()) {
    const detail = await store.get(BIG_SESSION, lids[i]!);
    assert.ok(detail, `${lids[i]} is stored`);
    const res = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, `GET ${path}`);
    assert.deepEqual(await res.json(), JSON.parse(JSON.stringify(detail)), `${scenario.name}: ${lids[i]}`);
  }
}

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(v < 10 ? 2 : 1) : '-');
const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function main(): Promise<void> {
  const started = Date.now();
  const loadAtStart = loadAverage();
  log(`contacts benchmark — ${os.cpus().length} CPU (${os.cpus()[0]?.model ?? '?'}), node ${process.version}`);
  const seeded = await ensureSeeded({ databaseUrl: args.db, reseed: args.reseed, log });
  log(
    `data set: ${DATASET.contacts} contacts, ${BIG_SESSION} has ${DATASET.bigSessionContacts}; ${DATASET.groups} groups × ${DATASET.groupSize} (${seeded.reused ? 'reused' : `seeded in ${seeded.seconds.toFixed(1)} s`})`,
  );
  log(`database: ${await raiseBufferPool()}`);

  const admin = createDataSource({ url: args.db, poolSize: 2, connectTimeoutMs: 5000 });
  await admin.initialize();
  const callbackPool = createCallbackPool({
    uri: args.db,
    connectionLimit: POOL_SIZE,
    charset: 'UTF8MB4_UNICODE_520_CI',
    supportBigNumbers: true,
  });
  const pool = callbackPool.promise();
  await revokeLeftoverKeys(pool);
  const { key, token } = await new AdminService(admin).createApiKey(
    BENCH_ORG,
    `contacts bench ${new Date().toISOString()}`,
    ['read'],
  );
  let api: Awaited<ReturnType<typeof startApi>> | undefined;
  let failed: boolean;
  try {
    const fx = await fixtures(pool);
    api = await startApi(token);
    const store = rawStore(callbackPool);
    let lidTurn = 0;
    const nextLid = () => fx.lids[lidTurn++ % fx.lids.length]!;
    const noFilter: ContactListFilter = { source: undefined, group: undefined, q: undefined };
    const scenarios: Scenario[] = [
      {
        name: 'list (no filter)',
        isList: true,
        isQ: false,
        paths: [contactsPath()],
        raw: () => store.list(BIG_SESSION, noFilter, 0, PAGE_SIZE),
        rows: PAGE_SIZE,
      },
      {
        name: `list q=${Q_COMMON} (${fx.matches[Q_COMMON]} hits)`,
        isList: true,
        isQ: true,
        paths: [contactsPath(`?q=${Q_COMMON}`)],
        raw: () => store.list(BIG_SESSION, { ...noFilter, q: Q_COMMON }, 0, PAGE_SIZE),
        rows: Math.min(PAGE_SIZE, fx.matches[Q_COMMON]!),
      },
      {
        name: `list q=${Q_RARE} (${fx.matches[Q_RARE]} hits)`,
        isList: true,
        isQ: true,
        paths: [contactsPath(`?q=${Q_RARE}`)],
        raw: () => store.list(BIG_SESSION, { ...noFilter, q: Q_RARE }, 0, PAGE_SIZE),
        rows: Math.min(PAGE_SIZE, fx.matches[Q_RARE]!),
      },
      {
        name: 'list group=<100 members>',
        isList: true,
        isQ: false,
        paths: [contactsPath(`?group=${encodeURIComponent(fx.groupJid)}`)],
        raw: () => store.list(BIG_SESSION, { ...noFilter, group: fx.groupJid }, 0, PAGE_SIZE),
        rows: Math.min(PAGE_SIZE, DATASET.groupSize),
      },
      {
        name: 'get-one',
        isList: false,
        isQ: false,
        paths: fx.lids.map((lid) => `${contactsPath()}/${encodeURIComponent(lid)}`),
        raw: () => store.get(BIG_SESSION, nextLid()),
      },
    ];

    log(
      `load: autocannon, ${CONNECTIONS} connections, about ${DURATION_S} s per scenario after ${WARMUP_S} s warm-up, in ${ROUNDS} rounds taking turns with the floor (api rounds by request count, from the warm-up rate)`,
    );
    log(
      `api: NODE_ENV=production LOG_LEVEL=warn API_PROCESSES=${API_PROCESSES} DB_POOL_SIZE=${API_POOL_SIZE} (each) API_KEY_CACHE_MS=${args['api-key-cache-ms'] ?? '(default)'}; rate limiter on with a limit it never reaches`,
    );
    log(
      `floor: ${CONNECTIONS} concurrent async loops over one mysql2 pool of ${POOL_SIZE} (= the api's pools together), running the store's own SQL`,
    );
    const measured: Measured[] = [];
    // A fresh process: let the JIT and the pools settle before the first warm-up is used for sizing.
    await httpRound(
      { baseUrl: api.baseUrl, token, connections: CONNECTIONS, paths: [contactsPath()] },
      { seconds: WARMUP_S },
    );
    // What is timed must be the right answer: the api's bodies are checked against the store before
    // any round (a wrong or empty answer fails the bench instead of looking fast).
    for (const scenario of scenarios) await checkBodies(api.baseUrl, token, scenario, store, fx.lids);
    log(
      `bodies: every scenario's api answer matches the store's (${scenarios.map((sc) => sc.rows ?? `${sc.paths.length} contacts`).join(', ')} rows)`,
    );
    for (const scenario of scenarios) {
      const load = { baseUrl: api.baseUrl, token, connections: CONNECTIONS, paths: scenario.paths };
      const warm = await httpRound(load, { seconds: WARMUP_S });
      await loopRound(scenario.raw, CONNECTIONS, WARMUP_S / 2);
      // api rounds by count, sized from the warm-up rate, so that requests slower than a round still
      // count; a scenario too slow for short rounds gets one round of two requests per connection.
      const rounds = warm.latencies.length < 4 * CONNECTIONS ? 1 : ROUNDS;
      const perRound = Math.max(
        2 * CONNECTIONS,
        Math.round((warm.latencies.length / warm.seconds) * (DURATION_S / rounds)),
      );
      const apiRounds: Round[] = [];
      const rawRounds: Round[] = [];
      for (let round = 0; round < rounds; round++) {
        apiRounds.push(await httpRound(load, { requests: perRound }));
        rawRounds.push(await loopRound(scenario.raw, CONNECTIONS, DURATION_S / rounds));
      }
      const apiResult = summarize(apiRounds);
      const rawResult = summarize(rawRounds);
      measured.push({ scenario, api: apiResult, raw: rawResult });
      log(
        `  ${scenario.name}: api ${apiResult.rps.toFixed(0)} req/s, raw ${rawResult.rps.toFixed(0)} req/s${apiResult.failures + rawResult.failures > 0 ? ` (failed: api ${apiResult.failures}, raw ${rawResult.failures})` : ''}`,
      );
    }

    // The HTTP stack on its own bounds every scenario: on saturated cores a request costs at least
    // the HTTP work plus the query, so the api can reach at most H·F/(H+F) for a floor of F.
    const probe = { baseUrl: api.baseUrl, token, connections: CONNECTIONS, paths: ['/healthz'] };
    await httpRound(probe, { seconds: WARMUP_S });
    const httpStack = summarize([await httpRound(probe, { seconds: DURATION_S })]);
    log(`  HTTP stack alone (GET /healthz): ${httpStack.rps.toFixed(0)} req/s`);

    const farCursor = await cursorOfFarPage(api.baseUrl, token);
    const farAfterId = await rawAfterIdOfFarPage(store, noFilter);
    const apiPages = await alternate(
      () => getJson(`${api!.baseUrl}${contactsPath()}`, token),
      () => getJson(`${api!.baseUrl}${contactsPath(`?cursor=${encodeURIComponent(farCursor)}`)}`, token),
    );
    const rawPages = await alternate(
      () => store.list(BIG_SESSION, noFilter, 0, PAGE_SIZE),
      () => store.list(BIG_SESSION, noFilter, farAfterId, PAGE_SIZE),
    );

    log('');
    const header = `${pad('scenario (session with 200,000 contacts)', 34)} | ${lpad('api req/s', 9)} ${lpad('p50 ms', 7)} ${lpad('p99 ms', 7)} | ${lpad('raw req/s', 9)} ${lpad('p50 ms', 7)} ${lpad('p99 ms', 7)} | ${lpad('api/raw', 7)}`;
    log(header);
    log('-'.repeat(header.length));
    for (const m of measured) {
      log(
        `${pad(m.scenario.name, 34)} | ${lpad(m.api.rps.toFixed(0), 9)} ${lpad(ms(m.api.p50), 7)} ${lpad(ms(m.api.p99), 7)} | ${lpad(m.raw.rps.toFixed(0), 9)} ${lpad(ms(m.raw.p50), 7)} ${lpad(ms(m.raw.p99), 7)} | ${lpad(`${((m.api.rps / m.raw.rps) * 100).toFixed(0)} %`, 7)}`,
      );
    }
    log(
      `${pad('HTTP stack alone: GET /healthz', 34)} | ${lpad(httpStack.rps.toFixed(0), 9)} ${lpad(ms(httpStack.p50), 7)} ${lpad(ms(httpStack.p99), 7)} |`,
    );
    log('');
    log('ceiling: with authentication, validation and JSON free, a request still costs the HTTP stack plus the query,');
    log('so the api can reach at most H·F/(H+F) req/s, where H is the HTTP stack alone and F the floor:');
    for (const m of measured) {
      const ceiling = (httpStack.rps * m.raw.rps) / (httpStack.rps + m.raw.rps);
      log(
        `  ${pad(m.scenario.name, 32)} ceiling ${lpad(ceiling.toFixed(0), 5)} req/s = ${lpad(((ceiling / m.raw.rps) * 100).toFixed(0), 3)} % of the floor; the api reached ${((m.api.rps / ceiling) * 100).toFixed(0)} % of that ceiling`,
      );
    }
    log('');
    log(
      `page ${FAR_PAGE} vs page 1 (limit ${PAGE_SIZE}, no filter, one request at a time, ${PAGE_REPS} alternating repetitions each):`,
    );
    for (const [label, t] of [
      ['api', apiPages],
      ['raw', rawPages],
    ] as const) {
      const a = percentiles(t.first);
      const b = percentiles(t.far);
      log(
        `  ${label}: page 1 p50 ${ms(a.p50)} ms, p99 ${ms(a.p99)} ms, mean ${ms(mean(t.first))} ms | page ${FAR_PAGE} p50 ${ms(b.p50)} ms, p99 ${ms(b.p99)} ms, mean ${ms(mean(t.far))} ms | ratio (p50) ${(b.p50 / a.p50).toFixed(2)}×`,
      );
    }

    const failures = measured.flatMap((m) => [m.api, m.raw]).reduce((n, r) => n + r.failures, 0);
    const checks: [string, boolean][] = [];
    for (const m of measured.filter((x) => x.scenario.isList)) {
      const share = m.api.rps / m.raw.rps;
      checks.push([
        `${m.scenario.name}: api throughput ≥ 40 % of raw mysql2 (${(share * 100).toFixed(0)} %)`,
        share >= 0.4,
      ]);
    }
    const pageRatio = percentiles(apiPages.far).p50 / percentiles(apiPages.first).p50;
    checks.push([`page ${FAR_PAGE} within 1.3× of page 1 (api p50 ratio ${pageRatio.toFixed(2)}×)`, pageRatio <= 1.3]);
    for (const m of measured.filter((x) => x.scenario.isQ))
      checks.push([
        `${m.scenario.name}: p99 < 100 ms at ${CONNECTIONS} connections (${ms(m.api.p99)} ms)`,
        m.api.p99 < 100,
      ]);
    checks.push([`no failed request in any scenario (${failures} failed)`, failures === 0]);
    log('');
    log('targets:');
    for (const [label, ok] of checks) log(`  ${ok ? 'PASS' : 'FAIL'}  ${label}`);
    failed = checks.some(([, ok]) => !ok);
    log('');
    log(
      `total bench time ${((Date.now() - started) / 1000).toFixed(0)} s; load average at start ${loadAtStart}, at end ${loadAverage()} (other processes on the machine skew every figure)`,
    );
  } finally {
    if (api) {
      await api.proc.stop('SIGTERM', 10_000);
      await dropRedisKeys(api.redisPrefix).catch(() => undefined);
    }
    await new AdminService(admin).revokeApiKey(key.id).catch(() => undefined);
    await pool.end();
    await admin.destroy();
  }
  process.exitCode = failed ? 1 : 0;
}

const loadAverage = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** Keys of earlier runs that were interrupted before they could revoke their own. */
async function revokeLeftoverKeys(pool: Pool): Promise<void> {
  await pool.query(
    `UPDATE api_keys SET revoked_at = ? WHERE organization_id = ? AND name LIKE 'contacts bench %' AND revoked_at IS NULL`,
    [Date.now(), BENCH_ORG],
  );
}

async function dropRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(args.redis, { maxRetriesPerRequest: 2 });
  try {
    await deleteKeysMatching(redis, `*${prefix}*`);
  } finally {
    redis.disconnect();
  }
}

await main();
