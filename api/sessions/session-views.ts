import { getMany, type RedisClient } from '../../shared/redis.js';
import type { DataSource } from 'typeorm';
import type { SessionStatus } from '../../shared/db/entities/wa-session.js';
import type { RedisKeys } from '../../shared/redis-keys.js';
import { EVERY_ORGANIZATION, type OrganizationScope } from '../auth/organization-scope.js';
import { shardOf } from '../../shared/shards.js';
import type { SessionView } from './session-schemas.js';

interface SessionRow {
  id: string;
  name: string | null;
  status: SessionStatus;
  status_reason: string | null;
  status_since: number | string | null;
  next_retry_at: number | string | null;
  phone_jid: string | null;
  lid: string | null;
  created_at: number | string;
  updated_at: number | string;
  last_connected_at: number | string | null;
}

const COLUMNS =
  'id, name, status, status_reason, status_since, next_retry_at, phone_jid, lid, created_at, updated_at, last_connected_at';

/** Shown when the presence key says otherwise than MySQL: the worker's record is not the truth then. */
const WORKER_GONE = 'its worker stopped answering (presence expired); another worker takes the session over shortly';

const epochOrNull = (value: number | string | null) => (value === null ? null : Number(value));

export interface SessionFilter {
  scope: OrganizationScope;
  status?: SessionStatus | undefined;
}

/** The recorded statuses a session shown in a status may have: presence turns any unfinished one online, and a dead worker's online one offline. */
const RECORDED_AS: Record<SessionStatus, SessionStatus[]> = {
  online: ['online', 'connecting', 'pairing', 'offline'],
  offline: ['offline', 'online'],
  pairing: ['pairing'],
  connecting: ['connecting'],
  logged_out: ['logged_out'],
};

/**
 * Sessions as the API shows them. MySQL holds what the owning worker last recorded; a session
 * recorded online whose presence key has expired (its worker died) is shown offline.
 */
export class SessionViews {
  constructor(
    private readonly db: DataSource,
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly shardCount: number,
  ) {}

  async one(sessionId: string): Promise<SessionView | undefined> {
    const rows = await this.db.query<SessionRow[]>(`SELECT ${COLUMNS} FROM wa_sessions WHERE id = ?`, [sessionId]);
    return (await this.present(rows))[0];
  }

  /**
   * Sessions after `afterId` in id order. With a status, only sessions shown in that status: the
   * shown status depends on presence, so candidates are read from MySQL and filtered after, until
   * the page is full or the list ends.
   */
  async page(
    filter: SessionFilter,
    afterId: string,
    limit: number,
  ): Promise<{ rows: SessionView[]; hasMore: boolean }> {
    const where: string[] = ['id > ?'];
    const args: unknown[] = [];
    if (filter.scope !== EVERY_ORGANIZATION) {
      where.push('organization_id = ?');
      args.push(filter.scope);
    }
    if (filter.status) {
      const recorded = RECORDED_AS[filter.status];
      where.push(`status IN (${recorded.map(() => '?').join(', ')})`);
      args.push(...recorded);
    }
    const found: SessionView[] = [];
    let after = afterId;
    for (;;) {
      const rows = await this.db.query<SessionRow[]>(
        `SELECT ${COLUMNS} FROM wa_sessions WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`,
        [after, ...args, limit + 1],
      );
      const more = rows.length > limit;
      const views = await this.present(more ? rows.slice(0, limit) : rows);
      for (const [i, view] of views.entries()) {
        if (filter.status && view.status !== filter.status) continue;
        found.push(view);
        if (found.length === limit) return { rows: found, hasMore: more || i < views.length - 1 };
      }
      if (!more) return { rows: found, hasMore: false };
      after = rows[limit - 1]!.id;
    }
  }

  /**
   * The presence key is the truth about `online`: the worker sets it a moment before it records
   * `online` in MySQL, and it expires when the worker dies without recording anything. Without an
   * answer from Redis the recorded status is shown.
   */
  private async present(rows: SessionRow[]): Promise<SessionView[]> {
    const candidates = rows.filter((r) => r.status !== 'logged_out');
    let live: Set<string> | undefined;
    if (candidates.length > 0 && this.redis.status === 'ready') {
      const present = await getMany(
        this.redis,
        candidates.map((r) => this.keys.presence(r.id)),
      ).catch(() => undefined);
      if (present) live = new Set(candidates.filter((_, i) => present[i] !== null).map((r) => r.id));
    }
    const shownStatus = (r: SessionRow): SessionStatus => {
      if (live === undefined) return r.status;
      if (live.has(r.id)) return 'online';
      return r.status === 'online' ? 'offline' : r.status;
    };
    return rows.map((r) => {
      const status = shownStatus(r);
      // A status the row did not record (presence says online, or expired under an `online` row)
      // has no recorded reason, start or retry.
      const recorded = status === r.status;
      return {
        id: r.id,
        name: r.name,
        status,
        statusReason: recorded ? r.status_reason : status === 'offline' ? WORKER_GONE : null,
        statusSince: recorded ? epochOrNull(r.status_since ?? r.updated_at) : null,
        nextRetryAt: recorded ? epochOrNull(r.next_retry_at) : null,
        phoneJid: r.phone_jid,
        lid: r.lid,
        shard: shardOf(r.id, this.shardCount),
        createdAt: Number(r.created_at),
        updatedAt: Number(r.updated_at),
        lastConnectedAt: r.last_connected_at === null ? null : Number(r.last_connected_at),
      };
    });
  }
}
