/**
 * Webhook benchmark, two figures:
 *
 * 1. Delivery: `--events` events (contacts.changed, about 200 bytes each) written to the outbox of
 *    one session whose organization has one endpoint, a local receiver on 127.0.0.1 answering 200
 *    at once, and one real worker process (`node dist/worker/main.js`, sim driver) relaying and
 *    delivering them. Timed from the first request the receiver gets to the last event acknowledged;
 *    the worker's start-up is not counted.
 * 2. Ingestion with webhooks on: the same history sync ingested into sessions of an organization
 *    without endpoints (off) and of one with an endpoint subscribed to contacts.changed (on),
 *    alternately, `--runs` times each; the medians are compared. "On" writes the contacts.changed
 *    events and their deliveries inside the ingestion transactions, which is the added cost.
 *
 *   npm run bench:webhooks [-- --events 5000 --contacts 20000 --groups 100 --members 100 --runs 3 --in-flight 10 --skip-ingest]
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { DataSource } from 'typeorm';
import { AdminService } from '../../api/admin/admin-service.js';
import { WebhookService } from '../../api/webhooks/webhook-service.js';
import { writeEvents } from '../../shared/webhooks/outbox.js';
import { ContactIngestor } from '../../worker/ingest/contact-ingestor.js';
import { WebhookEventSinks } from '../../worker/webhooks/webhook-event-sinks.js';
import { GatewayProcess, waitFor } from '../../test/support/processes.js';
import { deleteKeysMatching } from '../../test/support/redis-cleanup.js';
import { WebhookReceiver } from '../../test/support/webhook-receiver.js';
import { historySync, type HistoryShape } from '../ingest/history-payload.js';
import { freshDatabase } from '../support/fresh-database.js';

const { values: args } = parseArgs({
  options: {
    db: {
      type: 'string',
      default: process.env['BENCH_WEBHOOKS_DATABASE_URL'] ?? 'mysql://root@127.0.0.1:3306/wag_bench_webhooks',
    },
    redis: { type: 'string', default: process.env['BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379' },
    events: { type: 'string', default: '5000' },
    contacts: { type: 'string', default: '20000' },
    groups: { type: 'string', default: '100' },
    members: { type: 'string', default: '100' },
    runs: { type: 'string', default: '3' },
    /** WEBHOOK_ENDPOINT_IN_FLIGHT of the delivering worker; its default when not given. */
    'in-flight': { type: 'string' },
    'skip-ingest': { type: 'boolean', default: false },
  },
});

/**
 * Events per second one endpoint must receive from one worker: a receiver answering in 100 ms
 * caps an endpoint at this with the default WEBHOOK_ENDPOINT_IN_FLIGHT of 10, so below it the
 * gateway, not the receiver, would be the bottleneck.
 */
const TARGET_EVENTS_PER_S = 100;
/** Most that webhooks on may add to the wall time of the same ingestion. */
const TARGET_INGEST_OVERHEAD = 0.2;

const log = (line: string) => console.log(line);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;

async function deliveryThroughput(
  db: DataSource,
  admin: AdminService,
  redisUrl: string,
  dbUrl: string,
): Promise<number> {
  const count = Number(args.events);
  const prefix = `wag_bench_wh_${randomBytes(3).toString('hex')}`;
  const receiver = await new WebhookReceiver().start();
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  let worker: GatewayProcess | undefined;
  try {
    const org = await admin.createOrganization(
      'Webhook delivery bench',
      `org_bench_wh_${randomBytes(3).toString('hex')}`,
    );
    const session = (await admin.createSession(org.id, 'delivery')).id;
    await db.query(`UPDATE wa_sessions SET status = 'logged_out' WHERE id = ?`, [session]);
    const hooks = new WebhookService(db, { allowHttp: true, allowPrivate: true, maxEndpoints: 10, secretGraceMs: 0 });
    await hooks.create(org.id, { url: receiver.url, events: ['contacts.changed'] });

    const writing = Date.now();
    for (let start = 0; start < count; start += 500) {
      const events = Array.from({ length: Math.min(500, count - start) }, (_, i) => ({
        type: 'contacts.changed' as const,
        data: {
          contacts: [
            {
              lid: `${200000000000 + start + i}@lid`,
              phoneNumber: `62812${String(start + i).padStart(8, '0')}`,
              name: `Person ${start + i}`,
              changes: ['new' as const],
            },
          ],
        },
      }));
      await db.transaction((tx) => writeEvents((sql, params) => tx.query(sql, params), session, events));
    }
    log(
      `  wrote ${count.toLocaleString('en')} events to the outbox in ${((Date.now() - writing) / 1000).toFixed(2)} s (not timed below)`,
    );

    let first = 0;
    let last = 0;
    receiver.behaviour = () => {
      const now = performance.now();
      if (first === 0) first = now;
      last = now;
      return 200;
    };
    worker = GatewayProcess.start(`${prefix}-worker`, 'dist/worker/main.js', {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: dbUrl,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      WA_DRIVER: 'sim',
      WORKER_ID: `${prefix}-w1`,
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      ...(args['in-flight'] ? { WEBHOOK_ENDPOINT_IN_FLIGHT: args['in-flight'] } : {}),
    });
    await waitFor(async () => receiver.acknowledged().size >= count, 'every event delivered', 600_000, 200);
    const seconds = (last - first) / 1000;
    const rate = count / seconds;
    const duplicates = receiver.received.length - count;
    log(
      `  delivered ${count.toLocaleString('en')} events in ${seconds.toFixed(2)} s = ${Math.round(rate).toLocaleString('en')} events/s (${duplicates} sent twice)`,
    );
    const [{ open }] = (await db.query(
      `SELECT COUNT(*) AS open FROM webhook_deliveries WHERE status <> 'succeeded'`,
    )) as [{ open: number }];
    if (Number(open) !== 0) throw new Error(`${open} deliveries not recorded as succeeded`);
    return rate;
  } finally {
    await worker?.stop();
    await receiver.stop();
    await deleteKeysMatching(redis, `*${prefix}*`).catch(() => undefined);
    redis.disconnect();
  }
}

