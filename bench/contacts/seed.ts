import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createConnection, type Connection } from 'mysql2/promise';
import { createDataSource, ensureDatabase } from '../../shared/db/data-source.js';
import { applyNameChanges } from '../../shared/search/contact-name-grams.js';
import { businessName, lidFor, personName, phoneNumber, pick, prng, type Random } from './people.js';

/** The shape of the benchmark data set. Changing it means a --reseed. */
export const DATASET = {
  contacts: 1_000_000,
  bigSessionContacts: 200_000,
  otherSessions: 200,
  groups: 2_000,
  bigSessionGroups: 1_000,
  groupSize: 100,
  dmShare: 0.3,
  seed: 20_240_601,
} as const;

export const BENCH_ORG = 'org_bench';
export const BIG_SESSION = 'sess_bench_big';
export const otherSessionId = (i: number) => `sess_bench_s${String(i).padStart(3, '0')}`;
export const DEFAULT_BENCH_DATABASE_URL = 'mysql://root@127.0.0.1:3306/wag_bench';

const CONTACTS_PER_INSERT = 5_000;
const PARALLEL_INSERTS = 2;
const YEAR_MS = 365 * 24 * 3600 * 1000;
const SEEDED_AT = Date.UTC(2025, 0, 1);

export interface SeedOptions {
  databaseUrl: string;
  reseed: boolean;
  log: (line: string) => void;
}

export interface SeedReport {
  reused: boolean;
  seconds: number;
}

/** Reuses a complete bench database; otherwise (or with reseed) drops it and seeds it anew. */
export async function ensureSeeded(options: SeedOptions): Promise<SeedReport> {
  const started = Date.now();
  await ensureDatabase(options.databaseUrl);
  await migrate(options.databaseUrl);
  const conn = await connect(options.databaseUrl);
  try {
    if (!options.reseed && (await isComplete(conn))) {
      options.log('bench database is complete: reusing it (pass --reseed to rebuild)');
      return { reused: true, seconds: (Date.now() - started) / 1000 };
    }
  } finally {
    await conn.end();
  }
  options.log('seeding the bench database from scratch');
  await dropDatabase(options.databaseUrl);
  await ensureDatabase(options.databaseUrl);
  await migrate(options.databaseUrl);
  await seed(options.databaseUrl, options.log);
  const seconds = (Date.now() - started) / 1000;
  options.log(`seeded in ${seconds.toFixed(1)} s`);
  return { reused: false, seconds };
}

async function migrate(url: string): Promise<void> {
  const db = createDataSource({ url, poolSize: 2, connectTimeoutMs: 5000 });
  await db.initialize();
  try {
    await db.runMigrations({ transaction: 'each' });
  } finally {
    await db.destroy();
  }
}

export function connect(url: string): Promise<Connection> {
  return createConnection({ uri: url, charset: 'UTF8MB4_UNICODE_520_CI', supportBigNumbers: true });
}

async function dropDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.replace(/^\//, '');
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`bad database name ${name}`);
  const server = new URL(url);
  server.pathname = '/';
  const conn = await connect(server.toString());
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await conn.end();
  }
}

async function count(conn: Connection, sql: string): Promise<number> {
  const [rows] = await conn.query(sql);
  return Number((rows as { n: number | string }[])[0]!.n);
}

async function isComplete(conn: Connection): Promise<boolean> {
  const sessions = await count(conn, `SELECT COUNT(*) AS n FROM wa_sessions WHERE organization_id = '${BENCH_ORG}'`);
  if (sessions !== DATASET.otherSessions + 1) return false;
  const checks: [string, number][] = [
    [`SELECT COUNT(*) AS n FROM contacts`, DATASET.contacts],
    [`SELECT COUNT(*) AS n FROM contacts WHERE session_id = '${BIG_SESSION}'`, DATASET.bigSessionContacts],
    [`SELECT COUNT(*) AS n FROM wa_groups`, DATASET.groups],
    [`SELECT COUNT(*) AS n FROM wa_groups WHERE session_id = '${BIG_SESSION}'`, DATASET.bigSessionGroups],
    [`SELECT COUNT(*) AS n FROM group_members`, DATASET.groups * DATASET.groupSize],
  ];
  for (const [sql, expected] of checks) if ((await count(conn, sql)) !== expected) return false;
  // A seed interrupted during the trigrams leaves a session without them.
  const indexed = await count(
    conn,
    `SELECT COUNT(DISTINCT contact_id) AS n FROM contact_name_grams WHERE session_id = '${BIG_SESSION}' AND gram = 'ari'`,
  );
  return (
    indexed ===
    (await count(conn, `SELECT COUNT(*) AS n FROM contacts WHERE session_id = '${BIG_SESSION}' AND name LIKE '%ari%'`))
  );
}

