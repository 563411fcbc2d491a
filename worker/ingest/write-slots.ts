/**
 * Caps how many ingestion transactions run at once across all sessions, so a wave of history syncs
 * (many sessions connecting together) cannot take every pooled connection from the worker's other
 * writes, such as Baileys credentials.
 */
export class WriteSlots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(slots: number) {
    this.free = Math.max(1, slots);
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}
