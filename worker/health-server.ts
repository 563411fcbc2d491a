import { createServer, type Server } from 'node:http';
import { sameSecret } from '../shared/secret-compare.js';

export interface WorkerHealth {
  workerId: string;
  shards: number[];
  sessions: number;
  online: number;
}

const BEARER = /^Bearer[ ]+([^\s]+)[ ]*$/i;

/**
 * The worker's only HTTP surface: liveness and metrics for the orchestrator, never the API. With
 * METRICS_TOKEN set, /metrics needs it as a Bearer token, as the api's does.
 */
export function startHealthServer(
  port: number,
  host: string,
  health: () => WorkerHealth,
  metrics: () => Promise<{ contentType: string; body: string }>,
  metricsToken: string | undefined,
): Server {
  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok', ...health() }));
      return;
    }
    if (req.url === '/metrics') {
      const presented = BEARER.exec(req.headers.authorization ?? '')?.[1];
      if (metricsToken !== undefined && (presented === undefined || !sameSecret(presented, metricsToken))) {
        const body = {
          error: { code: 'unauthorized', message: 'metrics need Authorization: Bearer <METRICS_TOKEN>', details: {} },
        };
        res
          .writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer realm="wa-gateway"' })
          .end(JSON.stringify(body));
        return;
      }
      metrics().then(
        ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
        () => res.writeHead(500).end(),
      );
      return;
    }
    res
      .writeHead(404, { 'content-type': 'application/json' })
      .end(JSON.stringify({ error: { code: 'not_found', message: 'not found', details: {} } }));
  });
  server.listen(port, host);
  return server;
}
