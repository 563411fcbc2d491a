/**
 * The simulated network's mutable state, in Redis so every worker process sees the same network:
 * whether a session is paired (and as which phone, for sessions the world does not list), whether
 * it was disconnected by a control message, and its block list.
 */
import type { RedisClient } from '../../../shared/redis.js';
import { AppError } from '../../../shared/errors.js';

export interface SimSessionState {
  /** undefined: never changed at runtime, the world file decides. */
  paired?: boolean;
  /** The phone an unlisted session paired as. */
  phone?: string;
  /** Held down by a 'disconnect' control message until 'reconnect'. */
  down: boolean;
}

export class SimStateStore {
  constructor(
    private readonly redis: RedisClient,
    readonly prefix: string,
  ) {}

  sessionKey(sessionId: string): string {
    return `${this.prefix}:sim:session:${sessionId}`;
  }

  blocklistKey(sessionId: string): string {
    return `${this.prefix}:sim:blocks:${sessionId}`;
  }

  async read(sessionId: string): Promise<SimSessionState> {
    const fields = await this.guard(() => this.redis.hgetall(this.sessionKey(sessionId)));
    return {
      ...(fields['paired'] === undefined ? {} : { paired: fields['paired'] === '1' }),
      ...(fields['phone'] ? { phone: fields['phone'] } : {}),
      down: fields['down'] === '1',
    };
  }

  async markPaired(sessionId: string, phone: string | undefined): Promise<void> {
    const fields: Record<string, string> = { paired: '1' };
    if (phone !== undefined) fields['phone'] = phone;
    await this.guard(() => this.redis.hset(this.sessionKey(sessionId), fields));
  }

  async markUnpaired(sessionId: string): Promise<void> {
    const key = this.sessionKey(sessionId);
    await this.guard(() => this.redis.multi().hset(key, 'paired', '0').hdel(key, 'phone').exec());
  }

  async setDown(sessionId: string, down: boolean): Promise<void> {
    const key = this.sessionKey(sessionId);
    await this.guard(() => (down ? this.redis.hset(key, 'down', '1') : this.redis.hdel(key, 'down')));
  }

  /** True when the list changed. */
  async block(sessionId: string, lid: string): Promise<boolean> {
    return (await this.guard(() => this.redis.sadd(this.blocklistKey(sessionId), lid))) === 1;
  }

  async unblock(sessionId: string, lid: string): Promise<boolean> {
    return (await this.guard(() => this.redis.srem(this.blocklistKey(sessionId), lid))) === 1;
  }

  async blocklist(sessionId: string): Promise<string[]> {
    return (await this.guard(() => this.redis.smembers(this.blocklistKey(sessionId)))).sort();
  }

  private async guard<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (err) {
      throw new AppError('unavailable', 'the simulated network state (RedisClient) is unreachable', {
        cause: (err as Error).message,
      });
    }
  }
}
