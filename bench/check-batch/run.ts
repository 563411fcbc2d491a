/**
 * Bulk number check benchmark (issue 5): one api and one sim worker; a batch of 10,000 numbers
 * (30 % on WhatsApp) on one online session with the rate limit lifted. Measures the wall time from
 * POST to `completed`, numbers/s and the onWhatsApp queries the simulated WhatsApp received; then
 * computes (does not wait for) the time the same batch takes at the default rate limit. Also times
 * storing a 50,000-number batch (the POST's 202).
 *
 *   npm run bench:check-batch [-- --numbers 10000 --latency-ms 0 --chunk 50]
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
    db: { type: 'string', default: process.env['BENCH_CHECK_BATCH_DATABASE_URL'] ?? 'mysql://root@127.0.0.1:3306/wag_bench_check_batch' },
    redis: { type: 'string', default: process.env['BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379' },
    numbers: { type: 'string', default: '10000' },
    'on-whatsapp-share': { type: 'string', default: '0.3' },
    'latency-ms': { type: 'string', default: '0' },
    chunk: { type: 'string', default: '50' },
    'keep-db': { type: 'boolean', default: false },
  },
});

const NUMBERS = Number(args.numbers);
const CHUNK = Number(args.chunk);
const LATENCY_MS = Number(args['latency-ms']);
const TARGET_QUERIES = Math.ceil(NUMBERS / 50);
const SESSION = 'sess_bench_check_batch';
const OFFLINE_SESSION = 'sess_bench_check_batch_off';

const log = (line: string) => console.log(line);
const fmt = (n: number) => n.toLocaleString('en');


/** 13-digit numbers with a fixed prefix; every `1 / share`-th one has a WhatsApp account. */
function phones(count: number, share: number): { all: string[]; registered: string[] } {
  const all = Array.from({ length: count }, (_, i) => `4917${String(i).padStart(9, '0')}`);
  const every = Math.max(1, Math.round(1 / share));
  return { all, registered: all.filter((_, i) => i % every === 0) };
}

function writeWorld(registered: string[]): string {
  const self = '4916000000001';
  const world: SimWorldInput = {
    accounts: [self, ...registered].map((phone) => ({ phone, lid: `8${phone}@lid`, name: `p${phone.slice(-5)}` })),
    operations: { onWhatsApp: { latencyMs: LATENCY_MS } },
    sessions: { [SESSION]: { phone: self } },
  };
  const dir = path.join(REPO_ROOT, '.run', 'bench');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'check-batch-world.json');
  writeFileSync(file, JSON.stringify(world));
  return file;
}

