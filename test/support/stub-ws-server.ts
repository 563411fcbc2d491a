/**
 * A WebSocket endpoint on 127.0.0.1 that misbehaves the ways a real network does, for driving the
 * real Baileys socket: it answers the upgrade with an HTTP error, never answers it, accepts it and
 * stays silent, or accepts it and drops the TCP connection (the client sees close code 1006).
 * Plain node:http: the 101 answer is a few header lines.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type StubBehaviour =
  /** Answers the upgrade with `HTTP/1.1 <status>` and closes (a proxy or an edge outage). */
  | { kind: 'http-error'; status: number }
  /** Reads the upgrade request and never answers it. */
  | { kind: 'no-answer' }
  /** Completes the upgrade, then never sends a byte (WhatsApp gone silent mid-handshake). */
  | { kind: 'silent' };

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export class StubWsServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  /** Bytes received after each upgrade, per connection in arrival order. */
  readonly received: Buffer[][] = [];
  upgrades = 0;
  private waiters: (() => void)[] = [];

  private constructor(private readonly behaviour: StubBehaviour) {
    this.server = createServer((_req, res) => res.writeHead(404).end());
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket) => this.onUpgrade(req, socket));
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(behaviour: StubBehaviour): Promise<StubWsServer> {
    const stub = new StubWsServer(behaviour);
    await new Promise<void>((resolve) => stub.server.listen(0, '127.0.0.1', resolve));
    return stub;
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/ws/chat`;
  }

  /** Resolves once `n` upgrade requests have arrived. */
  async upgraded(n = 1): Promise<void> {
    while (this.upgrades < n) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Resolves once the latest accepted connection has sent at least `bytes` bytes. */
  async receivedAtLeast(bytes: number): Promise<void> {
    while ((this.received.at(-1) ?? []).reduce((n, b) => n + b.length, 0) < bytes)
      await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Destroys every open TCP connection without a closing handshake: the client sees 1006. */
  dropAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  async stop(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private onUpgrade(req: IncomingMessage, socket: Socket): void {
    this.upgrades++;
    this.wake();
    switch (this.behaviour.kind) {
      case 'http-error':
        socket.end(`HTTP/1.1 ${this.behaviour.status} Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
        return;
      case 'no-answer':
        return;
      case 'silent': {
        const accept = createHash('sha1')
          .update(`${String(req.headers['sec-websocket-key'])}${WS_GUID}`)
          .digest('base64');
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
        const chunks: Buffer[] = [];
        this.received.push(chunks);
        socket.on('data', (data: Buffer) => {
          chunks.push(data);
          this.wake();
        });
      }
    }
  }
}
