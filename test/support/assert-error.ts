import assert from 'node:assert/strict';
import type { ErrorCode } from '../../shared/errors.js';
import type { JsonResponse } from './http.js';

const STACK_TRACE = /\bat [^\s]+ \(|\.(?:ts|js):\d+|node_modules|Error:\s/;

/**
 * Asserts a response is the error envelope `{"error": {"code", "message", "details"}}` with exactly
 * those keys, the given status and code, JSON content, and no stack trace anywhere in the body.
 * Returns the envelope's details for further checks.
 */
export function assertError(res: JsonResponse, status: number, code: ErrorCode): Record<string, unknown> {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(Object.keys(res.body ?? {}), ['error'], `not an error envelope: ${res.text}`);
  assert.deepEqual(Object.keys(res.body.error).sort(), ['code', 'details', 'message']);
  assert.equal(res.body.error.code, code);
  assert.equal(typeof res.body.error.message, 'string');
  assert.ok(res.body.error.message.length > 0, 'empty error message');
  assert.equal(typeof res.body.error.details, 'object');
  assert.notEqual(res.body.error.details, null);
  assert.doesNotMatch(res.text, STACK_TRACE, `error body leaks internals: ${res.text}`);
  return res.body.error.details as Record<string, unknown>;
}

/** A 401 must also tell the client which scheme to use. */
export function assertUnauthorized(res: JsonResponse): void {
  assertError(res, 401, 'unauthorized');
  assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer\b/);
}
