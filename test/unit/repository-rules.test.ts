import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../shared/config.js';
import { ERROR_STATUS } from '../../shared/errors.js';

/** The repository root: this file runs from dist/test/unit/. */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** Every variable loadConfig reads, found by handing it an environment that records each lookup. */
function configVariables(): string[] {
  const read = new Set<string>();
  const recorder = new Proxy({} as Record<string, string | undefined>, {
    get: (_target, key) => (typeof key === 'string' && read.add(key), undefined),
    has: (_target, key) => (typeof key === 'string' && read.add(key), false),
  });
  loadConfig(recorder);
  return [...read].filter((name) => /^[A-Z][A-Z0-9_]*$/.test(name)).sort();
}

/** The keys of the compose file's shared gateway environment (the `x-gateway-env` anchor). */
function composeSharedEnvironment(compose: string): Set<string> {
  const lines = compose.split('\n');
  const start = lines.findIndex((l) => l.startsWith('x-gateway-env:'));
  assert.ok(start >= 0, 'docker-compose.yml has its x-gateway-env block');
  const names = new Set<string>();
  for (const line of lines.slice(start + 1)) {
    if (/^\S/.test(line)) break;
    const name = /^ {2}([A-Z][A-Z0-9_]*):/.exec(line)?.[1];
    if (name) names.add(name);
  }
  return names;
}

/** Set per service on purpose (one api port, one id per worker), so not in the shared block. */
const PER_SERVICE: Record<string, string> = {
  HOST: 'api',
  PORT: 'api',
  API_PROCESSES: 'api',
  WORKER_ID: 'worker-1',
  WORKER_METRICS_PORT: 'worker-1',
};

/** One service's `environment:` keys, read by indentation (the file is plain two-space YAML). */
function serviceEnvironment(compose: string, service: string): Set<string> {
  const lines = compose.split('\n');
  const start = lines.findIndex((l) => l === `  ${service}:`);
  assert.ok(start >= 0, `docker-compose.yml has the ${service} service`);
  const names = new Set<string>();
  for (const line of lines.slice(start + 1)) {
    if (/^ {0,2}\S/.test(line)) break;
    const name = /^ {6}([A-Z][A-Z0-9_]*):/.exec(line)?.[1];
    if (name) names.add(name);
  }
  return names;
}

function sourceFiles(folder: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(ROOT, folder), { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && /\.(ts|mts|cts)$/.test(entry.name) && !entry.name.endsWith('.d.ts'))
      files.push(relative(ROOT, join(entry.parentPath, entry.name)));
  }
  return files;
}

/** Every module a file imports or re-exports, static or dynamic, resolved to a repository path when relative. */
function importsOf(file: string): string[] {
  const text = read(file);
  const specifiers = [
    ...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)['"]([^'"]+)['"]/g),
  ].map((m) => m[1]!);
  return specifiers.map((s) => (s.startsWith('.') ? relative(ROOT, resolve(ROOT, dirname(file), s)) : s));
}

const topFolder = (path: string) => path.split(sep)[0]!;

describe('unit: the docs and the architecture stay true', () => {
  const readme = read('README.md');
  const compose = read('docker-compose.yml');
  const variables = configVariables();

  it('finds the configuration variables', () => {
    assert.ok(variables.length > 50, `found ${variables.length}`);
    assert.ok(variables.includes('DATABASE_URL') && variables.includes('LIVE_TIMEOUT_MS'));
  });

  it('documents every configuration variable in README.md', () => {
    const missing = variables.filter((name) => !new RegExp(`\\b${name}\\b`).test(readme));
    assert.deepEqual(missing, []);
  });

  it("passes every configuration variable through docker-compose.yml's shared gateway environment", () => {
    const shared = composeSharedEnvironment(compose);
    const missing = variables.filter((name) => !(name in PER_SERVICE) && !shared.has(name));
    assert.deepEqual(missing, []);
    for (const [name, service] of Object.entries(PER_SERVICE))
      assert.ok(serviceEnvironment(compose, service).has(name), `${name} set on ${service}`);
    const unknown = [...shared].filter((name) => !variables.includes(name));
    assert.deepEqual(unknown, [], 'the compose file passes nothing the gateway does not read');
  });

  it('documents every error code with its HTTP status in README.md', () => {
    for (const [code, status] of Object.entries(ERROR_STATUS)) {
      assert.match(
        readme,
        new RegExp(`^\\| \`${code}\` \\| ${status} \\|`, 'm'),
        `${code} (${status}) in the README's error table`,
      );
    }
  });

  it('api/ never imports worker/, and worker/ never imports api/', () => {
    const crossings: string[] = [];
    for (const [from, forbidden] of [
      ['api', 'worker'],
      ['worker', 'api'],
      ['shared', 'api'],
      ['shared', 'worker'],
    ] as const) {
      const files = sourceFiles(from);
      assert.ok(files.length > 5, `found the files of ${from}/`);
      for (const file of files)
        for (const target of importsOf(file))
          if (topFolder(target) === forbidden) crossings.push(`${file} → ${target}`);
    }
    assert.deepEqual(crossings, []);
  });

  it('production code never imports test-only code (the fake WhatsApp server, the trust preload, test support)', () => {
    const offenders: string[] = [];
    for (const folder of ['api', 'worker', 'shared', 'migrations']) {
      for (const file of sourceFiles(folder)) {
        for (const target of importsOf(file))
          if (topFolder(target) === 'test' || /fake-whatsapp|trust-preload/.test(target))
            offenders.push(`${file} → ${target}`);
      }
    }
    assert.deepEqual(offenders, []);
  });
});
