/**
 * Writes a generated sim world file for benchmarks and demos:
 *   node dist/worker/driver/sim/generate-world-cli.js --sessions 1000 --people-per-session 50 --out .run/sim-world.json
 */
import { parseArgs } from 'node:util';
import { generateSimWorld, writeSimWorld } from './world-generator.js';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '1000' },
    'people-per-session': { type: 'string', default: '50' },
    people: { type: 'string' },
    'groups-per-session': { type: 'string', default: '3' },
    'members-per-group': { type: 'string', default: '20' },
    'latency-ms': { type: 'string', default: '0' },
    'failure-rate': { type: 'string', default: '0' },
    unpaired: { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
    out: { type: 'string' },
  },
});

function int(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a non-negative number, got "${raw}"`);
  return value;
}

if (!values.out) {
  process.stderr.write(
    'usage: generate-world-cli --out <file.json> [--sessions N] [--people-per-session N] [--seed N] …\n',
  );
  process.exit(2);
}

const people = int('people', values.people);
const world = generateSimWorld({
  sessions: int('sessions', values.sessions)!,
  peoplePerSession: int('people-per-session', values['people-per-session'])!,
  ...(people === undefined ? {} : { people }),
  groupsPerSession: int('groups-per-session', values['groups-per-session'])!,
  membersPerGroup: int('members-per-group', values['members-per-group'])!,
  latencyMs: int('latency-ms', values['latency-ms'])!,
  failureRate: int('failure-rate', values['failure-rate'])!,
  paired: !values.unpaired,
  seed: int('seed', values.seed)!,
});
await writeSimWorld(values.out, world);
process.stdout.write(
  `wrote ${values.out}: ${Object.keys(world.sessions).length} sessions, ${world.accounts.length} accounts, ${world.groups.length} groups\n`,
);
