/**
 * Reading a phone number someone gave (a bulk-check entry) into E.164 digits, or the reason it is
 * not one. libphonenumber-js, with its full ("max") metadata from Google's libphonenumber, decides
 * what a country's numbering plan allows; its metadata also turns Argentina's national mobile
 * notation (area code, "15", subscriber) into the international +54 9 form.
 */
import { parsePhoneNumberFromString, validatePhoneNumberLength } from 'libphonenumber-js/max';
import { nationalVariant } from './national-variants.js';

export const INVALID_NUMBER_REASONS = [
  'not_a_number',
  'invalid_country_code',
  'too_short',
  'too_long',
  'invalid_length',
  'not_in_numbering_plan',
] as const;
export type InvalidNumberReason = (typeof INVALID_NUMBER_REASONS)[number];

export type GivenNumber = { valid: true; digits: string } | { valid: false; reason: InvalidNumberReason };

/** Spaces, dashes, dots, slashes and parentheses people put between digits. */
const SEPARATORS = /[\s().\-/]/g;

const LENGTH_REASONS: Record<string, InvalidNumberReason> = {
  NOT_A_NUMBER: 'not_a_number',
  INVALID_COUNTRY: 'invalid_country_code',
  TOO_SHORT: 'too_short',
  TOO_LONG: 'too_long',
  INVALID_LENGTH: 'invalid_length',
};

const isValidE164 = (digits: string) => parsePhoneNumberFromString(`+${digits}`)?.isValid() === true;

/**
 * An entry in international notation ("+55 11 98765-4321", "0055…", or digits starting with the
 * country code). Valid when libphonenumber finds it in its country's plan, or when it is the legacy
 * form of a number that is (national-variants.ts): such a number keeps the form it was given in,
 * since that may be the form WhatsApp knows.
 */
export function parseGivenNumber(entry: string): GivenNumber {
  const compact = entry.trim().replace(SEPARATORS, '');
  const digits = compact.startsWith('+') ? compact.slice(1) : compact.startsWith('00') ? compact.slice(2) : compact;
  if (!/^\d{1,20}$/.test(digits)) return { valid: false, reason: 'not_a_number' };
  const parsed = parsePhoneNumberFromString(`+${digits}`);
  if (parsed?.isValid()) return { valid: true, digits: parsed.number.slice(1) };
  const variant = nationalVariant(digits);
  if (variant !== undefined && isValidE164(variant)) return { valid: true, digits };
  const lengthProblem = validatePhoneNumberLength(`+${digits}`);
  return {
    valid: false,
    reason: lengthProblem ? (LENGTH_REASONS[lengthProblem] ?? 'invalid_length') : 'not_in_numbering_plan',
  };
}
