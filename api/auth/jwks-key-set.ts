import type jwksRsa from 'jwks-rsa';

/** The token names a key the frontend does not publish (as far as the gateway may ask). */
export class UnknownKeyError extends Error {
  override name = 'UnknownKeyError';
}

/** No key set could be fetched, so nothing can be said about the token. */
export class KeySetUnreachableError extends Error {
  override name = 'KeySetUnreachableError';
}

export interface KeySetTiming {
  /** How long a fetched set is used before it is fetched again (in the background). */
  cacheMs: number;
  /** At least this long between two fetches, whatever asks for them. */
  cooldownMs: number;
}

/**
 * The frontend's published signing keys, fetched whole with jwks-rsa (`getSigningKeys`) and kept
 * here. jwks-rsa's own per-kid cache and rate limiter made every unknown kid a refetch and, once
 * its budget was spent, made real logins wait or fail with the junk (issue 12). Here:
 * - a known kid is answered from memory; a set older than `cacheMs` is refetched in the
 *   background and meanwhile still served, as it is while the endpoint is unreachable;
 * - an unknown kid waits for a fetch only when one is in flight or the cooldown since the last
 *   one has passed (so a key published since is found), and is refused at once otherwise;
 * - there is never more than one fetch in flight, nor more than one per cooldown.
 */
export class JwksKeySet {
  private keys = new Map<string, string>();
  private loaded = false;
  private fetchedAt = 0;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly client: Pick<jwksRsa.JwksClient, 'getSigningKeys'>,
    private readonly timing: KeySetTiming,
  ) {}

  /** The PEM public key published under `kid`. */
  async publicKey(kid: string): Promise<string> {
    const known = this.keys.get(kid);
    if (known !== undefined) {
      if (Date.now() - this.fetchedAt >= this.timing.cacheMs && this.mayFetch()) this.refresh().catch(() => undefined);
      return known;
    }
    if (!this.inFlight && !this.mayFetch()) {
      if (this.loaded) throw new UnknownKeyError(`no published key has the id "${kid}"`);
      throw new KeySetUnreachableError('the key set could not be fetched');
    }
    try {
      await this.refresh();
    } catch {
      throw new KeySetUnreachableError('the key set could not be fetched');
    }
    const fetched = this.keys.get(kid);
    if (fetched === undefined) throw new UnknownKeyError(`no published key has the id "${kid}"`);
    return fetched;
  }

  private mayFetch(): boolean {
    return Date.now() - this.lastAttemptAt >= this.timing.cooldownMs;
  }

  private refresh(): Promise<void> {
    this.inFlight ??= this.fetch().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async fetch(): Promise<void> {
    this.lastAttemptAt = Date.now();
    const signingKeys = await this.client.getSigningKeys();
    this.keys = new Map(signingKeys.filter((k) => typeof k.kid === 'string').map((k) => [k.kid, k.getPublicKey()]));
    this.loaded = true;
    this.fetchedAt = Date.now();
  }
}
