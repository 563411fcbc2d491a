/**
 * Baileys' AuthenticationState kept in MySQL (wa_auth_creds, wa_auth_keys), so any worker that takes
 * a shard over resumes its sessions without pairing again.
 */
import { BufferJSON, initAuthCreds, proto } from '@whiskeysockets/baileys';
import type {
  AuthenticationCreds,
  AuthenticationState,
  SignalDataSet,
  SignalDataTypeMap,
  SignalKeyStore,
} from '@whiskeysockets/baileys';
import type { DataSource, EntityManager } from 'typeorm';

export type SignalKeyType = keyof SignalDataTypeMap;

export interface SessionAuthState {
  state: AuthenticationState;
  /** Persists the current `state.creds`; call on every `creds.update`. */
  saveCreds: () => Promise<void>;
}

export interface MysqlAuthStoreOptions {
  /** Rows per multi-row statement; keeps one statement well under max_allowed_packet together with maxStatementBytes. */
  maxRowsPerStatement?: number;
  maxStatementBytes?: number;
}

interface KeyRow {
  type: SignalKeyType;
  id: string;
  value: string;
}

const ID_CHUNK = 500;
const DEADLOCK_RETRIES = 3;
// ER_LOCK_DEADLOCK and ER_LOCK_WAIT_TIMEOUT: InnoDB rolled the transaction back, so replaying it is safe.
const RETRYABLE_ERRNOS = new Set([1213, 1205]);

const encode = (value: unknown) => JSON.stringify(value, BufferJSON.replacer);
const decode = (text: string): unknown => JSON.parse(text, BufferJSON.reviver);

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function isRetryable(err: unknown): boolean {
  const errno =
    (err as { errno?: unknown; driverError?: { errno?: unknown } }).driverError?.errno ??
    (err as { errno?: unknown }).errno;
  return typeof errno === 'number' && RETRYABLE_ERRNOS.has(errno);
}

export class MysqlAuthStore {
  /** Tail of each session's write queue: one write at a time per session, in call order. */
  private readonly writeTails = new Map<string, Promise<void>>();
  /** A creds save queued but not started yet: later saves join it (it writes the newest creds anyway). */
  private readonly queuedCredsSaves = new Map<string, Promise<void>>();
  private readonly maxRows: number;
  private readonly maxBytes: number;

  constructor(
    private readonly db: DataSource,
    options: MysqlAuthStoreOptions = {},
  ) {
    this.maxRows = options.maxRowsPerStatement ?? 500;
    this.maxBytes = options.maxStatementBytes ?? 1_000_000;
  }

  /** The session's stored state, or fresh credentials (not yet saved) for a session never paired. */
  async load(sessionId: string): Promise<SessionAuthState> {
    await this.settled(sessionId);
    const rows = await this.db.query<{ creds: string }[]>('SELECT creds FROM wa_auth_creds WHERE session_id = ?', [
      sessionId,
    ]);
    const creds = rows[0] ? (decode(rows[0].creds) as AuthenticationCreds) : initAuthCreds();
    return {
      state: { creds, keys: this.keyStore(sessionId) },
      saveCreds: () => this.saveCreds(sessionId, creds),
    };
  }

  saveCreds(sessionId: string, creds: AuthenticationCreds): Promise<void> {
    const queued = this.queuedCredsSaves.get(sessionId);
    if (queued) return queued;
    // Serialised when the write runs, not when it was queued, so a queued save always writes the newest creds.
    // One single-row upsert: atomic, so a crash leaves either the old or the new creds, never a mix.
    const save = this.enqueue(sessionId, async () => {
      this.queuedCredsSaves.delete(sessionId);
      await this.db.query(
        `INSERT INTO wa_auth_creds (session_id, creds, updated_at) VALUES (?, ?, ?)
         ON DUPLICATE KEY UPDATE creds = VALUES(creds), updated_at = VALUES(updated_at)`,
        [sessionId, encode(creds), Date.now()],
      );
    });
    this.queuedCredsSaves.set(sessionId, save);
    return save;
  }

  /** Resolves once every write queued so far for the session has finished (successfully or not). */
  flush(sessionId: string): Promise<void> {
    return this.settled(sessionId);
  }

  keyStore(sessionId: string): SignalKeyStore {
    return {
      get: (type, ids) => this.getKeys(sessionId, type, ids),
      set: (data) => this.setKeys(sessionId, data),
      clear: () =>
        this.enqueue(sessionId, () =>
          this.db.query('DELETE FROM wa_auth_keys WHERE session_id = ?', [sessionId]).then(() => undefined),
        ),
    };
  }

