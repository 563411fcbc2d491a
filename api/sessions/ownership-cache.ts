/**
 * Which organization owns a session, remembered between requests. A session's owner never changes
 * while it exists; the one event that matters, its deletion, is pushed to every api process (see
 * SessionChangeFeed), and the time limit is only a backstop for changes made behind the gateway's
 * back (a row deleted by hand).
 *
 * Entries are kept only while that push is known to arrive: `distrust()` (the subscription is
 * down) drops everything and stops storing until `trust()`. A lookup that was overtaken by an
 * invalidation while it ran is not stored either, so a deletion can never be undone by a read that
 * started before it.
 */
export class OwnershipCache {
  private readonly entries = new Map<string, { organizationId: string; expiresAt: number }>();
  private generation = 0;
  private trusted = false;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 50_000,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.ttlMs > 0 && this.trusted;
  }

  ownerOf(sessionId: string): string | undefined {
    const entry = this.entries.get(sessionId);
    if (!entry) return undefined;
    if (entry.expiresAt > this.now()) return entry.organizationId;
    this.entries.delete(sessionId);
    return undefined;
  }

  /** Taken before a lookup starts; `remember` then ignores a result some invalidation overtook. */
  epoch(): number {
    return this.generation;
  }

  remember(epoch: number, sessionId: string, organizationId: string): void {
    if (!this.enabled || epoch !== this.generation) return;
    if (this.entries.size >= this.maxEntries && !this.entries.has(sessionId)) {
      // Maps iterate in insertion order: the first key is the longest-held entry.
      this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(sessionId, { organizationId, expiresAt: this.now() + this.ttlMs });
  }

  forget(sessionId: string): void {
    this.generation++;
    this.entries.delete(sessionId);
  }

  /** Invalidations may be missed from now on: hold nothing until `trust()`. */
  distrust(): void {
    this.trusted = false;
    this.generation++;
    this.entries.clear();
  }

  trust(): void {
    this.trusted = true;
  }
}
