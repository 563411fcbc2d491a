import type { RedisClient } from '../../shared/redis.js';
import { AppError } from '../../shared/errors.js';
import { phoneOfJid, phoneToJid } from '../../shared/jid.js';
import { numberForms } from '../../shared/phones/national-variants.js';
import type { Logger } from '../../shared/logger.js';
import type { LiveJobEnvelope, LiveReply } from '../../shared/live/live-queues.js';
import {
  LIVE_OP_MUTATES,
  LIVE_OP_REQUIRES,
  type LiveInput,
  type LiveJobResult,
  type LiveOpName,
  type LiveOutput,
} from '../../shared/live/operations.js';
import type { WhatsAppConnection } from '../driver/driver.js';
import { publish } from '../../shared/redis-pubsub.js';

type Handlers = { [N in LiveOpName]: (connection: WhatsAppConnection, input: LiveInput<N>) => Promise<LiveOutput<N>> };

const HANDLERS: Handlers = {
  // Every form of the number (national-variants.ts) in the one query: a single check waits on the
  // round trip, not on a bulk pace, so the variant costs no extra query or wait.
  'contacts.check': async (connection, { phone }) => {
    const forms = numberForms(phone);
    const checks = await connection.onWhatsApp(forms);
    const found = forms.map((form) => checks.find((c) => c.phone === form && c.exists)).find((c) => c !== undefined);
    if (!found) return { isOnWhatsApp: false, jid: null, query: phone };
    const jid = found.jid ?? phoneToJid(found.phone);
    return {
      isOnWhatsApp: true,
      jid,
      query: phone,
      ...(found.lid ? { lid: found.lid } : {}),
      matchedAs: phoneOfJid(jid) ?? found.phone,
    };
  },
  'contacts.about': (connection, { jid }) => connection.fetchAbout(jid),
  'contacts.picture': async (connection, { jid, type }) => {
    const picture = await connection.profilePicture(jid, type);
    if (!picture) throw new AppError('not_found', 'the contact has no accessible profile picture', { jid });
    return { url: picture.url, type, id: picture.id, fetchedAt: Date.now() };
  },
  'contacts.block': async (connection, { jid }) => {
    await connection.updateBlock(jid, 'block');
    return {};
  },
  'contacts.unblock': async (connection, { jid }) => {
    await connection.updateBlock(jid, 'unblock');
    return {};
  },
  'session.pairingCode': (connection, { phone }) => connection.requestPairingCode(phone),
  'session.logout': async (connection) => {
    await connection.logout();
    return {};
  },
};

const MUTATION_MARGIN_MS = 1_000;

/**
 * Runs one live job on the session's connection and replies to the api instance that asked.
 * A job past its deadline is answered `timeout` and never executed: its caller has already been
 * told it failed.
 */
export class LiveExecutor {
  constructor(
    private readonly connectionOf: (sessionId: string, requires: 'online' | 'held') => WhatsAppConnection | undefined,
    /** Whether this worker is sure it still holds the session's shard lease. */
    private readonly leaseHeld: (sessionId: string) => boolean,
    /** Why a session this worker has no connection for cannot run the call (shared/live/session-offline). */
    private readonly whyOffline: (sessionId: string) => Promise<AppError>,
    private readonly publisher: RedisClient,
    private readonly logger: Logger,
    private readonly observe: (op: LiveOpName, outcome: string, seconds: number) => void = () => undefined,
  ) {}

  async execute(jobId: string, job: LiveJobEnvelope, enqueuedAt: number): Promise<LiveJobResult> {
    const started = process.hrtime.bigint();
    const result = await this.run(job, enqueuedAt);
    this.observe(job.op, result.ok ? 'ok' : result.error.code, Number(process.hrtime.bigint() - started) / 1e9);
    const reply: LiveReply = { jobId, result };
    // Not awaited: the job is finished whether or not the reply arrives (the caller times out on its
    // own), and BullMQ's completion write then leaves together with the reply instead of a round trip later.
    void publish(this.publisher, job.replyTo, JSON.stringify(reply)).catch((err: Error) =>
      this.logger.warn({ err: err.message, jobId }, 'could not publish live reply'),
    );
    return result;
  }

  private async run(job: LiveJobEnvelope, enqueuedAt: number): Promise<LiveJobResult> {
    // A child logger per job costs more than the sim's whole call: build it only to log.
    const log = () => this.logger.child({ requestId: job.requestId, sessionId: job.sessionId, op: job.op });
    const remaining = job.deadline - Date.now();
    const margin = LIVE_OP_MUTATES[job.op] ? Math.min(MUTATION_MARGIN_MS, (job.deadline - enqueuedAt) / 4) : 0;
    if (remaining <= margin) {
      log().warn({ lateByMs: -remaining }, 'live job expired before it could run; not executed');
      return {
        ok: false,
        error: { code: 'timeout', message: 'the operation expired before the session could run it' },
      };
    }
    if (!this.leaseHeld(job.sessionId)) {
      log().warn('refused a live job: this worker may no longer hold the shard lease');
      return {
        ok: false,
        error: { code: 'unavailable', message: "the session's worker is handing it over; try again in a moment" },
      };
    }
    const connection = this.connectionOf(job.sessionId, LIVE_OP_REQUIRES[job.op]);
    if (!connection) {
      const why = await this.whyOffline(job.sessionId).catch(
        () => new AppError('not_implemented', 'session is not connected'),
      );
      return { ok: false, error: { code: why.code, message: why.message, details: why.details } };
    }
    const started = Date.now();
    try {
      const handler = HANDLERS[job.op] as (c: WhatsAppConnection, input: unknown) => Promise<unknown>;
      const value = await handler(connection, job.input);
      if (this.logger.isLevelEnabled('debug')) log().debug({ ms: Date.now() - started }, 'live operation done');
      return { ok: true, value } as LiveJobResult;
    } catch (err) {
      if (err instanceof AppError) {
        if (this.logger.isLevelEnabled('info'))
          log().info({ code: err.code, ms: Date.now() - started }, 'live operation failed');
        return { ok: false, error: { code: err.code, message: err.message, details: err.details } };
      }
      log().error({ err }, 'live operation crashed');
      return { ok: false, error: { code: 'internal', message: 'the operation failed unexpectedly' } };
    }
  }
}
