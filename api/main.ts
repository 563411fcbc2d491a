import cluster from 'node:cluster';
import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { runApiProcess } from './api-process.js';
import { insecureSettings } from './insecure-settings.js';
import { clusterMetrics, localMetrics } from './cluster/cluster-metrics.js';
import { runClusterPrimary } from './cluster/cluster-primary.js';

const config = loadConfig();
const logger = createLogger(config.logLevel, 'api');

// Once per instance: the primary of a cluster, or the single process.
if (cluster.isPrimary && config.env === 'production')
  for (const warning of insecureSettings(config)) logger.warn(warning);

if (cluster.isPrimary && config.http.processes > 1) runClusterPrimary(config, logger);
else await runApiProcess(config, logger, cluster.isWorker ? clusterMetrics : localMetrics);
