import { createServer, type Server } from 'node:http';

export interface WorkerHealth {
  workerId: string;
  shards: number[];
  sessions: number;
  online: number;
}

/** The worker's only HTTP surface: liveness and metrics for the orchestrator, never the API. */
export function startHealthServer(port: number, host: string, health: () => WorkerHealth, metrics: () => Promise<{ contentType: string; body: string }>): Server {
  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok', ...health() }));
      return;
    }
    if (req.url === '/metrics') {
      metrics().then(
        ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
        () => res.writeHead(500).end(),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'not_found', message: 'not found', details: {} } }));
  });
  server.listen(port, host);
  return server;
}
