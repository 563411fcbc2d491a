import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';

export interface ReceivedHook {
  id: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** What the receiver answered (undefined while held or when it never answered). */
  status: number | undefined;
}

/** What to answer a request with: a status, or 'hold' to keep it open until release(). */
export type Behaviour = (hook: ReceivedHook, index: number) => number | 'hold';

/** A webhook receiver on 127.0.0.1 (plain http), recording every request; a test chooses its answers. */
export class WebhookReceiver {
  readonly received: ReceivedHook[] = [];
  behaviour: Behaviour = () => 200;
  /** Each answer is sent this much later (a slow receiver). */
  delayMs = 0;
  private readonly held: { hook: ReceivedHook; res: ServerResponse }[] = [];
  private server: Server | undefined;
  url = '';

  async start(path = '/hooks'): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const hook: ReceivedHook = {
          id: String(req.headers['webhook-id'] ?? ''),
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          status: undefined,
        };
        const index = this.received.push(hook) - 1;
        const answer = this.behaviour(hook, index);
        if (answer === 'hold') return void this.held.push({ hook, res });
        const reply = () => {
          hook.status = answer;
          res.writeHead(answer, { 'content-type': 'text/plain' }).end(answer < 300 ? 'ok' : 'nope');
        };
        if (this.delayMs > 0) setTimeout(reply, this.delayMs);
        else reply();
      });
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('no address');
    this.url = `http://127.0.0.1:${address.port}${path}`;
    return this;
  }

  /** Requests held open right now. */
  get holding(): number {
    return this.held.filter(({ res }) => !res.writableEnded && !res.destroyed).length;
  }

  release(status = 200): void {
    for (const { hook, res } of this.held.splice(0)) {
      if (res.writableEnded || res.destroyed) continue;
      hook.status = status;
      res.writeHead(status).end();
    }
  }

  /** Requests answered 2xx, by webhook-id. */
  acknowledged(): Map<string, ReceivedHook[]> {
    const byId = new Map<string, ReceivedHook[]>();
    for (const hook of this.received) {
      if (hook.status === undefined || hook.status >= 300) continue;
      const list = byId.get(hook.id) ?? [];
      list.push(hook);
      byId.set(hook.id, list);
    }
    return byId;
  }

  async stop(): Promise<void> {
    this.release(503);
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server!.close(resolve));
  }
}
