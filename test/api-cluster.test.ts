import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { testEnv } from './support/hooks.js';
import { waitFor } from './support/processes.js';
import type { RunningApi } from './support/test-env.js';

/** The api processes a cluster primary runs: its child processes. */
function childPids(pid: number): number[] {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return text === '' ? [] : text.split(/\s+/).map(Number);
}

/** A GET on a connection of its own, so the primary hands each to the next process in turn. */
function getOnNewConnection(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

async function healthzCount(baseUrl: string): Promise<number> {
  const res = await fetch(`${baseUrl}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  return [...text.matchAll(/^wag_http_request_duration_seconds_count\{[^}]*route="\/healthz"[^}]*\} (\d+)$/gm)].reduce(
    (sum, m) => sum + Number(m[1]),
    0,
  );
}

describe('API_PROCESSES=2', function () {
  this.timeout(60_000);
  let api: RunningApi;
  let primary: number;

  before(async () => {
    api = await testEnv.startApi({ API_PROCESSES: '2' }, 'api-cluster');
    primary = api.process.child.pid!;
    await waitFor(async () => childPids(primary).length === 2, 'two api processes');
  });

  it('serves one port from two api processes under a primary', async () => {
    const statuses = await Promise.all(Array.from({ length: 10 }, () => getOnNewConnection(`${api.baseUrl}/healthz`)));
    assert.deepEqual(statuses, new Array(10).fill(200));
    assert.equal(childPids(primary).length, 2);
  });

  it('answers GET /metrics with the requests of every process, whichever process is asked', async () => {
    const before = await healthzCount(api.baseUrl);
    for (let i = 0; i < 20; i++) assert.equal(await getOnNewConnection(`${api.baseUrl}/healthz`), 200);
    // Round-robin put about half of them on each process; a per-process answer would count ~10.
    for (let scrape = 0; scrape < 3; scrape++) assert.equal(await healthzCount(api.baseUrl), before + 20);
  });

  it('replaces an api process that dies, and keeps serving meanwhile', async () => {
    const [victim, survivor] = childPids(primary) as [number, number];
    process.kill(victim, 'SIGKILL');
    await waitFor(async () => {
      const now = childPids(primary);
      return now.length === 2 && !now.includes(victim) && now.includes(survivor);
    }, 'a replacement api process');
    await waitFor(
      async () =>
        (await Promise.all(Array.from({ length: 4 }, () => getOnNewConnection(`${api.baseUrl}/readyz`)))).every(
          (s) => s === 200,
        ),
      'every process ready',
    );
  });

  it('stops every api process on SIGTERM and exits 0', async () => {
    const children = childPids(primary);
    assert.equal(await api.process.stop('SIGTERM', 20_000), 0);
    for (const pid of children)
      assert.ok(
        !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z'),
        `api process ${pid} still running`,
      );
  });
});
