/** The pure rules behind issue 12's fixes, tested without processes. */
import assert from 'node:assert/strict';
import type { Request } from 'express';
import { csvCell } from '../api/batches/csv-cell.js';
import { sameOriginOnly } from '../api/bull-board/same-origin.js';
import { jsonDepthExceeds } from '../api/http/json-depth.js';
import { insecureSettings } from '../api/insecure-settings.js';
import { loadConfig } from '../shared/config.js';
import { AppError } from '../shared/errors.js';
import { canonicalJson, JobSigner } from '../shared/job-signing/job-signer.js';

const bytes = (text: string) => Buffer.from(text, 'utf8');

describe('JSON depth scan (before JSON.parse)', () => {
  it('finds nesting deeper than the limit, in arrays and objects alike', () => {
    assert.equal(jsonDepthExceeds(bytes('[[[1]]]'), 3), false);
    assert.equal(jsonDepthExceeds(bytes('[[[[1]]]]'), 3), true);
    assert.equal(jsonDepthExceeds(bytes('{"a":{"b":{"c":{}}}}'), 3), true);
    assert.equal(jsonDepthExceeds(bytes('{"phones":["1","2"]}'), 2), false);
  });

  it('counts depth, not brackets: siblings do not add up', () => {
    assert.equal(jsonDepthExceeds(bytes(`[${'[1],'.repeat(10_000)}[2]]`), 2), false);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    assert.equal(jsonDepthExceeds(bytes(`["[[[[[[", "\\"[[[[[[", "\\\\", "{{{{"]`), 1), false);
    assert.equal(
      jsonDepthExceeds(bytes(`["\\\\"], [[1]]`), 1),
      true,
      'an escaped backslash does not escape the closing quote',
    );
  });

  it('stops at the first level too deep of an 8 MB nesting', () => {
    const huge = Buffer.alloc(8 * 1024 * 1024, '[');
    assert.equal(jsonDepthExceeds(huge, 8), true);
  });

  it('leaves malformed JSON to the parser (an unterminated string is not "too deep")', () => {
    assert.equal(jsonDepthExceeds(bytes('["[[[[[[[[[[[['), 2), false);
  });

  it('is not fooled by multi-byte UTF-8 characters', () => {
    assert.equal(jsonDepthExceeds(bytes('["é[", "日本"]'), 1), false);
  });
});

describe('CSV cells (formula guard)', () => {
  for (const attack of [
    "-2+3+cmd|' /C calc'!A0",
    '+1+HYPERLINK("http://evil.example")',
    '-0+WEBSERVICE("http://evil.example")',
    '=1+1',
    '@SUM(A1)',
    '\t=1',
    '\r=1',
    '＝1+1',
    '+12',
    '-1-1',
  ]) {
    it(`defuses ${JSON.stringify(attack)} as an invalid entry`, () => {
      const cell = csvCell(attack, false);
      assert.ok(cell.replace(/^"/, '').startsWith("'"), cell);
    });
  }

  it('leaves an accepted phone number written in digits and punctuation as sent', () => {
    for (const phone of ['+14155550123', '+1 (415) 555-0123', '0049 151.1234567', '14155550123'])
      assert.equal(csvCell(phone, true), phone);
  });

  it('defuses a formula even when the row was accepted as a phone number', () => {
    assert.equal(csvCell('+1+HYPERLINK(1)', true), "'+1+HYPERLINK(1)");
  });

  it('quotes commas, quotes and line breaks, and writes null as empty', () => {
    assert.equal(csvCell('not, a number'), '"not, a number"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell(null), '');
    assert.equal(csvCell(1719662400000), '1719662400000');
  });
});

describe('job signatures', () => {
  const signer = new JobSigner(Buffer.from('a secret of at least thirty-two characters'));
  const envelope = {
    op: 'contacts.block',
    sessionId: 'sess_1',
    input: { jid: '1@s.whatsapp.net' },
    deadline: 1_700_000_000_000,
    replyTo: 'ch',
  };

  it('verifies what it sealed, after a JSON round trip through Redis', () => {
    const sealed = JSON.parse(JSON.stringify(signer.seal('live', 'job-1', envelope))) as unknown;
    assert.equal(signer.verify('live', 'job-1', sealed), true);
  });

  it('refuses a changed field, another job id, another kind, another key, or no signature', () => {
    const sealed = signer.seal('live', 'job-1', envelope);
    assert.equal(signer.verify('live', 'job-1', { ...sealed, sessionId: 'sess_2' }), false);
    assert.equal(signer.verify('live', 'job-1', { ...sealed, input: { jid: '2@s.whatsapp.net' } }), false);
    assert.equal(signer.verify('live', 'job-2', sealed), false);
    assert.equal(signer.verify('check-batch', 'job-1', sealed), false);
    assert.equal(
      new JobSigner(Buffer.from('another secret of thirty-two characters!!')).verify('live', 'job-1', sealed),
      false,
    );
    assert.equal(signer.verify('live', 'job-1', envelope), false);
    assert.equal(signer.verify('live', undefined, sealed), false);
    assert.equal(signer.verify('live', 'job-1', null), false);
  });

  it('re-seals data that carries an old signature', () => {
    const sealed = signer.seal('check-batch', 'b1', { batchId: 'b1' });
    const resealed = signer.seal('check-batch', 'b1', { ...sealed, failures: 2 });
    assert.equal(signer.verify('check-batch', 'b1', resealed), true);
  });

  it('serialises canonically: key order and undefined members do not matter', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [1, undefined], c: 'x' }, e: undefined }),
      '{"a":{"c":"x","d":[1,null]},"b":1}',
    );
  });
});

