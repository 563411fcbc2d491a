import assert from 'node:assert/strict';
import { call, get } from './support/http.js';

/** Every src= and href= of the page, in document order. */
function referencedUrls(html: string): string[] {
  return [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!.replaceAll('&#38;', '&'));
}

describe('GET /docs', () => {
  it('returns an HTML page that points Swagger UI at /openapi.json', async () => {
    const res = await get('/docs');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(res.text, /<div id="swagger-ui" data-spec-url="\/openapi\.json">/);
    const spec = await get('/openapi.json');
    assert.equal(spec.status, 200);
    assert.equal(spec.body.openapi, '3.1.0');
  });

  it('needs no token, like /openapi.json', async () => {
    const res = await call('GET', '/docs', { headers: { authorization: 'Bearer wag_nonsense' } });
    assert.equal(res.status, 200);
  });

  it('loads every script and stylesheet from this server, never from a CDN', async () => {
    const res = await get('/docs');
    const urls = referencedUrls(res.text);
    const scripts = [...res.text.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]!);
    const styles = [...res.text.matchAll(/<link rel="stylesheet" href="([^"]+)"/g)].map((m) => m[1]!);
    assert.equal(scripts.length, 2, 'the Swagger UI bundle and the page initialiser');
    assert.equal(styles.length, 1);
    for (const url of urls) assert.match(url, /^\/(?!\/)/, `${url} is not a same-origin path`);
  });

  it('serves each asset the page references with 200 and the right content type', async () => {
    const res = await get('/docs');
    const expectations: [RegExp, RegExp][] = [
      [/\.js$/, /^(text|application)\/javascript/],
      [/\.css$/, /^text\/css/],
      [/\.png$/, /^image\/png/],
      [/\.json$/, /^application\/json/],
    ];
    const urls = referencedUrls(res.text);
    assert.ok(urls.length >= 5, `expected the page to reference its assets, got ${urls.join(', ')}`);
    for (const url of urls) {
      const asset = await call('GET', url);
      assert.equal(asset.status, 200, `GET ${url}`);
      const type = expectations.find(([ext]) => ext.test(url))?.[1];
      if (type) assert.match(asset.headers.get('content-type') ?? '', type, `content type of ${url}`);
      assert.ok(asset.text.length > 0, `${url} is empty`);
    }
  });

  it('serves the Swagger UI bundle itself (not a stub) and an initialiser that reads the spec URL from the page', async () => {
    const res = await get('/docs');
    const [bundle, init] = [...res.text.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]!);
    const bundleBody = await call('GET', bundle!);
    assert.ok(bundleBody.text.length > 500_000, 'swagger-ui-bundle.js is the full bundle');
    assert.match(bundleBody.text, /SwaggerUIBundle/);
    const initBody = await call('GET', init!);
    assert.match(initBody.text, /SwaggerUIBundle\(/);
    assert.match(initBody.text, /data-spec-url/);
    assert.match(initBody.text, /validatorUrl: null/, 'the page must not call the public swagger.io validator');
  });

  it('lets the page run under a Content-Security-Policy that allows only this origin', async () => {
    const res = await get('/docs');
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
  });

  it('also answers on /docs/ with asset paths that still resolve', async () => {
    const res = await get('/docs/');
    assert.equal(res.status, 200);
    for (const url of referencedUrls(res.text)) assert.equal((await call('GET', url)).status, 200, `GET ${url}`);
  });

  it('answers 404 with the error envelope for files of swagger-ui-dist the page does not use', async () => {
    const page = await get('/docs');
    const bundle = [...page.text.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]!)[0]!;
    for (const url of [
      bundle.replace('swagger-ui-bundle.js', 'package.json'),
      bundle.replace('swagger-ui-bundle.js', '..%2Fpackage.json'),
      '/docs/assets/0.0.0/swagger-ui-bundle.js',
      '/docs/nope',
    ]) {
      const res = await call('GET', url);
      assert.equal(res.status, 404, `GET ${url}`);
      assert.equal(res.body?.error?.code, 'not_found', `GET ${url}`);
    }
  });
});
