/**
 * A gateway of its own (database, Redis prefix, api process) whose workers run the real Baileys
 * driver against a fake WhatsApp server in this test process. Its own world, so no session of
 * another suite is connected to the fake, and the fake sees only what these tests do.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Capability } from '../../shared/capabilities.js';
import { FakeWhatsApp } from '../fake-whatsapp/fake-server.js';
import { FakePhone, type PhoneOptions } from '../fake-whatsapp/phone.js';
import type { Companion } from '../fake-whatsapp/fake-server.js';
import type { FakeUser } from '../fake-whatsapp/world.js';
import { call, type JsonResponse } from './http.js';
import { LOG_DIR, waitFor, type GatewayProcess } from './processes.js';
import { TestEnv } from './test-env.js';

export interface FakeTenant {
  organizationId: string;
  tokens: Record<'read' | 'send' | 'manage' | 'all', string>;
}

const uniq = () => randomBytes(4).toString('hex');

let phoneSeq = 0;
/** A fresh fake user: distinct phone and LID within the run. */
export function fakeUser(fields: Partial<FakeUser> = {}): FakeUser {
  phoneSeq++;
  const tail = `${Date.now() % 1e6}`.padStart(6, '0') + String(phoneSeq).padStart(3, '0');
  return { phone: `4917${tail}`, lid: `8${tail}${String(phoneSeq).padStart(5, '0')}@lid`, ...fields };
}

export class FakeGateway {
  readonly env = new TestEnv();
  readonly fake = new FakeWhatsApp();

  get baseUrl(): string {
    return this.env.api.baseUrl;
  }

  async start(): Promise<void> {
    await this.fake.start();
    await this.env.start();
  }

  async stop(): Promise<void> {
    await this.env.stop();
    await this.fake.stop();
  }

  /**
   * A Baileys worker against the fake; `trusted: false` starts it without the test-only trust
   * preload, as production runs. Fast backoff and pairing window so faults show within a test.
   */
  startWorker(
    name = `bw-${uniq()}`,
    overrides: Record<string, string> = {},
    trusted = true,
  ): GatewayProcess & { workerId: string } {
    const proc = this.env.startBaileysWorker(
      this.fake.url,
      trusted ? this.fake.rootPublicKeyHex : undefined,
      { LEASE_TTL_MS: '4000', WA_VERSION_FETCH: 'false', ...overrides },
      name,
    );
    return Object.assign(proc, { workerId: name });
  }

  /** Waits until `workerId` holds every shard lease. */
  async waitForShards(workerId: string, shardCount = 16): Promise<void> {
    await waitFor(
      async () => (await this.env.leaseHolders(shardCount)).every((holder) => holder === workerId),
      `${workerId} to own every shard`,
      30_000,
    );
  }

  async tenant(): Promise<FakeTenant> {
    const org = await this.env.admin.createOrganization(`Fake ${uniq()}`, `fake_${uniq()}`);
    const sets: Record<keyof FakeTenant['tokens'], Capability[]> = {
      read: ['read'],
      send: ['send'],
      manage: ['manage'],
      all: ['read', 'send', 'manage'],
    };
    const tokens = {} as FakeTenant['tokens'];
    for (const [name, caps] of Object.entries(sets) as [keyof FakeTenant['tokens'], Capability[]][]) {
      tokens[name] = (await this.env.admin.createApiKey(org.id, name, caps)).token;
    }
    return { organizationId: org.id, tokens };
  }

  call<T = any>(
    method: string,
    urlPath: string,
    token: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<JsonResponse<T>> {
    return call<T>(method, urlPath, {
      token,
      baseUrl: this.baseUrl,
      ...(body === undefined ? {} : { body }),
      ...(headers ? { headers } : {}),
    });
  }

  phone(user: FakeUser, options: PhoneOptions = {}): FakePhone {
    this.fake.world.addUser(user);
    return new FakePhone(this.fake, user, options);
  }

  async session(sessionId: string, token: string): Promise<Record<string, any>> {
    return (await this.call('GET', `/api/v1/sessions/${sessionId}`, token)).body;
  }

  /**
   * Waits for the session view to show `status` (and satisfy `also`). The view takes `online` from
   * the presence key, which the worker writes before its MySQL row: right after a change the row's
   * fields (phone JID, reason) can lag behind the status shown, hence `also`.
   */
  async waitForStatus(
    sessionId: string,
    token: string,
    status: string,
    timeoutMs = 30_000,
    also: (view: Record<string, any>) => boolean = () => true,
  ): Promise<Record<string, any>> {
    return waitFor(
      async () => {
        const view = await this.session(sessionId, token);
        return view['status'] === status && also(view) ? view : undefined;
      },
      `session ${sessionId} to be ${status}`,
      timeoutMs,
    );
  }

  /** Reads the session's QR code through the API (waiting for one) and has `phone` scan it. */
  async pairByQr(t: FakeTenant, sessionId: string, phone: FakePhone): Promise<Companion> {
    const qr = await waitFor(
      async () => {
        const res = await this.call('GET', `/api/v1/sessions/${sessionId}/qr`, t.tokens.manage);
        return res.status === 200 ? (res.body.qr as string) : undefined;
      },
      'a QR code from the API',
      30_000,
    );
    return phone.scanQr(qr);
  }

  /** Creates a session over the API and pairs it with `phone`; resolves once it is online. */
  async pairedSession(t: FakeTenant, phone: FakePhone): Promise<{ sessionId: string; companion: Companion }> {
    const created = await this.call('POST', '/api/v1/sessions', t.tokens.manage, { name: `paired ${uniq()}` });
    if (created.status !== 201) throw new Error(`session not created: ${created.text}`);
    const sessionId: string = created.body.id;
    const companion = await this.pairByQr(t, sessionId, phone);
    await this.waitForStatus(sessionId, t.tokens.read, 'online', 30_000, (view) => view['phoneJid'] !== null);
    return { sessionId, companion };
  }

  /** The JSON log lines a process of this gateway wrote so far. */
  logLines(proc: GatewayProcess): Record<string, any>[] {
    const file = path.join(LOG_DIR, `${proc.name}.log`);
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, any>);
  }
}