async function api(baseUrl: string, token: string, method: string, pathname: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${baseUrl}${pathname}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function main(): Promise<void> {
  log(`check-batch bench — ${os.cpus().length} CPU (${os.cpus()[0]?.model ?? '?'}), node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  log(`  ${fmt(NUMBERS)} numbers, ${Number(args['on-whatsapp-share']) * 100} % on WhatsApp, chunk ${CHUNK}, simulated onWhatsApp latency ${LATENCY_MS} ms, rate limit lifted`);
  const db = await freshDatabase(args.db);
  const prefix = `wagbench_cb_${randomBytes(4).toString('hex')}`;
  const redis = new Redis(args.redis, { maxRetriesPerRequest: 2 });
  const processes: GatewayProcess[] = [];
  try {
    const admin = new AdminService(db);
    const org = await admin.createOrganization('Check batch bench', 'org_bench_check_batch');
    await admin.createSession(org.id, 'bench', SESSION);
    await admin.createSession(org.id, 'bench offline', OFFLINE_SESSION);
    const { token } = await admin.createApiKey(org.id, 'bench', ['read']);
    const { all, registered } = phones(NUMBERS, Number(args['on-whatsapp-share']));
    const world = writeWorld(registered);

    const port = await freePort();
    const env = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: args.db,
      REDIS_URL: args.redis,
      REDIS_PREFIX: prefix,
      CURSOR_SECRET: randomBytes(24).toString('hex'),
      RATE_LIMIT_PER_MINUTE: '0',
      BATCH_RATE_PER_MINUTE: '0',
      BATCH_CHUNK_SIZE: String(CHUNK),
    };
    processes.push(GatewayProcess.start('bench-check-batch-worker', 'dist/worker/main.js', { ...env, WA_DRIVER: 'sim', SIM_WORLD: world, WORKER_ID: 'bench-worker' }));
    const apiProcess = GatewayProcess.start('bench-check-batch-api', 'dist/api/main.js', { ...env, HOST: '127.0.0.1', PORT: String(port) });
    processes.push(apiProcess);
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitFor(async () => {
      if (!apiProcess.running) throw new Error('api exited (see .run/test-logs/bench-check-batch-api.log)');
      return (await fetch(`${baseUrl}/readyz`)).status === 200;
    }, 'the api', 30_000);
    await waitFor(async () => (await redis.exists(`${prefix}:presence:${SESSION}`)) === 1, 'the bench session to come online', 30_000);

    const base = `/api/v1/sessions/${SESSION}/contacts/check-batch`;
    const started = performance.now();
    const created = await api(baseUrl, token, 'POST', base, { phones: all });
    const acceptedMs = performance.now() - started;
    if (created.status !== 202) throw new Error(`POST answered ${created.status}: ${JSON.stringify(created.body)}`);
    let batch: any;
    await waitFor(
      async () => {
        batch = (await api(baseUrl, token, 'GET', `${base}/${created.body.id}`)).body;
        if (batch.status === 'failed' || batch.status === 'cancelled') throw new Error(`batch ${batch.status}: ${JSON.stringify(batch)}`);
        return batch.status === 'completed';
      },
      'the batch to complete',
      30 * 60_000,
      50,
    );
    const wallS = (performance.now() - started) / 1000;
    const calls = new SimCallLog(redis, prefix);
    const queries = await calls.queries(SESSION);
    const asked = await calls.askedNumbers(SESSION);
    const askedTwice = [...asked.values()].filter((n) => n > 1).length;
    if (batch.counts.onWhatsApp !== registered.length || batch.counts.notOnWhatsApp !== all.length - registered.length) {
      throw new Error(`wrong counts: ${JSON.stringify(batch.counts)} (expected ${registered.length} on WhatsApp)`);
    }
    const checkingS = (batch.finishedAt - batch.startedAt) / 1000;

    // Storing the largest batch the API accepts, on a session that is offline so nothing runs it.
    const big = phones(MAX_BATCH_NUMBERS, 0.5).all.map((p) => `+${p}`);
    const bigStarted = performance.now();
    const bigCreated = await api(baseUrl, token, 'POST', `/api/v1/sessions/${OFFLINE_SESSION}/contacts/check-batch`, { phones: big });
    const bigMs = performance.now() - bigStarted;
    if (bigCreated.status !== 202) throw new Error(`50k POST answered ${bigCreated.status}`);
    await api(baseUrl, token, 'DELETE', `/api/v1/sessions/${OFFLINE_SESSION}/contacts/check-batch/${bigCreated.body.id}`);

    const defaults = loadConfig({}).batches;
    const paced = (rate: number, chunk: number) => (Math.max(0, NUMBERS - chunk) / rate) * 60;
    const hms = (s: number) => `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;

    log('');
    log(`RESULT ${fmt(NUMBERS)} numbers, rate limit lifted: wall ${wallS.toFixed(2)} s from POST to completed (checking ${checkingS.toFixed(2)} s), ${fmt(Math.round(NUMBERS / wallS))} numbers/s`);
    log(`RESULT onWhatsApp queries: ${fmt(queries)} (target ≤ ${fmt(TARGET_QUERIES)}: ${queries <= TARGET_QUERIES ? 'met' : 'NOT met'}); numbers asked twice: ${askedTwice}`);
    log(`RESULT POST 202 latency: ${fmt(Math.round(acceptedMs))} ms for ${fmt(NUMBERS)} numbers, ${fmt(Math.round(bigMs))} ms for ${fmt(MAX_BATCH_NUMBERS)} (one transaction, multi-row INSERTs)`);
    log(
      `RESULT at the default rate limit (BATCH_RATE_PER_MINUTE=${defaults.ratePerMinute}, BATCH_CHUNK_SIZE=${defaults.chunkSize}): ${fmt(NUMBERS)} numbers take ` +
        `(${fmt(NUMBERS)} − ${defaults.chunkSize} first-chunk burst) / ${defaults.ratePerMinute} per min = ${hms(paced(defaults.ratePerMinute, defaults.chunkSize))} ` +
        `(query latency overlaps the pacing; the lifted-limit run above shows the gateway adds ${((wallS / NUMBERS) * 1000).toFixed(2)} ms per number)`,
    );
    for (const rate of [120, 300, 600]) log(`       for comparison, BATCH_RATE_PER_MINUTE=${rate}: ${hms(paced(rate, defaults.chunkSize))}`);
  } finally {
    await Promise.allSettled(processes.map((p) => p.stop('SIGTERM', 10_000)));
    await deleteKeysMatching(redis, `*${prefix}*`);
    redis.disconnect();
    if (!args['keep-db']) await db.query(`DROP DATABASE IF EXISTS \`${new URL(args.db).pathname.slice(1)}\``).catch(() => undefined);
    await db.destroy();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
