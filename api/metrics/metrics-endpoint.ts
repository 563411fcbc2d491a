import type { RequestHandler } from 'express';
import { AppError } from '../../shared/errors.js';
import { sameSecret } from '../../shared/secret-compare.js';
import { bearerToken } from '../auth/authenticate.js';

/** GET /metrics in the Prometheus text format; when a token is configured, only a scraper presenting it is served. */
export function metricsEndpoint(
  metricsText: () => Promise<string>,
  contentType: string,
  token: string | undefined,
): RequestHandler {
  return async (req, res) => {
    if (token !== undefined) {
      const header = req.headers.authorization;
      const presented = header ? bearerToken(header) : undefined;
      if (!presented || !sameSecret(presented, token))
        throw new AppError('unauthorized', 'metrics need Authorization: Bearer <METRICS_TOKEN>');
    }
    const body = await metricsText();
    res.setHeader('Content-Type', contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.send(body);
  };
}
