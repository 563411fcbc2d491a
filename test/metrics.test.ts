import assert from 'node:assert/strict';
import { Queue } from 'bullmq';
import { shardOf } from '../shared/shards.js';
import { assertError } from './support/assert-error.js';
import { newTenant, type Tenant } from './support/fixtures.js';
import { testEnv } from './support/hooks.js';
import { call, get } from './support/http.js';
import { freePort, waitFor, type GatewayProcess } from './support/processes.js';
import { newPhone, waitUntilOnline, writeSimWorld } from './support/sim-world.js';
import type { RunningApi } from './support/test-env.js';

const SHARDS = 16;
const uniq = () => Math.random().toString(36).slice(2, 10);

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format into samples (comments skipped). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels`. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

async function scrape(baseUrl = testEnv.api.baseUrl): Promise<{ text: string; samples: Sample[] }> {
  const res = await call('GET', '/metrics', { baseUrl });
  assert.equal(res.status, 200, res.text);
  return { text: res.text, samples: parseMetrics(res.text) };
}

describe('GET /metrics', function () {
  this.timeout(60_000);
  let tenant: Tenant;
  const contacts = (t: Tenant, rest = '') => `/api/v1/sessions/${t.sessionId}/contacts${rest}`;

  before(async () => {
    tenant = await newTenant({ sessionId: `sess_metrics_${uniq()}` });
  });

  it('serves the Prometheus text format without credentials when METRICS_TOKEN is unset', async () => {
    const res = await call('GET', '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    for (const family of [
      'wag_http_request_duration_seconds histogram',
      'wag_api_live_operation_seconds histogram',
      'wag_queue_jobs gauge',
      'process_cpu_seconds_total counter',
    ]) {
      assert.ok(res.text.includes(`# TYPE ${family}`), `missing ${family}`);
    }
  });

  describe('HTTP latency', () => {
    const route = '/api/v1/sessions/{session}/contacts';

    it('is labelled by method, route template and status, never by the raw URL', async () => {
      const before = (await scrape()).samples;
      assert.equal((await get(contacts(tenant), tenant.tokens.read)).status, 200);
      assert.equal((await get(contacts(tenant, '/400000000000001@lid'), tenant.tokens.read)).status, 404);
      const { text, samples } = await scrape();
      const count = (labels: Record<string, string>) =>
        valueOf(samples, 'wag_http_request_duration_seconds_count', labels) -
        valueOf(before, 'wag_http_request_duration_seconds_count', labels);
      assert.equal(count({ method: 'GET', route, status: '200' }), 1);
      assert.equal(count({ method: 'GET', route: '/api/v1/sessions/{session}/contacts/{lid}', status: '404' }), 1);
      assert.ok(!text.includes(tenant.sessionId), 'a session id leaked into a label');
      assert.ok(!text.includes('400000000000001'), 'a contact id leaked into a label');
    });

    it('labels requests refused before routing (401) with the route they aimed at', async () => {
      const labels = { method: 'GET', route, status: '401' };
      const before = valueOf((await scrape()).samples, 'wag_http_request_duration_seconds_count', labels);
      assert.equal((await get(contacts(tenant))).status, 401);
      assert.equal(valueOf((await scrape()).samples, 'wag_http_request_duration_seconds_count', labels) - before, 1);
    });

    it('labels a path no route serves as "unmatched"', async () => {
      const junk = `/no-such-${uniq()}`;
      const labels = { method: 'GET', route: 'unmatched', status: '404' };
      const before = valueOf((await scrape()).samples, 'wag_http_request_duration_seconds_count', labels);
      assert.equal((await get(junk)).status, 404);
      const { text, samples } = await scrape();
      assert.equal(valueOf(samples, 'wag_http_request_duration_seconds_count', labels) - before, 1);
      assert.ok(!text.includes(junk));
    });
  });

  describe('queue depth', () => {
    it("reports waiting, active and delayed jobs of every shard's live and batch queue", async () => {
      const { samples } = await scrape();
      for (const queue of ['live', 'batch']) {
        for (let shard = 0; shard < SHARDS; shard++) {
          for (const state of ['waiting', 'active', 'delayed']) {
            assert.ok(
              samples.some(
                (s) =>
                  s.name === 'wag_queue_jobs' &&
                  s.labels['queue'] === queue &&
                  s.labels['shard'] === String(shard) &&
                  s.labels['state'] === state,
              ),
              `no ${queue} ${shard} ${state}`,
            );
          }
        }
      }
    });

    it('counts a job sitting in a shard queue, read again at most 5 s later', async () => {
      const shard = shardOf(tenant.sessionId, SHARDS);
      const queue = new Queue('live', { prefix: testEnv.keys.liveQueuePrefix(shard), connection: testEnv.redis });
      const labels = { queue: 'live', shard: String(shard), state: 'delayed' };
      const depth = async () => valueOf((await scrape()).samples, 'wag_queue_jobs', labels);
      try {
        const before = await depth();
        // Delayed by an hour: no worker of this run would pick it up before it is removed.
        const job = await queue.add('contacts.check', { probe: true }, { delay: 3_600_000 });
        await waitFor(async () => (await depth()) === before + 1, 'the scrape to count the job', 10_000, 250);
        await job.remove();
        await waitFor(async () => (await depth()) === before, 'the scrape to stop counting the job', 10_000, 250);
      } finally {
        await queue.close();
      }
    });
  });

  describe('live operations as the api sees them, and the worker metrics', () => {
    const self = { phone: newPhone(), name: 'Gateway account' };
    const friend = { phone: newPhone(), name: 'Friend' };
    let online: Tenant;
    let worker: GatewayProcess;
    let workerMetricsUrl: string;

    before(async () => {
      online = await newTenant({ sessionId: `sess_metrics_live_${uniq()}` });
      const world = writeSimWorld(`metrics-${uniq()}`, {
        accounts: [self, friend].map((a) => ({ ...a, lid: `9${a.phone}@lid` })),
        sessions: { [online.sessionId]: { phone: self.phone, paired: true } },
      });
      const port = await freePort();
      workerMetricsUrl = `http://127.0.0.1:${port}/metrics`;
      worker = testEnv.startWorker(world, { WORKER_METRICS_PORT: String(port) }, `metrics-w-${uniq()}`);
      await waitUntilOnline([online.sessionId]);
    });

    after(async () => {
      await worker?.stop();
    });

    it('records latency and outcome by operation: ok, and the error code otherwise', async () => {
      const name = 'wag_api_live_operation_seconds_count';
      const before = (await scrape()).samples;
      assert.equal((await get(contacts(online, `/check?phone=${friend.phone}`), online.tokens.read)).status, 200);
      assert.equal((await get(contacts(tenant, `/check?phone=${friend.phone}`), tenant.tokens.read)).status, 501);
      const after = (await scrape()).samples;
      const delta = (labels: Record<string, string>) => valueOf(after, name, labels) - valueOf(before, name, labels);
      assert.equal(delta({ op: 'contacts.check', outcome: 'ok' }), 1);
      assert.equal(delta({ op: 'contacts.check', outcome: 'not_implemented' }), 1);
    });

    it("leaves sessions online and batch throughput to each worker's own /metrics", async () => {
      const samples = await waitFor(async () => {
        const res = await fetch(workerMetricsUrl);
        return res.status === 200 ? parseMetrics(await res.text()) : undefined;
      }, 'the worker metrics');
      assert.ok(valueOf(samples, 'wag_sessions_online') >= 1, 'the session this worker holds is online');
      assert.ok(
        samples.some((s) => s.name === 'wag_batch_numbers_checked_total'),
        'wag_batch_numbers_checked_total is not exported',
      );
      assert.ok(
        !(await scrape()).samples.some((s) => s.name === 'wag_sessions_online'),
        'the api must not count sessions online by scanning Redis',
      );
    });
  });

  describe('with METRICS_TOKEN set', () => {
    const token = `metrics-${uniq()}-${uniq()}`;
    let api: RunningApi;

    before(async () => {
      api = await testEnv.startApi({ METRICS_TOKEN: token }, `api-metrics-${uniq()}`);
    });

    after(async () => {
      await api?.process.stop();
    });

    it('answers 401 unauthorized without the token or with another one', async () => {
      assertError(await call('GET', '/metrics', { baseUrl: api.baseUrl }), 401, 'unauthorized');
      assertError(await call('GET', '/metrics', { baseUrl: api.baseUrl, token: `${token}x` }), 401, 'unauthorized');
      assertError(
        await call('GET', '/metrics', { baseUrl: api.baseUrl, token: tenant.tokens.manage }),
        401,
        'unauthorized',
      );
    });

    it('serves the metrics to a scraper presenting it as a Bearer token', async () => {
      const res = await call('GET', '/metrics', { baseUrl: api.baseUrl, token });
      assert.equal(res.status, 200);
      assert.ok(res.text.includes('# TYPE wag_http_request_duration_seconds histogram'));
    });
  });
});
