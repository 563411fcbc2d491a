import type { Request, RequestHandler } from 'express';
import type { Histogram } from 'prom-client';

export interface RouteTemplates {
  /** The declared API routes (OpenAPI-style paths), in the order Express tries them. */
  declared: readonly { method: string; path: string }[];
  /** Prefixes served by mounted sub-apps or static files (e.g. /docs), labelled as `<prefix>/*`. */
  mounts: readonly string[];
}

/**
 * Times every request and labels it with its route template, never the raw URL: ids in paths
 * would make one time series per session or contact.
 */
export function httpMetrics(
  histogram: Histogram<'method' | 'route' | 'status'>,
  templates: RouteTemplates,
): RequestHandler {
  const matchers = new Map<string, { method: string; path: string; pattern: RegExp }>();
  const matcherOf = (route: { method: string; path: string }) => {
    const key = `${route.method} ${route.path}`;
    let matcher = matchers.get(key);
    if (!matcher) {
      const source = route.path
        .split(/\{\w+\}/)
        .map(escapeRegExp)
        .join('[^/]+');
      matcher = { ...route, pattern: new RegExp(`^${source}/?$`) };
      matchers.set(key, matcher);
    }
    return matcher;
  };

  const templateOf = (req: Request): string => {
    const route = req.route as { path?: unknown } | undefined;
    if (route && typeof route.path === 'string') return toTemplate(`${req.baseUrl}${route.path}`);
    // Refused before routing (401, 429): find the declared route the URL was aimed at.
    const path = (req.originalUrl.split('?')[0] ?? '').replace(/\/{2,}/g, '/');
    const method = req.method.toLowerCase();
    for (const declared of templates.declared) {
      const matcher = matcherOf(declared);
      if (matcher.method === method && matcher.pattern.test(path)) return declared.path;
    }
    for (const mount of templates.mounts) if (path === mount || path.startsWith(`${mount}/`)) return `${mount}/*`;
    return 'unmatched';
  };

  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      histogram.observe({ method: req.method, route: templateOf(req), status: String(res.statusCode) }, seconds);
    });
    next();
  };
}

/** `/api/v1/sessions/:session` → `/api/v1/sessions/{session}`, the form the OpenAPI document uses. */
function toTemplate(expressPath: string): string {
  return expressPath.replace(/:(\w+)/g, '{$1}');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
