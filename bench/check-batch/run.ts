/**
 * Bulk number check benchmark (issues 5 and 17), in two phases against real api and sim worker
 * processes.
 *
 * 1. The gateway's own cost: a batch of 10,000 numbers (30 % on WhatsApp) on one online session
 *    with the rate limit lifted; wall time from POST to `completed`, numbers/s and the onWhatsApp
 *    queries sent. Also times storing a 50,000-number batch (the POST's 202).
 * 2. A user's scale (issue 17): 10,000 numbers of which half were checked in the last week (phase
 *    1's answers, dated back 3 days), over a pool of 3 sessions at the default pace (60 numbers a
 *    minute per session, chunks of 50). Waiting hours is not an option, so the worker runs the real
 *    code path — answer cache, pooled claims, per-session token buckets — at `--scale` times the
 *    default pace, and the measured wall time is multiplied back by the same factor. The bucket's
 *    arithmetic is linear in its rate, so pacing scales exactly; the gateway's own time per chunk is
 *    multiplied too, which makes the figure pessimistic, not optimistic. The pure pacing model
 *    (numbers asked by the busiest session − its first-chunk burst, / 60 a minute) is printed beside it.
 *
 * Targets (the bench exits 1 when one is missed): phase 1 ≤ 1 query per 50 numbers; phase 2 under
 * 30 minutes at the default pace, ≤ 100 WhatsApp queries, no number asked twice, none of the cached
 * half asked at all, and every result right.
 *
 *   npm run bench:check-batch [-- --numbers 10000 --latency-ms 0 --chunk 50 --scale 20]
 *
 * --latency-ms is the simulated WhatsApp round trip per onWhatsApp query (0 measures the gateway's
 * own cost; real USync queries take a few hundred ms).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { AdminService } from '../../api/admin/admin-service.js';
import { MAX_BATCH_NUMBERS } from '../../shared/batches/check-batch-jobs.js';
import { loadConfig } from '../../shared/config.js';
import { freePort, GatewayProcess, REPO_ROOT, waitFor } from '../../test/support/processes.js';
import { SimCallLog } from '../../worker/driver/sim/call-log.js';
import type { SimWorldInput } from '../../worker/driver/sim/world.js';
import { freshDatabase } from '../support/fresh-database.js';
import { deleteKeysMatching } from '../../test/support/redis-cleanup.js';

const { values: args } = parseArgs({
  options: {
    db: {
      type: 'string',
      default: process.env['BENCH_CHECK_BATCH_DATABASE_URL'] ?? 'mysql://root@127.0.0.1:3306/wag_bench_check_batch',
    },
    redis: { type: 'string', default: process.env['BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379' },
    numbers: { type: 'string', default: '10000' },
    'on-whatsapp-share': { type: 'string', default: '0.3' },
    'latency-ms': { type: 'string', default: '0' },
    chunk: { type: 'string', default: '50' },
    scale: { type: 'string', default: '20' },
    'keep-db': { type: 'boolean', default: false },
  },
});

const NUMBERS = Number(args.numbers);
const CHUNK = Number(args.chunk);
const LATENCY_MS = Number(args['latency-ms']);
const TARGET_QUERIES = Math.ceil(NUMBERS / 50);
const SCALE = Number(args.scale);
const SESSION = 'sess_bench_check_batch';
const OFFLINE_SESSION = 'sess_bench_check_batch_off';
const POOL = ['sess_bench_pool_1', 'sess_bench_pool_2', 'sess_bench_pool_3'];
/** Issue 17's targets for the pooled scenario. */
const POOL_TARGET_MINUTES = 30;
const POOL_TARGET_QUERIES = 100;

const log = (line: string) => console.log(line);
const fmt = (n: number) => n.toLocaleString('en');

/** Valid German mobile numbers (0170 + 8 digits) from `from`; every `1 / share`-th one has a WhatsApp account. */
function phones(count: number, share: number, from = 0): { all: string[]; registered: string[] } {
  const all = Array.from({ length: count }, (_, i) => `4917${String(from + i).padStart(9, '0')}`);
  const every = Math.max(1, Math.round(1 / share));
  return { all, registered: all.filter((_, i) => i % every === 0) };
}

