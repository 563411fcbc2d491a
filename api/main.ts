import cluster from 'node:cluster';
import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { runApiProcess } from './api-process.js';
import { clusterMetrics, localMetrics } from './cluster/cluster-metrics.js';
import { runClusterPrimary } from './cluster/cluster-primary.js';

const config = loadConfig();
const logger = createLogger(config.logLevel, 'api');

if (cluster.isPrimary && config.http.processes > 1) runClusterPrimary(config, logger);
else await runApiProcess(config, logger, cluster.isWorker ? clusterMetrics : localMetrics);
