import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { Queue } from 'bullmq';
import { shardOf } from '../../shared/shards.js';
import { testEnv } from './hooks.js';
import { call, get, type JsonResponse } from './http.js';
import { waitFor } from './processes.js';

/** German mobile prefixes libphonenumber knows (015x, 016x, 017x): the numbers below are valid ones. */
const MOBILE_PREFIXES = ['49151', '49152', '49157', '49159', '49160', '49162', '49170', '49176'];

/**
 * `count` distinct valid German mobile numbers (13 digits) sharing a random prefix, so tests never
 * share numbers: the fewer numbers asked for, the more of the 8 subscriber digits are random.
 */
export function numbers(count: number): string[] {
  const indexDigits = String(Math.max(0, count - 1)).length;
  const randomDigits = 8 - indexDigits;
  const prefix = `${MOBILE_PREFIXES[randomInt(MOBILE_PREFIXES.length)]}${String(randomInt(0, 10 ** randomDigits)).padStart(randomDigits, '0')}`;
  return Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(indexDigits, '0')}`);
}

export function account(phone: string, name = `person ${phone.slice(-4)}`) {
  return { phone, lid: `9${phone}@lid`, name };
}

export const finished = (batch: any) => ['completed', 'failed', 'cancelled'].includes(batch.status);

/** A batch's routes: under a session (`/api/v1/sessions/{s}/contacts/check-batch`) or the organization's (`/api/v1/check-batches`). */
export class BatchRoutes {
  constructor(
    readonly base: string,
    readonly token: string,
  ) {}

  create(body: unknown, token = this.token, query = ''): Promise<JsonResponse> {
    return call('POST', `${this.base}${query}`, { token, body });
  }

  async get(id: string): Promise<any> {
    const res = await get(`${this.base}/${id}`, this.token);
    assert.equal(res.status, 200, res.text);
    return res.body;
  }

  async waitFor(id: string, until: (batch: any) => boolean, what: string, timeoutMs = 30_000): Promise<any> {
    return waitFor(
      async () => {
        const batch = await this.get(id);
        return until(batch) ? batch : undefined;
      },
      `batch ${id} ${what}`,
      timeoutMs,
      250,
    );
  }

  /** Every result row, following nextCursor. */
  async results(id: string, query = ''): Promise<any[]> {
    const rows: any[] = [];
    let cursor = '';
    for (;;) {
      const res = await get(
        `${this.base}/${id}/results?limit=1000${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        this.token,
      );
      assert.equal(res.status, 200, res.text);
      rows.push(...res.body.data);
      if (!res.body.nextCursor) return rows;
      cursor = res.body.nextCursor;
    }
  }
}

/** A session's shard batch queue, as Bull Board shows it. */
export function batchQueue(sessionId: string): Queue {
  return new Queue('batch', {
    prefix: testEnv.keys.batchQueuePrefix(shardOf(sessionId, 16)),
    connection: testEnv.redis,
  });
}
