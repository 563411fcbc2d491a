import { createRequire } from 'node:module';
import path from 'node:path';
import { Router } from 'express';
import { escapeHtml } from '../console/html.js';

const require = createRequire(import.meta.url);
const SWAGGER_UI_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));
const SWAGGER_UI_VERSION = (require('swagger-ui-dist/package.json') as { version: string }).version;

/** The only files of swagger-ui-dist the page loads; nothing else in the package is served. */
const ASSETS = new Set([
  'swagger-ui.css',
  'swagger-ui.css.map',
  'swagger-ui-bundle.js',
  'swagger-ui-bundle.js.map',
  'favicon-16x16.png',
  'favicon-32x32.png',
]);

/**
 * Kept in a file of its own (not inline) so the page runs under a CSP without 'unsafe-inline'
 * scripts; it takes the spec URL from the page. validatorUrl: null keeps the page from calling
 * swagger.io, so the reference works on a machine without internet.
 */
const INIT_SCRIPT = `window.addEventListener('load', function () {
  var root = document.getElementById('swagger-ui');
  window.ui = SwaggerUIBundle({
    url: root.getAttribute('data-spec-url'),
    domNode: root,
    deepLinking: true,
    persistAuthorization: true,
    displayRequestDuration: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout'
  });
});
`;

// Swagger UI sets inline styles and data: images; everything else comes from this origin.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function page(base: string, specUrl: string): string {
  const asset = (file: string) => escapeHtml(`${base}/assets/${SWAGGER_UI_VERSION}/${file}`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>WhatsApp Gateway — API reference</title>
  <link rel="stylesheet" href="${asset('swagger-ui.css')}">
  <link rel="icon" type="image/png" href="${asset('favicon-32x32.png')}" sizes="32x32">
  <link rel="icon" type="image/png" href="${asset('favicon-16x16.png')}" sizes="16x16">
</head>
<body>
  <noscript>This page needs JavaScript. The raw OpenAPI document is at <a href="${escapeHtml(specUrl)}">${escapeHtml(specUrl)}</a>.</noscript>
  <div id="swagger-ui" data-spec-url="${escapeHtml(specUrl)}"></div>
  <script src="${asset('swagger-ui-bundle.js')}"></script>
  <script src="${escapeHtml(`${base}/init.js`)}"></script>
</body>
</html>
`;
}

/**
 * The interactive API reference (Swagger UI) for the OpenAPI document at `specUrl`. Its assets are
 * served from the installed swagger-ui-dist package, never a CDN; their URLs carry the package
 * version, so browsers may cache them for good.
 */
export function apiDocs(specUrl: string): Router {
  const router = Router();
  router.get('/', (req, res) => {
    res.set({
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    });
    res.type('html').send(page(req.baseUrl, specUrl));
  });
  router.get('/init.js', (_req, res) => {
    res.set({ 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' });
    res.type('js').send(INIT_SCRIPT);
  });
  router.get('/assets/:version/:file', (req, res, next) => {
    const { version, file } = req.params;
    if (version !== SWAGGER_UI_VERSION || !ASSETS.has(file)) return next();
    res.sendFile(path.join(SWAGGER_UI_DIR, file), {
      maxAge: '365d',
      immutable: true,
      headers: { 'X-Content-Type-Options': 'nosniff' },
    });
  });
  return router;
}
