import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Principal } from '../../api/auth/principal.js';
import { errorHandler } from '../../api/http/error-handler.js';
import { ApiRouter } from '../../api/http/api-router.js';
import type { LiveClient } from '../../api/live/live-client.js';
import { registerLiveContactRoutes, type LiveRouteDeps } from '../../api/live/live-routes.js';
import type { SessionAccess } from '../../api/sessions/session-access.js';
import type { CheckAnswerCache } from '../../shared/checks/check-answers.js';
import { AppError } from '../../shared/errors.js';
import { silentLogger, sleep } from './fakes.js';

/**
 * The live routes in-process, with the session lookup, the answer cache and the live client
 * faked: what the route decides on its own (which refusal wins, and that a refusal arriving while
 * the route awaits something else is handled rather than crashing the process).
 */
describe('unit: live routes in-process', () => {
  let server: Server;
  let base: string;
  let enqueued: string[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);
  const principal: Principal = {
    kind: 'api_key',
    subject: 'k1',
    organizationId: 'org-a',
    capabilities: new Set(['read', 'send']),
  };

  before(async () => {
    // Mocha would report an unhandled rejection too, but against whichever test runs then.
    process.prependListener('unhandledRejection', onUnhandled);
    const sessions = {
      // Another organization's session: refused at once, before the slower answer-cache read below.
      require: async (organizationId: string, sessionId: string) => {
        if (sessionId !== 'mine') throw new AppError('not_found', 'session not found');
        return { id: sessionId, organizationId };
      },
    } as unknown as SessionAccess;
    const answers = {
      maxAgeMs: () => 60_000,
      find: async () => {
        await sleep(50);
        return new Map();
      },
      save: async () => undefined,
    } as unknown as CheckAnswerCache;
    const live = {
      admit: async (_session: string, _requires: string, gate?: Promise<unknown>) => {
        await gate;
      },
      run: async (
        op: string,
        _session: string,
        _input: unknown,
        _requestId: string | undefined,
        gate?: Promise<unknown>,
      ) => {
        await gate;
        enqueued.push(op);
        return op === 'contacts.check' ? { isOnWhatsApp: false, jid: null, query: 'x' } : {};
      },
    } as unknown as LiveClient;
    const deps: LiveRouteDeps = { sessions, answers, live };
    const api = new ApiRouter();
    registerLiveContactRoutes(api, deps);
    const app = express();
    app.use((_req, res, next) => {
      res.locals.principal = principal;
      next();
    });
    app.use(api.router);
    app.use(errorHandler(silentLogger));
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/sessions`;
  });

  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    enqueued = [];
    unhandled.length = 0;
  });

  it("answers 404 for another organization's session while the route is still reading the answer cache, without an unhandled rejection", async () => {
    const res = await fetch(`${base}/theirs/contacts/check?phone=4915107506002`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'not_found');
    await sleep(20);
    assert.deepEqual(
      unhandled,
      [],
      'a refusal nobody awaited yet crashes the api process (Node exits on an unhandled rejection)',
    );
    assert.deepEqual(enqueued, []);
  });

  it("refuses a block on another organization's session with 404 and runs nothing", async () => {
    const res = await fetch(`${base}/theirs/contacts/15550001111@s.whatsapp.net/block`, { method: 'POST' });
    assert.equal(res.status, 404);
    assert.deepEqual(enqueued, []);
    assert.deepEqual(unhandled, []);
  });

  it('runs the check on its own session', async () => {
    const res = await fetch(`${base}/mine/contacts/check?phone=4915107506002`);
    assert.equal(res.status, 200);
    assert.deepEqual(enqueued, ['contacts.check']);
  });
});
