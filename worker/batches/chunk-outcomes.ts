import type { CheckAnswer } from '../../shared/checks/check-answers.js';
import { phoneOfJid, phoneToJid } from '../../shared/jid.js';
import { numberForms } from '../../shared/phones/national-variants.js';
import type { NumberCheck } from '../driver/driver.js';

/** A pending number a session has claimed: its E.164 digits and how many of its forms were asked already. */
export interface ClaimedNumber {
  seq: number;
  normalized: string;
  tried: number;
}

/**
 * What one chunk's answer means for each of its numbers: on WhatsApp (in the form asked), not on
 * WhatsApp in any form, or not in this form but another form is still to be asked (`retry`: the
 * number stays pending and rides along in a later chunk, costing no query of its own).
 */
export type NumberOutcome = { seq: number; kind: 'final'; answer: CheckAnswer } | { seq: number; kind: 'retry' };

/** The form of the number this chunk asks about: the given one first, then its national variant. */
export function formToAsk(number: ClaimedNumber): string {
  const forms = numberForms(number.normalized);
  return forms[Math.min(number.tried, forms.length - 1)]!;
}

/** WhatsApp lists only registered numbers: one it does not list is not registered in that form. */
export function chunkOutcomes(chunk: ClaimedNumber[], answers: NumberCheck[], checkedAt: number): NumberOutcome[] {
  const registered = new Map(answers.filter((a) => a.exists).map((a) => [a.phone, a]));
  return chunk.map((number): NumberOutcome => {
    const asked = formToAsk(number);
    const found = registered.get(asked);
    if (found) {
      const jid = found.jid ?? phoneToJid(asked);
      const answer: CheckAnswer = {
        phone: number.normalized,
        onWhatsApp: true,
        jid,
        lid: found.lid ?? null,
        matchedAs: phoneOfJid(jid) ?? asked,
        checkedAt,
      };
      return { seq: number.seq, kind: 'final', answer };
    }
    if (number.tried + 1 < numberForms(number.normalized).length) return { seq: number.seq, kind: 'retry' };
    return {
      seq: number.seq,
      kind: 'final',
      answer: { phone: number.normalized, onWhatsApp: false, jid: null, lid: null, matchedAs: null, checkedAt },
    };
  });
}
