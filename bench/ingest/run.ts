/**
 * Ingestion benchmark: one history sync (default 50,000 contacts and 500 groups × 200 participants)
 * through the ContactIngestor into a dedicated MariaDB database, against a per-row-upsert baseline
 * of the same data in the same run. The sync is ingested `--runs` times, each into a fresh session
 * (the median is the headline: the machine is shared). Also times a replay of the same sync (the
 * idempotent path) and the groupFetchAllParticipating snapshot of the same groups.
 *
 *   npm run bench:ingest [-- --contacts 50000 --groups 500 --members 200 --chunk 2000 --runs 3 --no-baseline]
 */
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { DataSource } from 'typeorm';
import { AdminService } from '../../api/admin/admin-service.js';
import { ContactIngestor } from '../../worker/ingest/contact-ingestor.js';
import { groupFetch, historySync, type HistoryShape } from './history-payload.js';
import { perRowIngest } from './per-row-baseline.js';
import { freshDatabase } from '../support/fresh-database.js';

const { values: args } = parseArgs({
  options: {
    db: {
      type: 'string',
      default: process.env['BENCH_INGEST_DATABASE_URL'] ?? 'mysql://root@127.0.0.1:3306/wag_bench_ingest',
    },
    contacts: { type: 'string', default: '50000' },
    groups: { type: 'string', default: '500' },
    members: { type: 'string', default: '200' },
    'dm-share': { type: 'string', default: '0.2' },
    chunk: { type: 'string', default: '2000' },
    runs: { type: 'string', default: '3' },
    'no-baseline': { type: 'boolean', default: false },
  },
});

const TARGET_ROWS_PER_S = 20_000;
const shape: HistoryShape = {
  contacts: Number(args.contacts),
  groups: Number(args.groups),
  membersPerGroup: Number(args.members),
  dmShare: Number(args['dm-share']),
  seed: 20_241_125,
};

interface Measured {
  phase: string;
  rows: number;
  seconds: number;
}

const log = (line: string) => console.log(line);

/** Rows a session holds: contacts, groups and memberships. */
async function storedRows(
  db: DataSource,
  sessionId: string,
): Promise<{ contacts: number; groups: number; members: number; total: number }> {
  const count = async (table: string) =>
    Number(
      (
        (await db.query(`SELECT COUNT(*) AS n FROM ${table} WHERE session_id = ?`, [sessionId])) as {
          n: number | string;
        }[]
      )[0]!.n,
    );
  const contacts = await count('contacts');
  const groups = await count('wa_groups');
  const members = await count('group_members');
  return { contacts, groups, members, total: contacts + groups + members };
}

async function timed(phase: string, rows: () => Promise<number>, work: () => Promise<void>): Promise<Measured> {
  const started = process.hrtime.bigint();
  await work();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const measured = { phase, rows: await rows(), seconds };
  log(
    `  ${phase}: ${measured.rows.toLocaleString('en')} rows in ${seconds.toFixed(2)} s = ${Math.round(measured.rows / seconds).toLocaleString('en')} rows/s`,
  );
  return measured;
}

