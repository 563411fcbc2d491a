import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Level } from 'pino';
import type { Logger } from '../../shared/logger.js';

declare module 'node:http' {
  interface IncomingMessage {
    /** The request id: X-Request-Id when sane, otherwise generated; echoed on the response and carried into worker logs. */
    id: string;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;
const PROBES = new Set(['/healthz', '/readyz']);

/**
 * Structured access log, one line per request once its response is done, written with the base
 * logger only when that line's level is enabled. pino-http built a child logger and ran its
 * serializers for every request even when the line was then dropped: about a quarter of the api's
 * CPU on a cheap request at the production level (bench/README.md).
 */
export function requestLogging(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.id = id;
    res.setHeader('X-Request-Id', id);
    const url = req.url;
    const started = performance.now();
    res.once('close', () => {
      const completed = res.writableFinished;
      const level = accessLogLevel(url, res.statusCode, completed);
      if (!logger.isLevelEnabled(level)) return;
      logger[level](
        {
          req: { id, method: req.method, url },
          res: { statusCode: res.statusCode },
          responseTime: Math.round(performance.now() - started),
        },
        completed ? 'request completed' : 'request aborted before the response was sent',
      );
    });
    next();
  };
}

/** The access line's level: `error` only for a 500 (a bug); other 5xx are answers by design (offline, not ready, timed out). */
export function accessLogLevel(url: string, status: number, completed: boolean): Level {
  if (PROBES.has(url)) return status >= 500 ? 'warn' : 'debug';
  if (status === 500) return 'error';
  if (status > 500) return 'warn';
  if (status >= 400 || !completed) return 'info';
  return 'debug';
}