async function ingestionOverhead(
  db: DataSource,
  admin: AdminService,
): Promise<{ off: number; on: number; events: number }> {
  const shape: HistoryShape = {
    contacts: Number(args.contacts),
    groups: Number(args.groups),
    membersPerGroup: Number(args.members),
    dmShare: 0.2,
    seed: 20_241_203,
  };
  const history = historySync(shape);
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const sinks = new WebhookEventSinks(
    db,
    { publicUrl: undefined, progressIntervalMs: 5_000, onWritten: () => undefined },
    logger,
  );
  const ingestor = new ContactIngestor(db, logger, { events: sinks });
  const quiet = await admin.createOrganization(
    'Ingest, webhooks off',
    `org_bench_off_${randomBytes(3).toString('hex')}`,
  );
  const subscribed = await admin.createOrganization(
    'Ingest, webhooks on',
    `org_bench_on_${randomBytes(3).toString('hex')}`,
  );
  await db.query(
    `INSERT INTO webhook_endpoints (id, organization_id, url, events, enabled, secret, created_at, updated_at) VALUES (?, ?, 'https://example.com/hooks', 'contacts.changed', 1, 'whsec_AAAA', 0, 0)`,
    [`wh_bench_${randomBytes(4).toString('hex')}`, subscribed.id],
  );
  const times: Record<'off' | 'on', number[]> = { off: [], on: [] };
  let events = 0;
  for (let run = 1; run <= Math.max(1, Number(args.runs)); run++) {
    for (const [mode, org] of [
      ['off', quiet],
      ['on', subscribed],
    ] as const) {
      const session = (await admin.createSession(org.id, `${mode} ${run}`)).id;
      const emitter = new EventEmitter();
      const handle = ingestor.attach(session, emitter);
      const started = performance.now();
      emitter.emit('messaging-history.set', history);
      await handle.drain();
      const seconds = (performance.now() - started) / 1000;
      handle.detach();
      times[mode].push(seconds);
      const [{ n }] = (await db.query('SELECT COUNT(*) AS n FROM webhook_events WHERE session_id = ?', [session])) as [
        { n: number },
      ];
      if (mode === 'on') events = Number(n);
      if ((mode === 'off') !== (Number(n) === 0)) throw new Error(`webhooks ${mode} wrote ${n} events`);
      log(
        `  run ${run}, webhooks ${mode}: ${seconds.toFixed(2)} s${mode === 'on' ? `, ${n} contacts.changed events written` : ''}`,
      );
    }
  }
  return { off: median(times.off), on: median(times.on), events };
}

async function main(): Promise<void> {
  log(
    `webhooks bench: ${args.events} events delivered; ingestion of ${args.contacts} contacts, ${args.groups} groups × ${args.members} with webhooks off/on, ${args.runs} runs; db ${args.db}`,
  );
  log(
    `  ${os.cpus().length} CPUs, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const db = await freshDatabase(args.db);
  let failed: boolean;
  try {
    const admin = new AdminService(db);
    log('delivery to one local receiver:');
    const rate = await deliveryThroughput(db, admin, args.redis, args.db);
    const rateMet = rate >= TARGET_EVENTS_PER_S;
    let ingest = { off: 0, on: 0, events: 0 };
    let overhead = 0;
    if (!args['skip-ingest']) {
      log('ingestion, webhooks off vs on:');
      ingest = await ingestionOverhead(db, admin);
      overhead = ingest.on / ingest.off - 1;
    }
    const overheadMet = overhead <= TARGET_INGEST_OVERHEAD;
    failed = !rateMet || !overheadMet;
    log('');
    log(
      `RESULT delivery: ${Math.round(rate).toLocaleString('en')} events/s to one endpoint, one worker (target ≥ ${TARGET_EVENTS_PER_S}: ${rateMet ? 'PASS' : 'FAIL'})`,
    );
    if (!args['skip-ingest'])
      log(
        `RESULT ingestion: ${ingest.off.toFixed(2)} s off, ${ingest.on.toFixed(2)} s on (median of ${args.runs}), +${(overhead * 100).toFixed(1)} % with ${ingest.events} events (target ≤ +${TARGET_INGEST_OVERHEAD * 100} %: ${overheadMet ? 'PASS' : 'FAIL'})`,
      );
    log(JSON.stringify({ events: Number(args.events), rate, ingest, overhead, load: os.loadavg() }));
  } finally {
    await db.destroy();
  }
  if (failed) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
