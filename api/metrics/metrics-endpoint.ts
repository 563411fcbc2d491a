import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AppError } from '../../shared/errors.js';
import { bearerToken } from '../auth/authenticate.js';

/** GET /metrics in the Prometheus text format; when a token is configured, only a scraper presenting it is served. */
export function metricsEndpoint(metricsText: () => Promise<string>, contentType: string, token: string | undefined): RequestHandler {
  const expected = token === undefined ? undefined : digest(token);
  return async (req, res) => {
    if (expected) {
      const header = req.headers.authorization;
      const presented = header ? bearerToken(header) : undefined;
      if (!presented || !timingSafeEqual(digest(presented), expected)) throw new AppError('unauthorized', 'metrics need Authorization: Bearer <METRICS_TOKEN>');
    }
    const body = await metricsText();
    res.setHeader('Content-Type', contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.send(body);
  };
}

/** Comparing fixed-length digests keeps the comparison constant-time whatever the presented length. */
function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
