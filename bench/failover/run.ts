/**
 * Worker failover benchmark (issue 18): one api and two sim workers, 4 online sessions, a steady
 * 40 live calls a second spread over them; one worker is killed with SIGKILL mid-load. Prints the
 * answers by status, the longest wait, when the survivor held every shard and when every session
 * was online on it again. Exits 1 when a caller waited more than 3 s or the takeover took longer.
 *   npm run bench:failover [-- --rate 40 --sessions 4 --before 5 --after 10]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { LiveBenchCluster } from '../live/cluster.js';
import { waitFor } from '../../test/support/processes.js';

const { values: args } = parseArgs({
  options: {
    db: {
      type: 'string',
      default: process.env['BENCH_FAILOVER_DATABASE_URL'] ?? 'mysql://root@127.0.0.1:3306/wag_bench_failover',
    },
    redis: { type: 'string', default: process.env['BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379' },
    sessions: { type: 'string', default: '4' },
    rate: { type: 'string', default: '40' },
    /** Seconds of load before the kill, and after it. */
    before: { type: 'string', default: '5' },
    after: { type: 'string', default: '10' },
  },
});

const TARGET_MS = { longestWait: 3_000, takeover: 3_000 };
const TIME_BUDGET_MS = 4 * 60_000;
const log = (line: string) => console.log(line);

interface Answer {
  status: number;
  startedAt: number;
  ms: number;
}

async function main(): Promise<number> {
  const rate = Number(args.rate);
  log(
    `worker failover benchmark — ${os.cpus().length} CPU, node ${process.version}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const cluster = new LiveBenchCluster({
    databaseUrl: args.db,
    redisUrl: args.redis,
    sessions: Number(args.sessions),
    workers: 2,
    shardCount: 16,
    extraEnv: {},
    cpuProfileDir: undefined,
    log,
  });
  const overrun = setTimeout(() => {
    log(`the bench overran its ${TIME_BUDGET_MS / 60_000} min budget: killing its processes`);
    cluster.kill();
    process.exit(2);
  }, TIME_BUDGET_MS);
  try {
    await cluster.prepare();
    await cluster.start();
    log('started 1 api + 2 workers with the default LEASE_TTL_MS and LIVE_TIMEOUT_MS; waiting for sessions:');
    await cluster.waitUntilSettled(120_000);

    const jids = cluster.targetJids();
    const answers: Answer[] = [];
    const inFlight = new Set<Promise<void>>();
    let n = 0;
    const one = () => {
      const i = n++;
      const path = `/api/v1/sessions/${cluster.sessionIds[i % cluster.sessionIds.length]!}/contacts/${jids[i % jids.length]!}/about`;
      const startedAt = Date.now();
      const request = fetch(`${cluster.baseUrl}${path}`, { headers: { authorization: `Bearer ${cluster.token}` } })
        .then(async (res) => {
          await res.arrayBuffer();
          answers.push({ status: res.status, startedAt, ms: Date.now() - startedAt });
        })
        .catch(() => {
          answers.push({ status: 0, startedAt, ms: Date.now() - startedAt });
        })
        .finally(() => inFlight.delete(request));
      inFlight.add(request);
    };
    const pacer = setInterval(one, 1000 / rate);
    log(
      `load: ${rate} GET …/contacts/{jid}/about a second over ${cluster.sessionIds.length} sessions, evenly spaced; ${args.before} s before the kill, ${args.after} s after`,
    );
    await new Promise((resolve) => setTimeout(resolve, Number(args.before) * 1000));

    const victim = cluster.workers[1]!;
    const survivor = cluster.workers[0]!;
    const killedAt = Date.now();
    victim.process.child.kill('SIGKILL');
    log(`killed ${victim.id} (SIGKILL)`);
    await waitFor(
      async () => (await cluster.leasesByWorker()).get(survivor.id) === 16,
      'the survivor to hold every shard',
      30_000,
      50,
    );
    const takeoverMs = Date.now() - killedAt;
    await waitFor(
      async () => (await cluster.presenceByWorker()).get(survivor.id) === cluster.sessionIds.length,
      'every session online on the survivor',
      30_000,
      50,
    );
    const onlineMs = Date.now() - killedAt;
    const loadEnds = killedAt + Number(args.after) * 1000;
    if (Date.now() < loadEnds) await new Promise((resolve) => setTimeout(resolve, loadEnds - Date.now()));
    clearInterval(pacer);
    await Promise.all([...inFlight]);

    const byStatus = new Map<number, number>();
    for (const a of answers) byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1);
    const longest = Math.max(...answers.map((a) => a.ms));
    const after = answers.filter((a) => a.startedAt >= killedAt - 3_000);
    const slow = answers.filter((a) => a.ms > 1_000).length;
    log('');
    log(
      `answers: ${answers.length} (${[...byStatus]
        .sort(([a], [b]) => a - b)
        .map(([s, c]) => `${s || 'no answer'}: ${c}`)
        .join(', ')})`,
    );
    log(
      `longest wait: ${longest} ms (target ≤ ${TARGET_MS.longestWait}); answers over 1 s: ${slow}; answers around the kill (from 3 s before): ${after.length}, longest ${Math.max(0, ...after.map((a) => a.ms))} ms`,
    );
    log(`takeover (survivor holds every shard): ${takeoverMs} ms after the kill (target ≤ ${TARGET_MS.takeover})`);
    log(`every session online again on the survivor: ${onlineMs} ms after the kill`);
    const missed = [
      ...(longest > TARGET_MS.longestWait ? [`a caller waited ${longest} ms`] : []),
      ...(takeoverMs > TARGET_MS.takeover ? [`the takeover took ${takeoverMs} ms`] : []),
      ...((byStatus.get(504) ?? 0) > 0 ? [`${byStatus.get(504)} answers were 504`] : []),
      ...((byStatus.get(0) ?? 0) > 0 ? [`${byStatus.get(0)} requests got no answer`] : []),
    ];
    log(missed.length === 0 ? 'targets met' : `targets missed: ${missed.join('; ')}`);
    return missed.length === 0 ? 0 : 1;
  } finally {
    clearTimeout(overrun);
    await cluster.stop(false).catch((err: Error) => log(`clean-up failed: ${err.message}`));
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
