/**
 * The WhatsApp Web version the driver announces. WhatsApp refuses a version it no longer serves
 * (`405` at login), and the one bundled with Baileys goes stale within weeks, so: the configured one
 * (WA_VERSION) when set; else, when allowed, the one WhatsApp Web currently serves, fetched at
 * start-up within a time limit and again after a 405; else the bundled one.
 */
import { DEFAULT_CONNECTION_CONFIG, fetchLatestWaWebVersion, type WAVersion } from '@whiskeysockets/baileys';
import type { Logger } from 'pino';
import { within } from '../../../shared/within.js';

/** Asks WhatsApp Web for its current version; `undefined` when it could not tell. */
export type VersionFetcher = (signal: AbortSignal) => Promise<WAVersion | undefined>;

/** Baileys' own fetch of https://web.whatsapp.com/sw.js (its `client_revision`). */
export const fetchFromWhatsAppWeb: VersionFetcher = async (signal) => {
  const result = await fetchLatestWaWebVersion({ signal });
  return result.isLatest ? result.version : undefined;
};

export interface WaVersionOptions {
  /** WA_VERSION; when set nothing is fetched. */
  configured: WAVersion | undefined;
  /** WA_VERSION_FETCH. */
  fetch: boolean;
  fetchTimeoutMs: number;
  fetcher?: VersionFetcher;
  logger: Logger;
  /** Fetches after a 405 are at most this frequent (every session of the worker gets the 405 at once). */
  refetchIntervalMs?: number;
}

export type VersionOrigin = 'configured' | 'fetched' | 'bundled';

export class WaVersionSource {
  private version: WAVersion | undefined;
  private origin: VersionOrigin;
  private refetch: Promise<boolean> | undefined;
  private lastFetchAt = 0;

  constructor(private readonly options: WaVersionOptions) {
    this.version = options.configured;
    this.origin = options.configured ? 'configured' : 'bundled';
  }

  /** The version to hand to makeWASocket; undefined leaves Baileys' bundled one. */
  get current(): WAVersion | undefined {
    return this.version;
  }

  /** What the sockets announce, for the logs. */
  describe(): { version: string; origin: VersionOrigin } {
    return { version: (this.version ?? DEFAULT_CONNECTION_CONFIG.version).join('.'), origin: this.origin };
  }

  /** Fetches the current version once at start-up (when allowed); never fails, never waits past the limit. */
  async init(): Promise<void> {
    if (this.options.configured || !this.options.fetch) return;
    await this.fetchLatest();
  }

  /**
   * After WhatsApp refused the announced version: fetches again (coalesced, rate-limited) and
   * resolves to true when the sockets will now announce a different version.
   */
  refreshAfterRejection(): Promise<boolean> {
    if (this.options.configured || !this.options.fetch) return Promise.resolve(false);
    if (this.refetch) return this.refetch;
    if (Date.now() - this.lastFetchAt < (this.options.refetchIntervalMs ?? 60_000)) return Promise.resolve(false);
    this.refetch = this.fetchLatest().finally(() => {
      this.refetch = undefined;
    });
    return this.refetch;
  }

  private async fetchLatest(): Promise<boolean> {
    const { fetchTimeoutMs, logger } = this.options;
    const fetcher = this.options.fetcher ?? fetchFromWhatsAppWeb;
    this.lastFetchAt = Date.now();
    const controller = new AbortController();
    let outcome: WAVersion | undefined | Error;
    try {
      // The signal stops the request; `within` stops waiting even for a fetcher that ignores it.
      outcome = await within(fetcher(controller.signal), fetchTimeoutMs);
    } catch (err) {
      outcome = err instanceof Error ? err : new Error(String(err));
    } finally {
      controller.abort();
    }
    if (Array.isArray(outcome)) {
      const before = this.describe().version;
      this.version = outcome;
      this.origin = 'fetched';
      logger.info({ version: outcome.join('.') }, 'using the WhatsApp Web version WhatsApp serves now');
      return before !== this.describe().version;
    }
    const why = outcome instanceof Error ? outcome.message : 'no version in the answer';
    logger.warn(
      { reason: why, ...this.describe() },
      'could not fetch the current WhatsApp Web version; keeping the one in use',
    );
    return false;
  }
}
