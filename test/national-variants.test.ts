import assert from 'node:assert/strict';
import { NATIONAL_VARIANT_RULES, nationalVariant, numberForms } from '../shared/phones/national-variants.js';
import { parseGivenNumber } from '../shared/phones/phone-numbers.js';
import { chunkOutcomes } from '../worker/batches/chunk-outcomes.js';

describe('national number variants (one table, from the numbering plans)', () => {
  it('has exactly one rule per country, each citing its numbering plan', () => {
    assert.deepEqual(NATIONAL_VARIANT_RULES.map((r) => r.country).sort(), ['AR', 'BR', 'MX']);
    for (const rule of NATIONAL_VARIANT_RULES) assert.ok(rule.source.length > 10, `${rule.country} cites its source`);
  });

  describe('Brazil: the ninth digit of mobiles (Anatel Res. 553/2010)', () => {
    it('pairs the 9-digit mobile number with its former 8-digit form, both ways, after the 2-digit area code', () => {
      assert.equal(nationalVariant('5511987654321'), '551187654321');
      assert.equal(nationalVariant('551187654321'), '5511987654321');
      assert.equal(nationalVariant('5521961234567'), '552161234567');
    });

    it('leaves fixed lines (2–5) and 9-digit numbers that never had an 8-digit form alone', () => {
      assert.equal(nationalVariant('551133334444'), undefined, 'São Paulo fixed line');
      assert.equal(nationalVariant('5511923456789'), undefined, '9 followed by 2 was never an 8-digit mobile');
      assert.equal(nationalVariant('5501987654321'), undefined, 'no area code has a 0');
    });
  });

  describe('Mexico: the 1 after +52 (IFT plan in force 3 Aug 2019)', () => {
    it('pairs the 10-digit number with its legacy 52 1 mobile form, both ways', () => {
      assert.equal(nationalVariant('525512345678'), '5215512345678');
      assert.equal(nationalVariant('5215512345678'), '525512345678');
    });

    it('never takes a 1 that begins a 10-digit number for the legacy digit (no national number begins with 1)', () => {
      assert.equal(nationalVariant('52155123456'), undefined);
      assert.equal(nationalVariant('52551234567'), undefined, 'not 10 digits');
    });
  });

  describe('Argentina: the 9 of mobiles after +54 (ENACOM plan)', () => {
    it('pairs +54 9 + 10 digits with +54 + 10 digits, both ways, for area codes 1–3', () => {
      assert.equal(nationalVariant('5491112345678'), '541112345678');
      assert.equal(nationalVariant('541112345678'), '5491112345678');
      assert.equal(nationalVariant('543514567890'), '5493514567890', 'Córdoba (351)');
    });

    it('reads the national "15" mobile prefix as libphonenumber does: area code, 15, subscriber → +54 9', () => {
      assert.deepEqual(parseGivenNumber('+54 11 15 1234-5678'), { valid: true, digits: '5491112345678' });
      assert.deepEqual(parseGivenNumber('+54 351 15 456-7890'), { valid: true, digits: '5493514567890' });
    });
  });

  it('gives no variant to countries outside the table', () => {
    for (const digits of ['4915112345678', '14155550123', '6281234567890', '919876543210'])
      assert.equal(nationalVariant(digits), undefined, digits);
    assert.deepEqual(numberForms('4915112345678'), ['4915112345678']);
    assert.deepEqual(numberForms('5511987654321'), ['5511987654321', '551187654321'], 'the given form first');
  });
});

describe('reading a bulk entry (libphonenumber-js)', () => {
  it('accepts international notations and returns E.164 digits', () => {
    for (const entry of [
      '+49 151 1234-5678',
      '0049 (151) 12345678',
      '4915112345678',
      '+49.151.1234.5678',
      '+49/151/12345678',
    ]) {
      assert.deepEqual(parseGivenNumber(entry), { valid: true, digits: '4915112345678' }, entry);
    }
  });

  it('keeps a legacy form the plan no longer has when its national variant is valid (WhatsApp may know it so)', () => {
    assert.deepEqual(parseGivenNumber('+55 11 8765-4321'), { valid: true, digits: '551187654321' });
    assert.deepEqual(parseGivenNumber('+52 1 55 1234 5678'), { valid: true, digits: '5215512345678' });
  });

  it('says why an entry is not a valid number', () => {
    const reasons: [string, string][] = [
      ['call me', 'not_a_number'],
      ['+49 151 1234 567a', 'not_a_number'],
      ['12', 'too_short'],
      ['+0123456789', 'invalid_country_code'],
      ['+999 1234 5678', 'invalid_country_code'],
      ['+1 415 555 0123 456', 'too_long'],
      ['+4915112345', 'not_in_numbering_plan'],
      ['+1 555 000 0000', 'not_in_numbering_plan'],
    ];
    for (const [entry, reason] of reasons) assert.deepEqual(parseGivenNumber(entry), { valid: false, reason }, entry);
  });
});

describe('a chunk answer with national variants', () => {
  const at = 1_700_000_000_000;

  it('keeps a number not found in its first form pending for its variant, and answers it once every form was asked', () => {
    const chunk = [
      { seq: 1, normalized: '5511987654321', tried: 0 },
      { seq: 2, normalized: '4915112345678', tried: 0 },
      { seq: 3, normalized: '525512345678', tried: 1 },
    ];
    const outcomes = chunkOutcomes(
      chunk,
      [{ phone: '5215512345678', exists: true, jid: '5215512345678@s.whatsapp.net' }],
      at,
    );
    assert.deepEqual(outcomes, [
      { seq: 1, kind: 'retry' },
      {
        seq: 2,
        kind: 'final',
        answer: { phone: '4915112345678', onWhatsApp: false, jid: null, lid: null, matchedAs: null, checkedAt: at },
      },
      {
        seq: 3,
        kind: 'final',
        answer: {
          phone: '525512345678',
          onWhatsApp: true,
          jid: '5215512345678@s.whatsapp.net',
          lid: null,
          matchedAs: '5215512345678',
          checkedAt: at,
        },
      },
    ]);
  });
});