/** Contacts per session: the big one, then the others with uneven (0.5×–1.5×) shares of the rest. */
function sessionSizes(rand: Random): number[] {
  const rest = DATASET.contacts - DATASET.bigSessionContacts;
  const weights = Array.from({ length: DATASET.otherSessions }, () => 0.5 + rand());
  const total = weights.reduce((a, b) => a + b, 0);
  const sizes = weights.map((w) => Math.floor((w / total) * rest));
  sizes[0]! += rest - sizes.reduce((a, b) => a + b, 0);
  return [DATASET.bigSessionContacts, ...sizes];
}

/**
 * Which session each contact id belongs to, shuffled: ingestion interleaves sessions, so one
 * session's rows are spread over the whole table as in production, not packed together.
 */
function interleavedOwners(rand: Random, sizes: number[]): Uint8Array {
  const owners = new Uint8Array(DATASET.contacts);
  let at = 0;
  sizes.forEach((size, session) => owners.fill(session, at, (at += size)));
  for (let i = owners.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = owners[i]!;
    owners[i] = owners[j]!;
    owners[j] = t;
  }
  return owners;
}

async function seed(url: string, log: (line: string) => void): Promise<void> {
  const rand = prng(DATASET.seed);
  const sizes = sessionSizes(rand);
  const sessionIds = [BIG_SESSION, ...Array.from({ length: DATASET.otherSessions }, (_, i) => otherSessionId(i + 1))];
  const owners = interleavedOwners(rand, sizes);
  const conns = await Promise.all(Array.from({ length: PARALLEL_INSERTS }, () => connect(url)));
  try {
    for (const conn of conns) await conn.query('SET SESSION unique_checks = 0, foreign_key_checks = 0');
    const [main] = conns as [Connection];
    await main.query('INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?)', [
      BENCH_ORG,
      'Benchmark organization',
      SEEDED_AT,
    ]);
    await main.query('INSERT INTO wa_sessions (id, organization_id, name, status, created_at, updated_at) VALUES ?', [
      sessionIds.map((id, i) => [
        id,
        BENCH_ORG,
        i === 0 ? 'big session (200k contacts)' : `session ${i}`,
        'offline',
        SEEDED_AT,
        SEEDED_AT,
      ]),
    ]);

    const membersOf: number[][] = sessionIds.map(() => []);
    const names: (string | null)[] = [];
    const inFlight = new Set<Promise<unknown>>();
    const loadStarted = Date.now();
    for (let start = 1; start <= DATASET.contacts; start += CONTACTS_PER_INSERT) {
      const rows: unknown[][] = [];
      for (let id = start; id < start + CONTACTS_PER_INSERT && id <= DATASET.contacts; id++) {
        const session = owners[id - 1]!;
        membersOf[session]!.push(id);
        const name = personName(rand);
        names[id] = name;
        const phone = rand() < 0.9 ? phoneNumber(rand, id) : null;
        const firstSeen = SEEDED_AT - Math.floor(rand() * 2 * YEAR_MS);
        rows.push([
          id,
          sessionIds[session],
          lidFor(id),
          phone ? `${phone}@s.whatsapp.net` : null,
          phone,
          name,
          businessName(rand, name),
          rand() < DATASET.dmShare ? 1 : 0,
          firstSeen,
          firstSeen + Math.floor(rand() * (SEEDED_AT - firstSeen)),
        ]);
      }
      if (inFlight.size >= PARALLEL_INSERTS) await Promise.race(inFlight);
      const conn = conns[((start / CONTACTS_PER_INSERT) % PARALLEL_INSERTS) | 0]!;
      const insert = conn
        .query(
          'INSERT INTO contacts (id, session_id, lid, phone_jid, phone_number, name, business_name, dm, first_seen_at, updated_at) VALUES ?',
          [rows],
        )
        .finally(() => inFlight.delete(insert));
      inFlight.add(insert);
      if ((start - 1) % 200_000 === 0 && start > 1)
        log(`  contacts: ${start - 1} (${((Date.now() - loadStarted) / 1000).toFixed(1)} s)`);
    }
    await Promise.all(inFlight);
    log(`  contacts: ${DATASET.contacts} (${((Date.now() - loadStarted) / 1000).toFixed(1)} s)`);

    await seedNameGrams(conns, sessionIds, membersOf, names);
    log(`  name trigrams (${((Date.now() - loadStarted) / 1000).toFixed(1)} s)`);

    await seedGroups(conns, rand, sessionIds, membersOf);
    log(
      `  groups: ${DATASET.groups} × ${DATASET.groupSize} members (${((Date.now() - loadStarted) / 1000).toFixed(1)} s)`,
    );
    for (const conn of conns) await conn.query('SET SESSION unique_checks = 1, foreign_key_checks = 1');
    await main.query('ANALYZE TABLE contacts, group_members, wa_groups, contact_name_grams');
  } finally {
    await Promise.all(conns.map((c) => c.end()));
  }
}

