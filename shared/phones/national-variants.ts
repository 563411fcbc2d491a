/**
 * National number variants: countries where one mobile number is written, and registered on
 * WhatsApp, with or without one extra digit. An account registered under one form is not found by
 * a query for the other, so a number not found is asked again in its other form.
 *
 * This table is the one place those rules live. Each rule is read from the country's numbering
 * plan, cited beside it; libphonenumber-js (phone-numbers.ts) covers what it can on its own
 * (Argentina's national "15" mobile prefix), so it is not repeated here.
 */

export interface NationalVariantRule {
  /** ISO 3166 country. */
  country: 'BR' | 'MX' | 'AR';
  callingCode: string;
  /** How many digits after the calling code stay in front of the optional digit (Brazil's area code). */
  areaDigits: number;
  /** What those digits must be. */
  area: RegExp;
  /** The optional digit. */
  digit: string;
  /** What follows the optional digit in either form; a number not of this shape has no variant. */
  rest: RegExp;
  /** The numbering plan the rule is read from. */
  source: string;
}

export const NATIONAL_VARIANT_RULES: readonly NationalVariantRule[] = [
  {
    // Anatel, Resolução nº 553 of 14 Dec 2010: mobile (SMP) numbers take the format
    // N9 N8N7N6N5 N4N3N2N1 — a ninth digit 9 in front of the former 8-digit number — rolled out area
    // code by area code from 2012 (DDD 11) to 2016. Area codes (DDD) are two digits 11–99 without a
    // 0; the former 8-digit mobile numbers began with 6–9 (2–5 are fixed lines, which never changed).
    // Accounts registered before the change may still be known by the 8-digit form.
    country: 'BR',
    callingCode: '55',
    areaDigits: 2,
    area: /^[1-9][1-9]$/,
    digit: '9',
    rest: /^[6-9]\d{7}$/,
    source: 'Anatel Resolução nº 553/2010 (nono dígito do SMP)',
  },
  {
    // IFT, Plan Técnico Fundamental de Numeración (DOF 11 May 2018, in force 3 Aug 2019; ITU
    // Operational Bulletin 1151, communication of 12.VI.2018): every number is 10 digits and the
    // digit 1 that international calls to mobiles put after +52 was abolished. National numbers
    // never begin with 0 or 1, so "52 1 + 10 digits" is always the legacy mobile form. Mobile and
    // fixed numbers share the 10-digit ranges, so the rule applies to every 10-digit number.
    country: 'MX',
    callingCode: '52',
    areaDigits: 0,
    area: /^$/,
    digit: '1',
    rest: /^[2-9]\d{9}$/,
    source: 'IFT Plan Técnico Fundamental de Numeración 2018, in force 3 Aug 2019',
  },
  {
    // ENACOM, Plan Fundamental de Numeración Nacional: a national number is the area code (2–4
    // digits, beginning with 1, 2 or 3) and the subscriber number, 10 digits in all; calls from
    // abroad reach a mobile as +54 9 + those 10 digits, while text messages and many address books
    // use +54 + 10 digits. Mobile and fixed numbers share the ranges, so either form may be the one
    // an account is registered under.
    country: 'AR',
    callingCode: '54',
    areaDigits: 0,
    area: /^$/,
    digit: '9',
    rest: /^[1-3]\d{9}$/,
    source: 'ENACOM Plan Fundamental de Numeración Nacional (mobile access +54 9)',
  },
];

/** The other form of an E.164 number (digits, no +) under the table, or undefined when it has none. */
export function nationalVariant(digits: string): string | undefined {
  for (const rule of NATIONAL_VARIANT_RULES) {
    if (!digits.startsWith(rule.callingCode)) continue;
    const national = digits.slice(rule.callingCode.length);
    const area = national.slice(0, rule.areaDigits);
    if (!rule.area.test(area)) continue;
    const after = national.slice(rule.areaDigits);
    const head = `${rule.callingCode}${area}`;
    if (after.startsWith(rule.digit) && rule.rest.test(after.slice(1))) return `${head}${after.slice(1)}`;
    if (rule.rest.test(after)) return `${head}${rule.digit}${after}`;
  }
  return undefined;
}

/** Every form a number may be registered under, the given one first. */
export function numberForms(digits: string): string[] {
  const variant = nationalVariant(digits);
  return variant === undefined ? [digits] : [digits, variant];
}

/** True when `a` and `b` are two forms of one number under the table. */
export const areNationalVariants = (a: string, b: string): boolean => a !== b && nationalVariant(a) === b;
