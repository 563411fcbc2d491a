import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError } from '../../shared/errors.js';
import { isStoreUnavailable } from '../../shared/db/unavailable.js';
import type { Logger } from '../../shared/logger.js';
import { admissionOf } from './admission.js';

export const notFoundHandler: RequestHandler = async (req, res) => {
  await admissionOf(res);
  throw new AppError('not_found', `no route for ${req.method} ${req.path}`);
};

/**
 * The single place an error becomes a response: always the envelope, never a stack trace.
 *
 * Logged here: a bug (`internal`, anything not raised on purpose) at `error` with its stack; a 5xx
 * the gateway answers by design (a session offline, a QR code not ready yet, a live call timed out,
 * a store out of reach) at `warn` with its code and message only, so `error` means something to fix.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const appError = toAppError(err);
    if (appError.status >= 500) {
      if (appError.code === 'internal') logger.error({ err, reqId: req.id }, appError.message);
      else
        logger.warn(
          { reqId: req.id, code: appError.code, ...(err instanceof AppError ? {} : { cause: (err as Error).message }) },
          appError.message,
        );
    }
    if (res.headersSent) return void res.end();
    if (appError.code === 'unauthorized') {
      const hadToken = typeof req.headers.authorization === 'string';
      res.setHeader(
        'WWW-Authenticate',
        hadToken ? `Bearer realm="wa-gateway", error="invalid_token"` : `Bearer realm="wa-gateway"`,
      );
    }
    const retryAfter = appError.details['retryAfterSeconds'];
    if (typeof retryAfter === 'number') res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfter))));
    res.status(appError.status).json(appError.toBody());
  };
}

/** Any thrown value as the AppError the client is told about. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (isStoreUnavailable(err)) return new AppError('unavailable', 'a backing store is unreachable; retry shortly');
  const httpish = err as { type?: string; status?: number; expose?: boolean; message?: string };
  // body-parser errors carry a status and a type; surface the client's mistake, hide the rest.
  if (httpish && typeof httpish.status === 'number' && httpish.status >= 400 && httpish.status < 500) {
    if (httpish.type === 'entity.parse.failed')
      return new AppError('validation_error', 'request body is not valid JSON', { body: 'invalid JSON' });
    if (httpish.type === 'entity.too.large') {
      const limit = (httpish as { limit?: unknown }).limit;
      return new AppError(
        'payload_too_large',
        `request body is too large${typeof limit === 'number' ? ` (this endpoint takes at most ${limit} bytes)` : ''}`,
        typeof limit === 'number' ? { body: 'too large', limitBytes: limit } : { body: 'too large' },
      );
    }
    if (httpish.type === 'entity.too.deep')
      return new AppError('validation_error', `request body is ${httpish.message ?? 'nested too deeply'}`, {
        body: 'nested too deeply',
      });
    return new AppError('validation_error', httpish.expose && httpish.message ? httpish.message : 'bad request');
  }
  return new AppError('internal', 'internal error');
}