/**
 * The trigram index ingestion keeps, written by the same code (shared/search), sessions spread
 * over the connections so that each statement appends to one session's part of the index.
 */
async function seedNameGrams(
  conns: Connection[],
  sessionIds: string[],
  membersOf: number[][],
  names: (string | null)[],
): Promise<void> {
  const sessions = sessionIds.map((id, index) => ({ id, index })).sort((a, b) => (a.id < b.id ? -1 : 1));
  await Promise.all(
    conns.map(async (conn, lane) => {
      for (const { id, index } of sessions.filter((_, i) => i % conns.length === lane)) {
        const changes = membersOf[index]!.map((contactId) => ({
          contactId,
          before: null,
          after: names[contactId] ?? null,
        }));
        await applyNameChanges((sql, params) => conn.query(sql, params), id, changes);
      }
    }),
  );
}

const GROUP_SUBJECTS = [
  'Keluarga Besar',
  'Alumni SMA',
  'Arisan Ibu-Ibu',
  'RT 05 / RW 02',
  'Team Jakarta ⚽',
  'Jual Beli',
  'Family',
  'Office',
  'Семья',
  'Работа',
  'العائلة',
  'परिवार',
  '家族群',
  'Futsal Kamis',
  'Pengajian',
  'Project Alpha',
];
const TAGS = ['Mas', 'Mbak', 'Pak', 'Bu', 'Bro', 'Sis', 'Boss', 'Admin Toko', 'Koordinator', 'Bendahara'];

/** Groups of 100 distinct members of their session: 1,000 in the big session, 5 in every other. */
async function seedGroups(
  conns: Connection[],
  rand: Random,
  sessionIds: string[],
  membersOf: number[][],
): Promise<void> {
  const perOther = (DATASET.groups - DATASET.bigSessionGroups) / DATASET.otherSessions;
  const groups: unknown[][] = [];
  const members: unknown[][] = [];
  let serial = 0;
  sessionIds.forEach((sessionId, session) => {
    const pool = membersOf[session]!;
    const groupCount = session === 0 ? DATASET.bigSessionGroups : perOther;
    for (let g = 0; g < groupCount; g++) {
      serial++;
      const jid = `120363${String(100_000_000_000 + serial * 7_919)}@g.us`;
      groups.push([sessionId, jid, `${pick(rand, GROUP_SUBJECTS)} ${serial}`, SEEDED_AT]);
      const chosen = new Set<number>();
      while (chosen.size < DATASET.groupSize) chosen.add(pool[Math.floor(rand() * pool.length)]!);
      [...chosen]
        .sort((a, b) => a - b)
        .forEach((contactId, i) => {
          const role = i === 0 ? 'superadmin' : rand() < 0.05 ? 'admin' : 'member';
          const tag = rand() < 0.2 ? pick(rand, TAGS) : null;
          members.push([sessionId, jid, contactId, tag, role, SEEDED_AT - Math.floor(rand() * YEAR_MS)]);
        });
    }
  });
  await conns[0]!.query('INSERT INTO wa_groups (session_id, jid, subject, updated_at) VALUES ?', [groups]);
  const chunks: unknown[][][] = [];
  for (let i = 0; i < members.length; i += CONTACTS_PER_INSERT) chunks.push(members.slice(i, i + CONTACTS_PER_INSERT));
  await Promise.all(
    conns.map(async (conn, c) => {
      for (let i = c; i < chunks.length; i += conns.length) {
        await conn.query(
          'INSERT INTO group_members (session_id, group_jid, contact_id, tag, role, last_seen) VALUES ?',
          [chunks[i]],
        );
      }
    }),
  );
}

export function benchDatabaseUrl(argv: string[]): string {
  const flag = argv.find((a) => a.startsWith('--db='));
  return flag ? flag.slice('--db='.length) : (process.env['BENCH_DATABASE_URL'] ?? DEFAULT_BENCH_DATABASE_URL);
}

const invokedDirectly =
  process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  const argv = process.argv.slice(2);
  await ensureSeeded({
    databaseUrl: benchDatabaseUrl(argv),
    reseed: argv.includes('--reseed'),
    log: (line) => console.log(line),
  });
}