  /** Deletes the session's credentials and every key (logout, delete). */
  clear(sessionId: string): Promise<void> {
    return this.enqueue(sessionId, () =>
      this.transaction(async (em) => {
        await em.query('DELETE FROM wa_auth_keys WHERE session_id = ?', [sessionId]);
        await em.query('DELETE FROM wa_auth_creds WHERE session_id = ?', [sessionId]);
      }),
    );
  }

  private async getKeys<T extends SignalKeyType>(
    sessionId: string,
    type: T,
    ids: string[],
  ): Promise<{ [id: string]: SignalDataTypeMap[T] }> {
    const result: { [id: string]: SignalDataTypeMap[T] } = {};
    const unique = [...new Set(ids)];
    if (unique.length === 0) return result;
    // Reads wait for writes already queued, so a read after an un-awaited set still sees it.
    await this.settled(sessionId);
    for (const part of chunk(unique, ID_CHUNK)) {
      const rows = await this.db.query<{ key_id: string; value: string }[]>(
        `SELECT key_id, value FROM wa_auth_keys WHERE session_id = ? AND type = ? AND key_id IN (${part.map(() => '?').join(', ')})`,
        [sessionId, type, ...part],
      );
      for (const row of rows) {
        let value = decode(row.value);
        if (type === 'app-state-sync-key' && value) value = proto.Message.AppStateSyncKeyData.fromObject(value);
        result[row.key_id] = value as SignalDataTypeMap[T];
      }
    }
    return result;
  }

  private setKeys(sessionId: string, data: SignalDataSet): Promise<void> {
    const upserts: KeyRow[] = [];
    const deletes = new Map<SignalKeyType, string[]>();
    // Encoded now, at call time: later mutation of the caller's objects must not change what was asked to be written.
    for (const [type, entries] of Object.entries(data) as [SignalKeyType, Record<string, unknown> | undefined][]) {
      for (const [id, value] of Object.entries(entries ?? {})) {
        if (value === null || value === undefined) {
          const list = deletes.get(type) ?? [];
          list.push(id);
          deletes.set(type, list);
        } else {
          upserts.push({ type, id, value: encode(value) });
        }
      }
    }
    if (upserts.length === 0 && deletes.size === 0) return this.enqueue(sessionId, () => Promise.resolve());
    return this.enqueue(sessionId, () =>
      this.transaction(async (em) => {
        for (const batch of this.upsertBatches(upserts)) {
          await em.query(
            `INSERT INTO wa_auth_keys (session_id, type, key_id, value) VALUES ${batch.map(() => '(?, ?, ?, ?)').join(', ')}
             ON DUPLICATE KEY UPDATE value = VALUES(value)`,
            batch.flatMap((row) => [sessionId, row.type, row.id, row.value]),
          );
        }
        for (const [type, ids] of deletes) {
          for (const part of chunk(ids, ID_CHUNK)) {
            await em.query(
              `DELETE FROM wa_auth_keys WHERE session_id = ? AND type = ? AND key_id IN (${part.map(() => '?').join(', ')})`,
              [sessionId, type, ...part],
            );
          }
        }
      }),
    );
  }

  private *upsertBatches(rows: KeyRow[]): Generator<KeyRow[]> {
    let batch: KeyRow[] = [];
    let bytes = 0;
    for (const row of rows) {
      const size = row.value.length + row.id.length + 64;
      if (batch.length > 0 && (batch.length >= this.maxRows || bytes + size > this.maxBytes)) {
        yield batch;
        batch = [];
        bytes = 0;
      }
      batch.push(row);
      bytes += size;
    }
    if (batch.length > 0) yield batch;
  }

  private async transaction(work: (em: EntityManager) => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.db.transaction(work);
        return;
      } catch (err) {
        if (attempt >= DEADLOCK_RETRIES || !isRetryable(err)) throw err;
      }
    }
  }

  /** Runs `work` after every write queued before it for this session; a failed write does not block later ones. */
  private enqueue(sessionId: string, work: () => Promise<void>): Promise<void> {
    const previous = this.writeTails.get(sessionId) ?? Promise.resolve();
    const run = previous.then(work);
    const tail = run.catch(() => undefined);
    this.writeTails.set(sessionId, tail);
    void tail.then(() => {
      if (this.writeTails.get(sessionId) === tail) this.writeTails.delete(sessionId);
    });
    return run;
  }

  private settled(sessionId: string): Promise<void> {
    return this.writeTails.get(sessionId) ?? Promise.resolve();
  }
}