describe('same-origin check for state-changing admin requests', () => {
  const request = (method: string, headers: Record<string, string>, host = 'gw.example:3000') =>
    ({ method, headers, host }) as unknown as Request;
  /** 'passed', or what the check answered instead. */
  const verdict = (req: Request): string => {
    let outcome = 'not called';
    try {
      sameOriginOnly(req, {} as never, () => {
        outcome = 'passed';
      });
    } catch (err) {
      outcome = err instanceof AppError ? err.code : 'crash';
    }
    return outcome;
  };

  it('lets reads through whatever their origin', () => {
    assert.equal(verdict(request('GET', { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' })), 'passed');
  });

  it('trusts the browser when it says same-origin or none, and refuses same-site and cross-site', () => {
    assert.equal(verdict(request('POST', { 'sec-fetch-site': 'same-origin' })), 'passed');
    assert.equal(verdict(request('POST', { 'sec-fetch-site': 'none' })), 'passed');
    assert.equal(verdict(request('PUT', { 'sec-fetch-site': 'same-site' })), 'forbidden');
    assert.equal(
      verdict(request('POST', { 'sec-fetch-site': 'cross-site', origin: 'http://gw.example:3000' })),
      'forbidden',
    );
  });

  it('without Sec-Fetch-Site, compares the Origin host with this host (case-insensitively)', () => {
    assert.equal(verdict(request('POST', { origin: 'https://gw.example:3000' })), 'passed');
    assert.equal(verdict(request('POST', { origin: 'https://gw.example:3000' }, 'GW.Example:3000')), 'passed');
    assert.equal(verdict(request('POST', { origin: 'http://evil.example' })), 'forbidden');
    assert.equal(verdict(request('POST', { origin: 'http://gw.example:3001' })), 'forbidden');
    assert.equal(verdict(request('DELETE', { origin: 'null' })), 'forbidden');
  });

  it('lets through clients that are not browsers (neither header)', () => {
    assert.equal(verdict(request('POST', {})), 'passed');
  });
});

describe('configuration of the security settings', () => {
  it('defaults to: Bull Board for the operator only, read-only for others, proxies on loopback trusted', () => {
    const config = loadConfig({});
    assert.deepEqual(config.admin.organizations, []);
    assert.equal(config.admin.queueActions, 'operator');
    assert.deepEqual(config.http.trustProxy, ['loopback']);
    assert.equal(config.jwt, undefined);
    assert.equal(config.rateLimit.authFailuresPerMinute, 30);
    assert.equal(config.admin.loginFailures, 10);
    assert.equal(config.batches.maxPendingPerOrg, 200_000);
  });

  it('parses TRUST_PROXY and refuses what Express could not use', () => {
    assert.equal(loadConfig({ TRUST_PROXY: 'false' }).http.trustProxy, false);
    assert.equal(loadConfig({ TRUST_PROXY: '2' }).http.trustProxy, 2);
    assert.deepEqual(loadConfig({ TRUST_PROXY: '10.0.0.0/8, loopback, ::1' }).http.trustProxy, [
      '10.0.0.0/8',
      'loopback',
      '::1',
    ]);
    assert.throws(() => loadConfig({ TRUST_PROXY: 'everyone' }), /TRUST_PROXY/);
  });

  it('keeps a role map where only the configured roles exist', () => {
    const roles = loadConfig({ JWKS_URL: 'http://127.0.0.1:1/jwks.json' }).jwt!.roleCapabilities;
    for (const role of ['constructor', '__proto__', 'toString']) assert.equal(roles.get(role), undefined);
    assert.deepEqual(roles.get('viewer'), ['read']);
  });

  it('lists the unsafe settings a production api warns about', () => {
    const open = insecureSettings(loadConfig({ JWKS_URL: 'http://127.0.0.1:1/jwks.json' }));
    assert.equal(open.length, 3);
    assert.match(open.join('\n'), /METRICS_TOKEN/);
    assert.match(open.join('\n'), /CURSOR_SECRET/);
    assert.match(open.join('\n'), /JWT_ISSUER/);
    const closed = insecureSettings(
      loadConfig({
        METRICS_TOKEN: 'a-long-metrics-token',
        CURSOR_SECRET: 'my-own-cursor-secret',
        JWKS_URL: 'http://127.0.0.1:1/jwks.json',
        JWT_ISSUER: 'i',
        JWT_AUDIENCE: 'a',
      }),
    );
    assert.deepEqual(closed, []);
  });
});
