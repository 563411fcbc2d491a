/**
 * Rows remembered between requests whose changes are pushed to every api process (see
 * followControlChannel): a session's owner, an API key. The time limit is only a backstop for
 * changes made behind the gateway's back (a row edited in MySQL by hand).
 *
 * Entries are kept only while that push is known to arrive: `distrust()` (the subscription is
 * down) drops everything and stops storing until `trust()`. A lookup that was overtaken by an
 * invalidation while it ran is not stored either, so a change can never be undone by a read that
 * started before it.
 */
export class PushedCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
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

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > this.now()) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  /** Taken before a lookup starts; `remember` then ignores a result some invalidation overtook. */
  epoch(): number {
    return this.generation;
  }

  remember(epoch: number, key: string, value: V): void {
    if (!this.enabled || epoch !== this.generation) return;
    if (this.entries.size >= this.maxEntries && !this.entries.has(key)) {
      // Maps iterate in insertion order: the first key is the longest-held entry.
      this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs });
  }

  forget(key: string): void {
    this.generation++;
    this.entries.delete(key);
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
