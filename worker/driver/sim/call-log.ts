/**
 * What the simulated WhatsApp was asked, in Redis so tests and benchmarks can count it across
 * worker processes (including ones they killed): onWhatsApp queries per session, and how many
 * times each number was sent. Recorded when the query is sent, before its answer, because a
 * query WhatsApp received counts against the account even if the asker died before the reply.
 */
import type { RedisClient } from '../../../shared/redis.js';

export class SimCallLog {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  queriesKey(sessionId: string): string {
    return `${this.prefix}:sim:{${sessionId}}:calls:onWhatsApp`;
  }

  numbersKey(sessionId: string): string {
    return `${this.prefix}:sim:{${sessionId}}:asked`;
  }

  /** Best effort: a Redis hiccup must not fail the simulated call itself. */
  async onWhatsApp(sessionId: string, phones: string[]): Promise<void> {
    const pipeline = this.redis.pipeline().incr(this.queriesKey(sessionId));
    for (const phone of phones) pipeline.hincrby(this.numbersKey(sessionId), phone, 1);
    await pipeline.exec().catch(() => undefined);
  }

  async queries(sessionId: string): Promise<number> {
    return Number((await this.redis.get(this.queriesKey(sessionId))) ?? 0);
  }

  /** Phone → how many times it was sent in an onWhatsApp query. */
  async askedNumbers(sessionId: string): Promise<Map<string, number>> {
    const raw = await this.redis.hgetall(this.numbersKey(sessionId));
    return new Map(Object.entries(raw).map(([phone, count]) => [phone, Number(count)]));
  }
}