async function main(): Promise<boolean> {
  log(
    `ingest bench: ${shape.contacts.toLocaleString('en')} contacts, ${shape.groups} groups × ${shape.membersPerGroup} participants, chunk ${args.chunk}, db ${args.db}`,
  );
  log(
    `  ${os.cpus().length} CPUs, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const db = await freshDatabase(args.db);
  try {
    const admin = new AdminService(db);
    const org = await admin.createOrganization('Ingest bench', 'org_bench_ingest');

    const generating = Date.now();
    const history = historySync(shape);
    const groups = groupFetch(shape);
    log(`  generated the payloads in ${((Date.now() - generating) / 1000).toFixed(2)} s (not timed below)`);

    const logger = pino({ level: 'warn' }, pino.destination(2));
    const ingestor = new ContactIngestor(db, logger, { chunkSize: Number(args.chunk) });
    const results: Measured[] = [];
    const syncs: Measured[] = [];
    let batched = '';
    let first = { contacts: 0, groups: 0, members: 0, total: 0 };

    for (let run = 1; run <= Math.max(1, Number(args.runs)); run++) {
      batched = (await admin.createSession(org.id, `batched ${run}`)).id;
      const events = new EventEmitter();
      const handle = ingestor.attach(batched, events);
      const sessionId = batched;
      syncs.push(
        await timed(
          `history sync, batched ingestor (run ${run})`,
          async () => (await storedRows(db, sessionId)).total,
          async () => {
            events.emit('messaging-history.set', history);
            await handle.drain();
          },
        ),
      );
      handle.detach();
      first = await storedRows(db, batched);
      log(
        `    stored ${first.contacts.toLocaleString('en')} contacts, ${first.groups} groups, ${first.members.toLocaleString('en')} memberships`,
      );
    }
    const bySpeed = [...syncs].sort((a, b) => a.seconds - b.seconds);
    results.push({
      ...bySpeed[Math.floor((bySpeed.length - 1) / 2)]!,
      phase: `history sync, batched ingestor (median of ${syncs.length})`,
    });

    const events = new EventEmitter();
    const handle = ingestor.attach(batched, events);
    results.push(
      await timed(
        'same history sync replayed (idempotent)',
        async () => (await storedRows(db, batched)).total,
        async () => {
          events.emit('messaging-history.set', history);
          await handle.drain();
        },
      ),
    );
    const replayed = await storedRows(db, batched);
    if (replayed.total !== first.total)
      throw new Error(`replay changed the row count: ${first.total} → ${replayed.total}`);

    results.push(
      await timed(
        'groupFetchAllParticipating snapshot',
        async () => {
          const rows = await storedRows(db, batched);
          return rows.groups + rows.members;
        },
        async () => {
          await ingestor.ingestGroups(batched, groups);
        },
      ),
    );
    handle.detach();

    const baseline = (await admin.createSession(org.id, 'per-row')).id;
    if (!args['no-baseline']) {
      results.push(
        await timed(
          'history sync, per-row upserts (baseline)',
          async () => (await storedRows(db, baseline)).total,
          () => perRowIngest(db, baseline, history, Date.now()),
        ),
      );
      const base = await storedRows(db, baseline);
      if (base.total !== first.total) log(`    note: baseline stored ${base.total} rows, batched ${first.total}`);
    }

    const headline = results[0]!;
    const rate = headline.rows / headline.seconds;
    log('');
    log(
      `RESULT batched history sync (median of ${syncs.length}): ${headline.rows.toLocaleString('en')} rows, wall ${headline.seconds.toFixed(2)} s, ${Math.round(rate).toLocaleString('en')} rows/s (target ≥ ${TARGET_ROWS_PER_S.toLocaleString('en')}: ${rate >= TARGET_ROWS_PER_S ? 'met' : 'NOT met'})`,
    );
    log(`RESULT batched runs: ${syncs.map((m) => `${m.seconds.toFixed(2)} s`).join(', ')}`);
    const base = results.find((r) => r.phase.includes('baseline'));
    if (base) {
      log(
        `RESULT per-row baseline:      ${base.rows.toLocaleString('en')} rows, wall ${base.seconds.toFixed(2)} s, ${Math.round(base.rows / base.seconds).toLocaleString('en')} rows/s`,
      );
      log(`RESULT speed-up: ${(base.seconds / headline.seconds).toFixed(1)}×`);
    }
    log(JSON.stringify({ shape, chunk: Number(args.chunk), load: os.loadavg(), syncs, results }));
    const met = rate >= TARGET_ROWS_PER_S;
    log(
      met
        ? 'all targets met'
        : `MISSED 1 target: ${Math.round(rate).toLocaleString('en')} rows/s < ${TARGET_ROWS_PER_S.toLocaleString('en')}`,
    );
    return met;
  } finally {
    await db.destroy();
  }
}

// A missed target fails the run (exit 1), like a crash, so a script or CI running the bench notices.
main().then(
  (met) => {
    if (!met) process.exitCode = 1;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
