/**
 * The `sim` WhatsApp driver: connections to a simulated network loaded from a world file, with
 * the network's mutable state in Redis and a Redis pub/sub control channel, so sessions behave the
 * same whichever worker process holds them.
 */
import type { RedisClient } from '../../../shared/redis.js';
import { onMessage, subscribe } from '../../../shared/redis-pubsub.js';
import { AppError } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/logger.js';
import type { WhatsAppDriver } from '../driver.js';
import { SimCallLog } from './call-log.js';
import { simControlChannel, simControlMessageSchema } from './control.js';
import { SimConnection } from './connection.js';
import { SimNetwork } from './network.js';
import { SimStateStore } from './state-store.js';
import { emptySimWorld, loadSimWorld, type SimWorld } from './world.js';

export interface SimDriverOptions {
  world: SimWorld;
  redis: RedisClient;
  /** Opens the control channel's subscriber; it must queue while Redis is away and resubscribe after. */
  subscriber: () => RedisClient;
  /** Redis key prefix; the sim's keys are `${prefix}:sim:…`. */
  prefix: string;
  logger?: Logger;
}

/** How long connect() waits for the control subscription before going ahead without it. */
const SUBSCRIBE_WAIT_MS = 3_000;

export class SimDriver implements WhatsAppDriver {
  readonly kind = 'sim' as const;
  readonly network: SimNetwork;
  private readonly store: SimStateStore;
  private readonly callLog: SimCallLog;
  private readonly connections = new Map<string, SimConnection>();
  private subscriber: RedisClient | undefined;
  private subscribed: Promise<void> | undefined;
  private disposed = false;

  constructor(private readonly options: SimDriverOptions) {
    this.network = new SimNetwork(options.world);
    this.store = new SimStateStore(options.redis, options.prefix);
    this.callLog = new SimCallLog(options.redis, options.prefix);
  }

  async connect(sessionId: string): Promise<SimConnection> {
    if (this.disposed) throw new AppError('unavailable', 'the sim driver has been shut down');
    await this.listenForControl();
    // Like WhatsApp's "connection replaced": one live connection per session in this process.
    this.connections.get(sessionId)?.supersede();
    const connection = new SimConnection(sessionId, {
      network: this.network,
      store: this.store,
      callLog: this.callLog,
      ...(this.options.logger ? { logger: this.options.logger } : {}),
      onClosed: (closed) => {
        if (this.connections.get(sessionId) === closed) this.connections.delete(sessionId);
      },
    });
    this.connections.set(sessionId, connection);
    connection.start();
    return connection;
  }

  /** The connection this process holds for a session, if any. */
  connection(sessionId: string): SimConnection | undefined {
    return this.connections.get(sessionId);
  }

  /** Closes every connection and the control subscription. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.allSettled([...this.connections.values()].map((c) => c.close()));
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
  }

  private async listenForControl(): Promise<void> {
    if (!this.subscribed) {
      const subscriber = this.options.subscriber();
      this.subscriber = subscriber;
      subscriber.on('error', (err) => this.options.logger?.warn({ err }, 'sim: control subscriber error'));
      onMessage(subscriber, (_channel: string, raw: string) => void this.onControl(raw));
      this.subscribed = subscribe(subscriber, simControlChannel(this.options.prefix)).then(
        () => undefined,
        (err: unknown) => this.options.logger?.warn({ err }, 'sim: cannot subscribe to the control channel'),
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const giveUp = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, SUBSCRIBE_WAIT_MS);
    });
    await Promise.race([this.subscribed, giveUp]);
    clearTimeout(timer);
  }

  private async onControl(raw: string): Promise<void> {
    let message;
    try {
      message = simControlMessageSchema.parse(JSON.parse(raw));
    } catch (err) {
      this.options.logger?.warn({ err, raw }, 'sim: ignoring a malformed control message');
      return;
    }
    const connection = this.connections.get(message.sessionId);
    if (!connection) return;
    try {
      await connection.handleControl(message);
    } catch (err) {
      this.options.logger?.warn({ err, message }, 'sim: control message failed');
    }
  }
}

/** The driver for a world file, or for an empty world (every session unpaired, nobody known) without one. */
export async function createSimDriver(
  options: Omit<SimDriverOptions, 'world'> & { worldPath: string | undefined },
): Promise<SimDriver> {
  const { worldPath, ...rest } = options;
  const world = worldPath === undefined ? emptySimWorld() : await loadSimWorld(worldPath);
  return new SimDriver({ world, ...rest });
}
