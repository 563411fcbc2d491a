import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { checkedLookup, hostOf, urlProblem, type AddressPolicy } from '../../shared/webhooks/address-policy.js';
import { signatureHeader } from './webhook-signer.js';

export interface SendOptions extends AddressPolicy {
  /** Whole attempt: connect, send, response head and the (capped) body. */
  timeoutMs: number;
  /** Sockets kept per receiver (the endpoint's concurrency bound). */
  socketsPerHost: number;
}

export interface AttemptResult {
  ok: boolean;
  /** The receiver's HTTP status, when it answered. */
  status: number | undefined;
  latencyMs: number;
  /** Why it failed, for the delivery log. */
  error: string | undefined;
}

export interface OutgoingMessage {
  url: string;
  /** The event id: the same on every attempt, so receivers de-duplicate by it. */
  id: string;
  body: string;
  /** The current secret first, then the previous one during a rotation's grace period. */
  secrets: readonly string[];
}

/** The receiver's answer is read up to this much, then dropped: only its status matters. */
const MAX_RESPONSE_BYTES = 16 * 1024;
const USER_AGENT = 'whatsapp-gateway-webhooks/1';

/**
 * Sends one delivery attempt as the Standard Webhooks specification describes it. The address is
 * checked on every connection (checkedLookup) and the connection goes to the checked address;
 * redirects are not followed (a 3xx is a failure); the answer is read up to a small cap.
 */
export class WebhookSender {
  private readonly http: HttpAgent;
  private readonly https: HttpsAgent;
  private readonly lookup: ReturnType<typeof checkedLookup>;

  constructor(private readonly options: SendOptions) {
    const agentOptions = {
      keepAlive: true,
      maxSockets: options.socketsPerHost,
      maxFreeSockets: options.socketsPerHost,
      scheduling: 'lifo' as const,
    };
    this.http = new HttpAgent(agentOptions);
    this.https = new HttpsAgent(agentOptions);
    this.lookup = checkedLookup(options);
  }

  async send(message: OutgoingMessage): Promise<AttemptResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const problem = urlProblem(message.url, this.options);
    if (problem) return { ok: false, status: undefined, latencyMs: 0, error: `url ${problem}` };
    const url = new URL(message.url);
    const timestamp = new Date();
    const headers = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(message.body)),
      'user-agent': USER_AGENT,
      'webhook-id': message.id,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': signatureHeader(message.secrets, message.id, timestamp, message.body),
    };
    const secure = url.protocol === 'https:';
    return new Promise<AttemptResult>((resolve) => {
      let settled = false;
      const finish = (result: Omit<AttemptResult, 'latencyMs'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ...result, latencyMs: elapsed() });
      };
      const req = (secure ? httpsRequest : httpRequest)(
        {
          protocol: url.protocol,
          hostname: hostOf(url),
          port: url.port || (secure ? 443 : 80),
          path: `${url.pathname}${url.search}`,
          method: 'POST',
          headers: { ...headers, host: url.host },
          agent: secure ? this.https : this.http,
          lookup: this.lookup,
          ...(secure ? { servername: hostOf(url) } : {}),
        },
        (res: IncomingMessage) => {
          const status = res.statusCode ?? 0;
          let read = 0;
          res.on('data', (chunk: Buffer) => {
            read += chunk.length;
            if (read > MAX_RESPONSE_BYTES) {
              res.destroy();
              finish(outcome(status));
            }
          });
          res.on('end', () => finish(outcome(status)));
          res.on('error', () => finish(outcome(status)));
          res.on('close', () => finish(outcome(status)));
        },
      );
      const timer = setTimeout(() => {
        req.destroy();
        finish({ ok: false, status: undefined, error: `no complete answer within ${this.options.timeoutMs} ms` });
      }, this.options.timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, status: undefined, error: describe(err) }));
      req.end(message.body);
    });
  }

  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

function outcome(status: number): Omit<AttemptResult, 'latencyMs'> {
  const ok = status >= 200 && status < 300;
  return {
    ok,
    status,
    error: ok
      ? undefined
      : status >= 300 && status < 400
        ? `HTTP ${status} (redirects are not followed)`
        : `HTTP ${status}`,
  };
}

function describe(err: NodeJS.ErrnoException): string {
  if (err.name === 'RefusedAddressError') return err.message;
  return `${err.code ? `${err.code}: ` : ''}${err.message}`.slice(0, 300);
}
