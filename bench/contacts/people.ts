import { seededRandom } from '../../shared/seeded-random.js';
/**
 * Deterministic fake people for the contacts benchmark: the same seed always produces the same
 * rows, so two bench runs on two machines query the same data.
 */

export const prng = seededRandom;

export type Random = () => number;

export const pick = <T>(rand: Random, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

interface Script {
  weight: number;
  first: readonly string[];
  last: readonly string[];
}

// Weighted roughly like a South-East-Asian / global user base; every script the API must handle.
const SCRIPTS: readonly Script[] = [
  {
    weight: 40,
    first: [
      'Budi',
      'Siti',
      'Agus',
      'Dewi',
      'Putri',
      'Rizky',
      'Andi',
      'Nur',
      'Muhammad',
      'Ahmad',
      'Sri',
      'Wahyu',
      'Indah',
      'Fitri',
      'Hendra',
      'Yuni',
      'Eko',
      'Ratna',
      'Bayu',
      'Lestari',
      'Fajar',
      'Maharani',
      'Dian',
      'Rina',
      'Joko',
      'Ayu',
      'Arief',
      'Nabila',
      'Yusuf',
      'Kartika',
    ],
    last: [
      'Santoso',
      'Wijaya',
      'Pratama',
      'Saputra',
      'Hidayat',
      'Kusuma',
      'Setiawan',
      'Nugroho',
      'Halim',
      'Siregar',
      'Nasution',
      'Simanjuntak',
      'Gunawan',
      'Susanto',
      'Rahman',
      'Hakim',
      'Wibowo',
      'Permana',
      'Utami',
      'Lubis',
    ],
  },
  {
    weight: 25,
    first: [
      'John',
      'Mary',
      'James',
      'Linda',
      'Michael',
      'Sarah',
      'David',
      'Emma',
      'Daniel',
      'Olivia',
      'José',
      'María',
      'Lucía',
      'João',
      'Conceição',
      'Jürgen',
      'Zoë',
      'François',
      'Chloé',
      'Søren',
      'Ángel',
      'Ines',
      'Stefan',
      'Anna',
      'Chris',
    ],
    last: [
      'Smith',
      'Johnson',
      'Brown',
      'García',
      'Martínez',
      'Müller',
      'Schröder',
      'Lefèvre',
      'Rossi',
      'Silva',
      'Gonçalves',
      'Nowak',
      'Kowalski',
      "O'Brien",
      'van der Berg',
      'Dubois',
      'Jensen',
      'Novák',
      'Hernández',
      'López',
    ],
  },
  {
    weight: 8,
    first: ['Александр', 'Дмитрий', 'Ольга', 'Наталья', 'Сергей', 'Екатерина', 'Иван', 'Мария', 'Андрей', 'Татьяна'],
    last: ['Иванов', 'Смирнова', 'Кузнецов', 'Попова', 'Соколов', 'Лебедева', 'Козлов', 'Новикова'],
  },
  {
    weight: 8,
    first: ['محمد', 'أحمد', 'فاطمة', 'علي', 'عائشة', 'يوسف', 'مريم', 'عمر', 'خديجة', 'حسن'],
    last: ['العلي', 'الحسن', 'المصري', 'الخطيب', 'النجار', 'الشامي'],
  },
  {
    weight: 6,
    first: ['राहुल', 'प्रिया', 'अमित', 'पूजा', 'विकास', 'नेहा', 'सुनील', 'अंजलि'],
    last: ['शर्मा', 'वर्मा', 'गुप्ता', 'सिंह', 'कुमार', 'पटेल'],
  },
  {
    weight: 6,
    first: ['伟', '娜', '敏', '静', '磊', '洋', '翔太', 'さくら', '민준', '서연'],
    last: ['王', '李', '张', '刘', '陈', '佐藤', '鈴木', '김', '이'],
  },
  {
    weight: 4,
    first: ['สมชาย', 'สมหญิง', 'Νίκος', 'Μαρία', 'דוד', 'שרה', 'Ayşe', 'Mehmet', 'Nguyễn Văn', 'Trần Thị'],
    last: ['ใจดี', 'Παπαδόπουλος', 'כהן', 'Yılmaz', 'Öztürk', 'Anh', 'Hương'],
  },
];
const SCRIPT_TOTAL = SCRIPTS.reduce((s, x) => s + x.weight, 0);

/**
 * Surnames that occur about once in RARE_ODDS names: the bench's "rare" q term is a fragment of
 * one of them, so it matches a handful of the big session's 200,000 contacts.
 */
export const RARE_SURNAMES = ['Oyelowo-Quispe', 'Wojciechowska', 'Þórsdóttir', 'Nakagawa-Ruiz'] as const;
const RARE_ODDS = 4_000;

const SUFFIXES = [' ❤️', ' 🙏', ' (kantor)', ' 2', ' Jr.', ' 🌸', ' ✨', ' (work)'];
const BUSINESS = ['Toko', 'Warung', 'Bengkel', 'Cafe', 'Studio', 'Laundry', 'Apotek', 'Salon', 'Shop', 'Trading'];

const COUNTRIES: readonly { code: string; weight: number; subscriberDigits: number; prefix: readonly string[] }[] = [
  { code: '62', weight: 50, subscriberDigits: 8, prefix: ['812', '813', '821', '852', '857', '878', '896'] },
  { code: '91', weight: 12, subscriberDigits: 7, prefix: ['981', '991', '701', '870'] },
  { code: '55', weight: 10, subscriberDigits: 8, prefix: ['119', '219', '319'] },
  { code: '1', weight: 8, subscriberDigits: 7, prefix: ['415', '212', '646', '305'] },
  { code: '44', weight: 6, subscriberDigits: 7, prefix: ['7700', '7911', '7400'] },
  { code: '234', weight: 6, subscriberDigits: 7, prefix: ['803', '806', '813'] },
  { code: '7', weight: 4, subscriberDigits: 7, prefix: ['916', '926', '903'] },
  { code: '49', weight: 4, subscriberDigits: 7, prefix: ['151', '160', '170'] },
];
const COUNTRY_TOTAL = COUNTRIES.reduce((s, x) => s + x.weight, 0);

function weighted<T extends { weight: number }>(rand: Random, items: readonly T[], total: number): T {
  let r = rand() * total;
  for (const item of items) {
    r -= item.weight;
    if (r < 0) return item;
  }
  return items[items.length - 1]!;
}

/** A display name as people save it: null (no push name) for some, mixed scripts, emoji, nicknames. */
export function personName(rand: Random): string | null {
  const roll = rand();
  if (roll < 0.08) return null;
  const script = weighted(rand, SCRIPTS, SCRIPT_TOTAL);
  const first = pick(rand, script.first);
  const last = rand() < 1 / RARE_ODDS ? pick(rand, RARE_SURNAMES) : pick(rand, script.last);
  let name = roll < 0.25 ? first : `${first} ${last}`;
  if (rand() < 0.06) name += pick(rand, SUFFIXES);
  if (rand() < 0.05) name = name.toLowerCase();
  return name;
}

export function businessName(rand: Random, name: string | null): string | null {
  if (rand() >= 0.04) return null;
  return `${pick(rand, BUSINESS)} ${name ?? pick(rand, SCRIPTS[0]!.last)}`;
}

/**
 * A phone number (digits, no +) unique for every `serial`: the subscriber part is the serial
 * scrambled by multiplication with a number coprime to the digit space, which is a bijection.
 */
export function phoneNumber(rand: Random, serial: number): string {
  const country = weighted(rand, COUNTRIES, COUNTRY_TOTAL);
  const space = 10 ** country.subscriberDigits;
  const scrambled = (serial * 7_368_787) % space;
  return `${country.code}${pick(rand, country.prefix)}${String(scrambled).padStart(country.subscriberDigits, '0')}`;
}

/** A 15-digit LID unique for every serial below 10^14. */
export function lidFor(serial: number): string {
  const scrambled = (BigInt(serial) * 982_451_653n) % 100_000_000_000_000n;
  return `${100_000_000_000_000n + scrambled}@lid`;
}
