/**
 * How many of a worker's sockets may be in their handshake and login at once. A worker that takes
 * over a few hundred sessions (start-up, a shard moved to it) would otherwise open them all in the
 * same instant; their Noise handshakes, key-store reads and login queries then hold the event loop
 * long enough for the worker's own shard leases to expire, which stops every session of the shard
 * and starts the stampede again (seen with 200 sessions against the fake WhatsApp server).
 */
export class LoginGate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  /** Resolves once a slot is free, with the function that gives it back (idempotent). */
  async enter(): Promise<() => void> {
    if (this.active < this.limit) this.active++;
    // A slot handed over by leave() is already counted.
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.leave();
    };
  }

  get inUse(): number {
    return this.active;
  }

  private leave(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}