function writeWorld(registered: string[]): string {
  const selves = ['4916000000001', '4916000000002', '4916000000003', '4916000000004'];
  const world: SimWorldInput = {
    accounts: [...selves, ...registered].map((phone) => ({ phone, lid: `8${phone}@lid`, name: `p${phone.slice(-5)}` })),
    operations: { onWhatsApp: { latencyMs: LATENCY_MS } },
    sessions: Object.fromEntries([SESSION, ...POOL].map((id, i) => [id, { phone: selves[i]! }])),
  };
  const dir = path.join(REPO_ROOT, '.run', 'bench');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'check-batch-world.json');
  writeFileSync(file, JSON.stringify(world));
  return file;
}

async function api(
  baseUrl: string,
  token: string,
  method: string,
  pathname: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${baseUrl}${pathname}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

interface Verdict {
  met: boolean;
  line: string;
}

async function main(): Promise<boolean> {
  log(
    `check-batch bench — ${os.cpus().length} CPU (${os.cpus()[0]?.model ?? '?'}), node ${process.version}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  log(
    `  ${fmt(NUMBERS)} numbers, ${Number(args['on-whatsapp-share']) * 100} % on WhatsApp, chunk ${CHUNK}, simulated onWhatsApp latency ${LATENCY_MS} ms`,
  );
  const db = await freshDatabase(args.db);
  const prefix = `wagbench_cb_${randomBytes(4).toString('hex')}`;
  const redis = new Redis(args.redis, { maxRetriesPerRequest: 2 });
  const processes: GatewayProcess[] = [];
  const verdicts: Verdict[] = [];
  const verdict = (met: boolean, line: string) => {
    verdicts.push({ met, line });
    return `${line}: ${met ? 'met' : 'NOT met'}`;
  };
  try {
    const admin = new AdminService(db);
    const org = await admin.createOrganization('Check batch bench', 'org_bench_check_batch');
    for (const id of [SESSION, ...POOL]) await admin.createSession(org.id, id, id);
    await admin.createSession(org.id, 'bench offline', OFFLINE_SESSION);
    const { token } = await admin.createApiKey(org.id, 'bench', ['read']);
    const share = Number(args['on-whatsapp-share']);
    const { all, registered } = phones(NUMBERS, share);
    // Phase 2's new half, after every number of phase 1.
    const unseen = phones(Math.floor(NUMBERS / 2), share, NUMBERS);
    const world = writeWorld([...registered, ...unseen.registered]);

    const port = await freePort();
    const env = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: args.db,
      REDIS_URL: args.redis,
      REDIS_PREFIX: prefix,
      CURSOR_SECRET: randomBytes(24).toString('hex'),
      RATE_LIMIT_PER_MINUTE: '0',
      BATCH_CHUNK_SIZE: String(CHUNK),
    };
    const startWorker = (name: string, ratePerMinute: number) =>
      GatewayProcess.start(name, 'dist/worker/main.js', {
        ...env,
        WA_DRIVER: 'sim',
        SIM_WORLD: world,
        WORKER_ID: name,
        BATCH_RATE_PER_MINUTE: String(ratePerMinute),
        BATCH_SESSION_POLL_MS: '500',
      });
    const lifted = startWorker('bench-check-batch-worker', 0);
    processes.push(lifted);
    const apiProcess = GatewayProcess.start('bench-check-batch-api', 'dist/api/main.js', {
      ...env,
      HOST: '127.0.0.1',
      PORT: String(port),
    });
    processes.push(apiProcess);
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitFor(
      async () => {
        if (!apiProcess.running) throw new Error('api exited (see .run/test-logs/bench-check-batch-api.log)');
        return (await fetch(`${baseUrl}/readyz`)).status === 200;
      },
      'the api',
      60_000,
    );
    const online = (ids: string[]) =>
      waitFor(
        async () =>
          (await Promise.all(ids.map((id) => redis.exists(`${prefix}:presence:${id}`)))).every((n) => n === 1),
        `sessions ${ids.join(', ')} to come online`,
        60_000,
      );
    await online([SESSION]);

    // Phase 1: the gateway's own cost, rate limit lifted.
    const base = `/api/v1/sessions/${SESSION}/contacts/check-batch`;
    const started = performance.now();
    const created = await api(baseUrl, token, 'POST', base, { phones: all });
    const acceptedMs = performance.now() - started;
    if (created.status !== 202) throw new Error(`POST answered ${created.status}: ${JSON.stringify(created.body)}`);
    const batch = await completed(baseUrl, token, `${base}/${created.body.id}`);
    const wallS = (performance.now() - started) / 1000;
    const calls = new SimCallLog(redis, prefix);
    const queries = await calls.queries(SESSION);
    const asked = await calls.askedNumbers(SESSION);
    const askedTwice = [...asked.values()].filter((n) => n > 1).length;
    if (
      batch.counts.onWhatsApp !== registered.length ||
      batch.counts.notOnWhatsApp !== all.length - registered.length
    ) {
      throw new Error(`wrong counts: ${JSON.stringify(batch.counts)} (expected ${registered.length} on WhatsApp)`);
    }
    const checkingS = (batch.finishedAt - batch.startedAt) / 1000;

    // Storing the largest batch the API accepts, on a session that is offline so nothing runs it.
    const big = phones(MAX_BATCH_NUMBERS, 0.5).all.map((p) => `+${p}`);
    const bigStarted = performance.now();
    const bigCreated = await api(baseUrl, token, 'POST', `/api/v1/sessions/${OFFLINE_SESSION}/contacts/check-batch`, {
      phones: big,
      maxAgeSeconds: 0,
    });
    const bigMs = performance.now() - bigStarted;
    if (bigCreated.status !== 202) throw new Error(`50k POST answered ${bigCreated.status}`);
    await api(
      baseUrl,
      token,
      'DELETE',
      `/api/v1/sessions/${OFFLINE_SESSION}/contacts/check-batch/${bigCreated.body.id}`,
    );

    const defaults = loadConfig({}).batches;
    const paced = (count: number, rate: number, chunk: number) => (Math.max(0, count - chunk) / rate) * 60;
    const hms = (s: number) => `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
    const todayS = paced(NUMBERS, defaults.ratePerMinute, defaults.chunkSize);

    log('');
    log(
      `RESULT phase 1: ${fmt(NUMBERS)} numbers, rate limit lifted: wall ${wallS.toFixed(2)} s from POST to completed (checking ${checkingS.toFixed(2)} s), ${fmt(Math.round(NUMBERS / wallS))} numbers/s`,
    );
    log(
      `RESULT ${verdict(queries <= TARGET_QUERIES && askedTwice === 0, `phase 1 onWhatsApp queries ${fmt(queries)} (target ≤ ${fmt(TARGET_QUERIES)}), numbers asked twice ${askedTwice}`)}`,
    );
    log(
      `RESULT POST 202 latency: ${fmt(Math.round(acceptedMs))} ms for ${fmt(NUMBERS)} numbers, ${fmt(Math.round(bigMs))} ms for ${fmt(MAX_BATCH_NUMBERS)} (one transaction, multi-row INSERTs)`,
    );

    // Phase 2: half of the numbers were checked 3 days ago; the rest are new; 3 sessions at the default pace.
    await lifted.stop('SIGTERM', 15_000);
    await db.query('UPDATE check_answers SET checked_at = checked_at - ? WHERE organization_id = ?', [
      3 * 86_400_000,
      org.id,
    ]);
    const rate = defaults.ratePerMinute * SCALE;
    processes.push(startWorker('bench-check-batch-pool-worker', rate));
    await online(POOL);
    const known = all.slice(0, Math.floor(NUMBERS / 2));
    const mixed = [...known, ...unseen.all];
    const expectedOn = known.filter((p) => new Set(registered).has(p)).length + unseen.registered.length;
    const poolStarted = performance.now();
    const pooled = await api(baseUrl, token, 'POST', '/api/v1/check-batches', { phones: mixed, sessions: POOL });
    if (pooled.status !== 202) throw new Error(`pooled POST answered ${pooled.status}: ${JSON.stringify(pooled.body)}`);
    const poolAcceptedS = (performance.now() - poolStarted) / 1000;
    const done = await completed(baseUrl, token, `/api/v1/check-batches/${pooled.body.id}`);
    const poolWallS = (performance.now() - poolStarted) / 1000;
    const poolQueries = (await Promise.all(POOL.map((id) => calls.queries(id)))).reduce((a, b) => a + b, 0);
    const poolAsked = new Map<string, number>();
    for (const id of POOL)
      for (const [phone, n] of await calls.askedNumbers(id)) poolAsked.set(phone, (poolAsked.get(phone) ?? 0) + n);
    const poolTwice = [...poolAsked.values()].filter((n) => n > 1).length;
    const cachedAsked = known.filter((p) => poolAsked.has(p)).length;
    const right =
      done.counts.onWhatsApp === expectedOn &&
      done.counts.notOnWhatsApp === mixed.length - expectedOn &&
      done.cached === known.length;
    // Storing the batch and reading the cache (the POST) is not paced: it counts once; the checking after it, paced, is scaled back.
    const scaledS = poolAcceptedS + (poolWallS - poolAcceptedS) * SCALE;
    const busiest = Math.max(...done.sessions.map((m: { checked: number }) => m.checked));
    const modelS = paced(busiest, defaults.ratePerMinute, defaults.chunkSize);

    log('');
    log(
      `RESULT phase 2: ${fmt(mixed.length)} numbers, ${fmt(known.length)} checked 3 days ago, over ${POOL.length} sessions at ${defaults.ratePerMinute} numbers/min/session (run at ${SCALE}× that, ${fmt(rate)}/min, and scaled back)`,
    );
    log(
      `       answered from the cache: ${fmt(done.cached)}; asked per session: ${done.sessions.map((m: { sessionId: string; checked: number; queries: number }) => `${m.sessionId} ${fmt(m.checked)} in ${m.queries} queries`).join(', ')}`,
    );
    log(
      `RESULT ${verdict(scaledS < POOL_TARGET_MINUTES * 60, `phase 2 wall time at the default pace ${hms(scaledS)} (POST ${poolAcceptedS.toFixed(1)} s + checking ${(poolWallS - poolAcceptedS).toFixed(1)} s × ${SCALE}; pacing model for the busiest session ${hms(modelS)}) vs ${hms(todayS)} for ${fmt(NUMBERS)} numbers on one session without a cache; target < ${POOL_TARGET_MINUTES} min`)}`,
    );
    log(
      `RESULT ${verdict(poolQueries <= POOL_TARGET_QUERIES, `phase 2 WhatsApp queries ${fmt(poolQueries)} (target ≤ ${POOL_TARGET_QUERIES})`)}`,
    );
    log(
      `RESULT ${verdict(poolTwice === 0 && cachedAsked === 0 && poolAsked.size === unseen.all.length, `phase 2 numbers asked twice ${poolTwice}, cached numbers asked ${cachedAsked}, new numbers asked ${fmt(poolAsked.size)} of ${fmt(unseen.all.length)}`)}`,
    );
    log(
      `RESULT ${verdict(right, `phase 2 results: ${JSON.stringify(done.counts)}, cached ${done.cached} (expected ${expectedOn} on WhatsApp, ${known.length} cached)`)}`,
    );
    for (const r of [120, 300, 600])
      log(
        `       for comparison, one session without a cache at BATCH_RATE_PER_MINUTE=${r}: ${hms(paced(NUMBERS, r, defaults.chunkSize))}`,
      );
    const missed = verdicts.filter((v) => !v.met);
    log('');
    log(
      missed.length === 0
        ? 'all targets met'
        : `MISSED ${missed.length} target(s):\n${missed.map((v) => `  ${v.line}`).join('\n')}`,
    );
    return missed.length === 0;
  } finally {
    await Promise.allSettled(processes.map((p) => p.stop('SIGTERM', 10_000)));
    await deleteKeysMatching(redis, `*${prefix}*`);
    redis.disconnect();
    if (!args['keep-db'])
      await db.query(`DROP DATABASE IF EXISTS \`${new URL(args.db).pathname.slice(1)}\``).catch(() => undefined);
    await db.destroy();
  }
}

/** Polls a batch until it completed; a failed or cancelled one ends the bench. */
async function completed(baseUrl: string, token: string, path: string): Promise<any> {
  const deadline = Date.now() + 60 * 60_000;
  while (Date.now() < deadline) {
    const batch = (await api(baseUrl, token, 'GET', path)).body;
    if (batch.status === 'failed' || batch.status === 'cancelled')
      throw new Error(`batch ${batch.status}: ${JSON.stringify(batch)}`);
    if (batch.status === 'completed') return batch;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`batch ${path} did not complete within an hour`);
}

main().then(
  (met) => process.exit(met ? 0 : 1),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
