import assert from 'node:assert/strict';
import type { Request, Response } from 'express';
import { pino } from 'pino';
import { errorHandler } from '../api/http/error-handler.js';
import { accessLogLevel } from '../api/http/request-logging.js';
import { AppError } from '../shared/errors.js';

interface Line {
  level: number;
  msg: string;
  err?: { stack?: string };
  [key: string]: unknown;
}

/** Runs the error handler on `err` and returns what it logged and answered. */
function handle(err: unknown): { lines: Line[]; status: number; body: unknown } {
  const lines: Line[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Line) });
  const answer = { status: 0, body: undefined as unknown };
  const res = {
    headersSent: false,
    setHeader: () => res,
    status(code: number) {
      answer.status = code;
      return res;
    },
    json(body: unknown) {
      answer.body = body;
      return res;
    },
  };
  errorHandler(logger)(
    err,
    { id: 'req-1', headers: {} } as unknown as Request,
    res as unknown as Response,
    () => undefined,
  );
  return { lines, ...answer };
}

describe('what the api logs for an error answer', () => {
  it('logs a bug (500 internal) at error, with its stack, and keeps the stack out of the answer', () => {
    const { lines, status, body } = handle(new TypeError('x is undefined'));
    assert.equal(status, 500);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.level, 50);
    assert.match(lines[0]!.err?.stack ?? '', /TypeError: x is undefined/);
    assert.doesNotMatch(JSON.stringify(body), /TypeError/);
  });

  for (const [code, message] of [
    ['unavailable', 'the QR code is not ready yet; retry in a few seconds'],
    ['not_implemented', 'session is offline'],
    ['timeout', 'WhatsApp did not answer in time'],
  ] as const) {
    it(`logs an answer given by design (${code}) at warn, with its code and no stack trace`, () => {
      const { lines, status } = handle(new AppError(code, message));
      assert.ok(status > 500);
      assert.equal(lines.length, 1);
      assert.equal(lines[0]!.level, 40);
      assert.equal(lines[0]!.code, code);
      assert.equal(lines[0]!.msg, message);
      assert.ok(!('err' in lines[0]!), 'no error object, so no stack trace');
    });
  }

  it('logs nothing for a 4xx (the access line says enough)', () => {
    assert.deepEqual(handle(new AppError('not_found', 'session not found')).lines, []);
  });

  it('writes the access line of a 500 at error, of another 5xx at warn, of a 4xx at info', () => {
    assert.equal(accessLogLevel('/api/v1/sessions/x', 500, true), 'error');
    for (const status of [501, 503, 504]) assert.equal(accessLogLevel('/api/v1/sessions/x/qr', status, true), 'warn');
    assert.equal(accessLogLevel('/api/v1/sessions/x', 404, true), 'info');
  });
});
