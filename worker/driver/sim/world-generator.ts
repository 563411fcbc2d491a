/**
 * Generates large sim worlds for benchmarks: N gateway sessions, each with its own account, an
 * address book and direct chats drawn from a shared pool of people, and a few groups. The same
 * options and seed always give the same file.
 */
import { writeFile } from 'node:fs/promises';
import { parseSimWorld, type SimWorld, type SimWorldInput } from './world.js';
import { seededRandom } from '../../../shared/seeded-random.js';

export interface SimWorldGeneratorOptions {
  sessions: number;
  /** Address-book entries per session. */
  peoplePerSession?: number;
  /** Share of each address book that also has a direct chat (0..1). */
  chatShare?: number;
  /** Size of the pool people are drawn from (default: sessions × peoplePerSession ÷ 4, at least peoplePerSession). */
  people?: number;
  groupsPerSession?: number;
  membersPerGroup?: number;
  /** Session ids to use, in order (default `sess_sim<index>`); lets a bench match sessions it created. */
  sessionIds?: string[];
  paired?: boolean;
  latencyMs?: SimWorldInput['latencyMs'];
  failureRate?: number;
  seed?: number;
  /** First digits of every generated phone number. */
  countryCode?: string;
}

const FIRST = [
  'Ayu',
  'Budi',
  'Citra',
  'Dewi',
  'Eko',
  'Fajar',
  'Gita',
  'Hadi',
  'Indah',
  'Joko',
  'Kartika',
  'Lina',
  'Made',
  'Nur',
  'Oki',
  'Putri',
  'Rizky',
  'Sari',
  'Tono',
  'Wulan',
  'Ana',
  'Ben',
  'Chloe',
  'Dan',
  'Emma',
  'Finn',
  'Hana',
  'Ivan',
  'Jana',
  'Lea',
];
const LAST = [
  'Santoso',
  'Wijaya',
  'Pratama',
  'Lestari',
  'Hidayat',
  'Kusuma',
  'Saputra',
  'Rahman',
  'Müller',
  'Schmidt',
  'Rossi',
  'García',
  'Silva',
  'Nguyen',
  'Kim',
  'Tanaka',
];
const ABOUT = [
  'Hey there! I am using WhatsApp.',
  'Available',
  'Busy',
  'At work',
  'Urgent calls only',
  'Sleeping',
  '🌴 on holiday',
  'Battery about to die',
];
const TOPICS = [
  'Family',
  'Climbers',
  'Book club',
  'Office',
  'Neighbours',
  'Football',
  'Alumni 2012',
  'Parents',
  'Runners',
  'Chess',
];

export function generateSimWorld(options: SimWorldGeneratorOptions): SimWorld {
  const sessions = options.sessions;
  const perSession = options.peoplePerSession ?? 50;
  const pool = Math.max(options.people ?? Math.ceil((sessions * perSession) / 4), perSession, 1);
  const groupsPerSession = options.groupsPerSession ?? 3;
  const membersPerGroup = Math.min(options.membersPerGroup ?? 20, pool + 1);
  const chatShare = options.chatShare ?? 0.3;
  const country = options.countryCode ?? '62';
  const random = seededRandom(options.seed ?? 1);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  if (options.sessionIds && options.sessionIds.length < sessions)
    throw new Error(`sessionIds has ${options.sessionIds.length} ids for ${sessions} sessions`);

  // Session accounts first, then the pool; index-derived numbers are unique by construction.
  const lidBase = 100_000_000_000_000 + Math.floor(random() * 1_000_000) * 1_000_000;
  const accounts: SimWorldInput['accounts'] = [];
  for (let i = 0; i < sessions + pool; i++) {
    const name = `${pick(FIRST)} ${pick(LAST)}`;
    const about = random();
    const picture = random();
    accounts.push({
      phone: `${country}8${String(i).padStart(9, '0')}`,
      lid: `${lidBase + i * 7}@lid`,
      name,
      about: about < 0.1 ? null : pick(ABOUT),
      aboutHidden: about > 0.9,
      picture: picture < 0.2 ? null : { url: `https://pps.sim.invalid/v/${i}.jpg`, id: String(1_700_000_000 + i) },
      pictureHidden: picture > 0.9,
      ...(random() < 0.05 ? { businessName: `${name.split(' ')[1]} Trading` } : {}),
    });
  }
  const poolAccount = (index: number) => accounts[sessions + index]!;
  const sample = (count: number) => {
    const chosen = new Set<number>();
    while (chosen.size < Math.min(count, pool)) chosen.add(Math.floor(random() * pool));
    return [...chosen];
  };

  const groups: SimWorldInput['groups'] = [];
  const worldSessions: NonNullable<SimWorldInput['sessions']> = {};
  for (let s = 0; s < sessions; s++) {
    const own = accounts[s]!;
    const known = sample(perSession);
    worldSessions[options.sessionIds?.[s] ?? `sess_sim${String(s).padStart(5, '0')}`] = {
      phone: own.phone,
      paired: options.paired ?? true,
      contacts: known.map((p) => poolAccount(p).phone),
      chats: known
        .filter(() => random() < chatShare)
        .map((p) => (random() < 0.5 ? poolAccount(p).phone : poolAccount(p).lid)),
    };
    for (let g = 0; g < groupsPerSession; g++) {
      const members = sample(membersPerGroup - 1).map((p, index) => ({
        lid: poolAccount(p).lid,
        role: index === 0 ? ('admin' as const) : ('member' as const),
        ...(random() < 0.2 ? { nickname: pick(FIRST) } : {}),
      }));
      groups.push({
        jid: `1203630${String(s * groupsPerSession + g).padStart(11, '0')}@g.us`,
        subject: `${pick(TOPICS)} ${s}-${g}`,
        creation: 1_600_000_000 + s * 100 + g,
        members: [{ phone: own.phone, role: 'superadmin' }, ...members],
      });
    }
  }

  return parseSimWorld(
    {
      latencyMs: options.latencyMs ?? 0,
      failureRate: options.failureRate ?? 0,
      accounts,
      groups,
      sessions: worldSessions,
    },
    'generated world',
  );
}

export async function writeSimWorld(path: string, world: SimWorld): Promise<void> {
  await writeFile(path, JSON.stringify(world));
}
