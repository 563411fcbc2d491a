import { DEFAULT_CURSOR_SECRET, type Config } from '../shared/config.js';

/**
 * Settings that are fine on a developer's machine and unsafe in production, each with what to do
 * about it. The api logs them at start-up when NODE_ENV is `production` (README, "Security").
 */
export function insecureSettings(config: Config): string[] {
  const warnings: string[] = [];
  if (config.metrics.token === undefined)
    warnings.push(
      'GET /metrics is open to anyone who can reach the api (queue depths, request rates): set METRICS_TOKEN',
    );
  if (config.cursorSecret === DEFAULT_CURSOR_SECRET)
    warnings.push('CURSOR_SECRET is the published default: set your own');
  if (config.jwt && (config.jwt.issuer === undefined || config.jwt.audience === undefined)) {
    warnings.push('login JWTs are accepted without checking their issuer or audience: set JWT_ISSUER and JWT_AUDIENCE');
  }
  return warnings;
}
