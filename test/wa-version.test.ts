import assert from 'node:assert/strict';
import { DEFAULT_CONNECTION_CONFIG, type WAVersion } from '@whiskeysockets/baileys';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../shared/config.js';
import { fetchFromWhatsAppWeb, WaVersionSource, type VersionFetcher } from '../worker/driver/baileys/wa-version.js';

const silent = pino({ level: 'silent' });
const bundled = DEFAULT_CONNECTION_CONFIG.version.join('.');

function source(options: {
  configured?: WAVersion;
  fetch?: boolean;
  fetcher: VersionFetcher;
  timeoutMs?: number;
  refetchIntervalMs?: number;
}) {
  return new WaVersionSource({
    configured: options.configured,
    fetch: options.fetch ?? true,
    fetchTimeoutMs: options.timeoutMs ?? 1_000,
    fetcher: options.fetcher,
    logger: silent,
    ...(options.refetchIntervalMs !== undefined ? { refetchIntervalMs: options.refetchIntervalMs } : {}),
  });
}

describe('the WhatsApp Web version the driver announces (item 3)', () => {
  describe('configuration', () => {
    it('reads WA_VERSION as WhatsApp Web prints it, and the other WhatsApp settings with their defaults', () => {
      const config = loadConfig({ WA_VERSION: '2.3000.1023223821' });
      assert.deepEqual(config.whatsapp, {
        version: [2, 3000, 1023223821],
        fetchVersion: true,
        fetchVersionTimeoutMs: 5_000,
        browserName: 'WhatsApp Gateway',
        syncFullHistory: false,
        webSocketUrl: undefined,
        connectTimeoutMs: 60_000,
        queryTimeoutMs: 20_000,
        versionRejectedRetryMs: 1_800_000,
      });
      const custom = loadConfig({
        WA_BROWSER_NAME: 'Acme CRM',
        WA_SYNC_FULL_HISTORY: 'true',
        WA_VERSION_FETCH: 'false',
      }).whatsapp;
      assert.equal(custom.version, undefined);
      assert.equal(custom.browserName, 'Acme CRM');
      assert.equal(custom.syncFullHistory, true);
      assert.equal(custom.fetchVersion, false);
    });

    for (const [name, value] of [
      ['WA_VERSION', '2.3000'],
      ['WA_VERSION', 'latest'],
      ['WA_SYNC_FULL_HISTORY', 'sometimes'],
      ['WA_BROWSER_NAME', ' '],
      ['WA_CONNECT_TIMEOUT_MS', '10'],
    ] as const) {
      it(`refuses ${name}=${JSON.stringify(value)}, naming the variable`, () => {
        assert.throws(
          () => loadConfig({ [name]: value }),
          (err: unknown) => err instanceof ConfigError && err.message.includes(name),
        );
      });
    }
  });

  describe('WaVersionSource', () => {
    it('announces WA_VERSION when set, and never fetches then', async () => {
      let fetched = 0;
      const versions = source({
        configured: [2, 3000, 7],
        fetcher: async () => {
          fetched++;
          return [2, 3000, 8];
        },
      });
      await versions.init();
      assert.equal(await versions.refreshAfterRejection(), false);
      assert.deepEqual(versions.current, [2, 3000, 7]);
      assert.deepEqual(versions.describe(), { version: '2.3000.7', origin: 'configured' });
      assert.equal(fetched, 0);
    });

    it('fetches the version WhatsApp Web serves at start-up', async () => {
      const versions = source({ fetcher: async () => [2, 3000, 9] });
      await versions.init();
      assert.deepEqual(versions.describe(), { version: '2.3000.9', origin: 'fetched' });
    });

    it("keeps Baileys' bundled version, without waiting longer than the limit, when WhatsApp Web does not answer", async () => {
      const versions = source({ timeoutMs: 50, fetcher: () => new Promise<never>(() => undefined) });
      await versions.init();
      assert.equal(versions.current, undefined);
      assert.deepEqual(versions.describe(), { version: bundled, origin: 'bundled' });
    });

    it('keeps the bundled version offline (the request fails) and when fetching is off', async () => {
      const offline = source({
        fetcher: async () => {
          throw Object.assign(new Error('getaddrinfo ENOTFOUND web.whatsapp.com'), { code: 'ENOTFOUND' });
        },
      });
      await offline.init();
      assert.deepEqual(offline.describe(), { version: bundled, origin: 'bundled' });
      let asked = 0;
      const off = source({
        fetch: false,
        fetcher: async () => {
          asked++;
          return [2, 3000, 9];
        },
      });
      await off.init();
      assert.equal(asked, 0);
      assert.equal(off.current, undefined);
    });

    it("hands its abort signal to Baileys' fetch of web.whatsapp.com, which then answers 'no version' without a request", async () => {
      const aborted = new AbortController();
      aborted.abort();
      assert.equal(await fetchFromWhatsAppWeb(aborted.signal), undefined);
    });

    it('after a 405, fetches again once for every session refused at the same moment, and says whether the version changed', async () => {
      let served: WAVersion = [2, 3000, 9];
      let asked = 0;
      const versions = source({
        refetchIntervalMs: 60_000,
        fetcher: async () => {
          asked++;
          return served;
        },
      });
      await versions.init();
      served = [2, 3000, 10];
      // Right after start-up: the version just fetched stands.
      assert.equal(await versions.refreshAfterRejection(), false);
      assert.equal(asked, 1);
      const eager = source({ refetchIntervalMs: 0, fetcher: async () => (asked++, served) });
      const answers = await Promise.all([
        eager.refreshAfterRejection(),
        eager.refreshAfterRejection(),
        eager.refreshAfterRejection(),
      ]);
      assert.deepEqual(answers, [true, true, true]);
      assert.equal(asked, 2, 'one fetch for the three sessions');
      assert.deepEqual(eager.current, [2, 3000, 10]);
      assert.equal(await eager.refreshAfterRejection(), false, 'the same version again is no newer one');
    });
  });
});
