/**
 * Writes events into the outbox: inside the caller's transaction, so an event exists exactly when
 * the change it reports was committed. Each event gets the session's next sequence number and one
 * `queued` delivery per enabled endpoint of the organization that subscribed to its type; an
 * event nobody subscribed to is not written at all (webhooks cost nothing until used).
 */
import { ulid } from '../ids.js';
import type { EventBody, NewEvent } from './events.js';

/** A query on the caller's transaction (a TypeORM EntityManager's or QueryRunner's `query`). */
export type TxQuery = (sql: string, params: unknown[]) => Promise<unknown>;

/** Rows per multi-row INSERT. */
const ROWS_PER_INSERT = 200;

export const newEventId = () => `evt_${ulid()}`;

interface SubscriberRow {
  organization_id: string;
  id: string | null;
  events: string | null;
}

/** Returns the events written (those some endpoint wanted), in order. */
export async function writeEvents(
  query: TxQuery,
  sessionId: string,
  events: NewEvent[],
  now = Date.now(),
): Promise<EventBody[]> {
  if (events.length === 0) return [];
  const rows = (await query(
    `SELECT s.organization_id, e.id, e.events FROM wa_sessions s
       LEFT JOIN webhook_endpoints e ON e.organization_id = s.organization_id AND e.enabled = 1
      WHERE s.id = ?`,
    [sessionId],
  )) as SubscriberRow[];
  const endpoints = rows.filter((r) => r.id !== null).map((r) => ({ id: r.id!, types: new Set(r.events!.split(',')) }));
  const wanted = events.filter((event) => endpoints.some((e) => e.types.has(event.type)));
  if (wanted.length === 0) return [];
  const organizationId = rows[0]!.organization_id;

  // The row lock on the session's counter is held until commit, so sequence numbers follow the
  // order in which the session's changes commit.
  await query(
    `INSERT INTO webhook_session_seqs (session_id, last_seq) VALUES (?, LAST_INSERT_ID(?))
     ON DUPLICATE KEY UPDATE last_seq = LAST_INSERT_ID(last_seq + ?)`,
    [sessionId, wanted.length, wanted.length],
  );
  const [{ last }] = (await query('SELECT LAST_INSERT_ID() AS last', [])) as [{ last: number | string }];
  const first = Number(last) - wanted.length + 1;

  const bodies: EventBody[] = wanted.map((event, i) => ({
    id: newEventId(),
    type: event.type,
    timestamp: now,
    organizationId,
    sessionId,
    sequence: first + i,
    data: event.data,
  }));
  for (let start = 0; start < bodies.length; start += ROWS_PER_INSERT) {
    const part = bodies.slice(start, start + ROWS_PER_INSERT);
    await query(
      `INSERT INTO webhook_events (id, organization_id, session_id, seq, type, body, created_at) VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      part.flatMap((b) => [b.id, organizationId, sessionId, b.sequence, b.type, JSON.stringify(b), now]),
    );
  }
  const deliveries = bodies.flatMap((b) =>
    endpoints.filter((e) => e.types.has(b.type)).map((e) => [e.id, b.id, sessionId, b.type, 'queued', now, now]),
  );
  for (let start = 0; start < deliveries.length; start += ROWS_PER_INSERT) {
    const part = deliveries.slice(start, start + ROWS_PER_INSERT);
    await query(
      `INSERT INTO webhook_deliveries (endpoint_id, event_id, session_id, event_type, status, created_at, updated_at) VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      part.flat(),
    );
  }
  return bodies;
}
