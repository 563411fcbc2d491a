import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import jwt from 'jsonwebtoken';

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function newSigningKey(kid = randomUUID()): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey, publicKey };
}

/** A frontend's JWKS endpoint, served over real HTTP, whose published keys a test can change. */
export class JwksServer {
  readonly issuer = 'https://login.example.test/';
  readonly audience = 'wa-gateway';
  readonly published: SigningKey[] = [newSigningKey()];
  requests = 0;
  /** While true the endpoint answers 503, as a frontend's JWKS that is down would. */
  failing = false;
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.requests++;
      if (this.failing) return void res.writeHead(503).end();
      if (req.url !== '/.well-known/jwks.json') return void res.writeHead(404).end();
      const keys = this.published.map((k) => ({
        ...k.publicKey.export({ format: 'jwk' }),
        kid: k.kid,
        alg: 'RS256',
        use: 'sig',
      }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('no address');
    this.url = `http://127.0.0.1:${address.port}/.well-known/jwks.json`;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server!.close(resolve));
  }

  get key(): SigningKey {
    return this.published[0]!;
  }

  /** A login JWT as the frontend mints it; override any claim or signing option to make a bad one. */
  sign(claims: Record<string, unknown>, options: jwt.SignOptions & { key?: SigningKey } = {}): string {
    const { key = this.key, ...signOptions } = options;
    return jwt.sign({ iss: this.issuer, aud: this.audience, sub: 'user-1', ...claims }, key.privateKey, {
      algorithm: 'RS256',
      keyid: key.kid,
      expiresIn: '10m',
      ...signOptions,
    });
  }
}
