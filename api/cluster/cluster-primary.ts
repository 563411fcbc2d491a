import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../../shared/config.js';
import type { Logger } from '../../shared/logger.js';
import { serveClusterMetrics } from './cluster-metrics.js';

/** A process that dies sooner than this after its start counts towards the restart back-off. */
const STABLE_AFTER_MS = 10_000;
const MAX_RESTART_DELAY_MS = 30_000;
/** Each api process drains its connections for up to 10 s; past this it is killed. */
const STOP_GRACE_MS = 20_000;

/**
 * Supervises API_PROCESSES api processes that share one port (Node's cluster hands connections
 * round-robin). It serves no HTTP itself: it starts the processes, replaces any that dies (backing
 * off while they keep dying young), gathers their metrics for GET /metrics, and on SIGTERM or
 * SIGINT lets every one drain before it exits.
 */
export function runClusterPrimary(config: Config, logger: Logger): void {
  // Secrets generated at start-up must be the same in every process: a cookie signed by one
  // process is presented to another.
  const env = { ADMIN_SESSION_SECRET: config.admin.sessionSecret };
  const startedAt = new Map<Worker, number>();
  let youngDeaths = 0;
  let stopping = false;

  const start = () => {
    const worker = cluster.fork(env);
    startedAt.set(worker, Date.now());
  };

  serveClusterMetrics();
  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker) ?? 0);
    startedAt.delete(worker);
    if (stopping) {
      if (startedAt.size === 0) {
        logger.info('every api process stopped; bye');
        process.exit(0);
      }
      return;
    }
    youngDeaths = lived < STABLE_AFTER_MS ? youngDeaths + 1 : 0;
    const delay = Math.min(MAX_RESTART_DELAY_MS, youngDeaths === 0 ? 0 : 500 * 2 ** (youngDeaths - 1));
    logger.error(
      { pid: worker.process.pid, code, signal, restartInMs: delay },
      'an api process exited; starting a new one',
    );
    setTimeout(() => {
      if (!stopping) start();
    }, delay);
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, processes: startedAt.size }, 'stopping every api process');
    if (startedAt.size === 0) process.exit(0);
    for (const worker of startedAt.keys()) worker.process.kill('SIGTERM');
    setTimeout(() => {
      for (const worker of startedAt.keys()) worker.process.kill('SIGKILL');
    }, STOP_GRACE_MS).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  for (let i = 0; i < config.http.processes; i++) start();
  logger.info({ processes: config.http.processes, port: config.http.port }, 'api cluster started');
}
