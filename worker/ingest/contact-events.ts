import { phoneOfJid } from '../../shared/jid.js';
import type { ContactChange } from '../../shared/webhooks/events.js';
import type { TxQuery } from '../../shared/webhooks/outbox.js';
import type { IngestPlan } from './ingest-plan.js';

/** Where ingestion reports the contacts it stored or changed (webhooks), inside the batch's transaction. */
export interface ContactEvents {
  contactsChanged(query: TxQuery, sessionId: string, changes: ContactChange[]): Promise<void>;
}

/**
 * What a planned batch changes that users hear about: new people, a changed name, a learned or
 * changed phone ↔ LID mapping. Rows folded into another report nothing of their own: the row they
 * became reports the mapping. Other column changes (dm, business name) are not reported.
 */
export function contactChanges(plan: IngestPlan): ContactChange[] {
  const changes: ContactChange[] = [];
  for (const person of plan.contacts) {
    const stored = person.stored;
    const what: ContactChange['changes'] = [];
    if (!stored) what.push('new');
    else {
      if (person.name !== stored.name) what.push('name');
      if (person.lid !== stored.lid || person.pn !== stored.phoneJid) what.push('mapping');
    }
    if (what.length === 0) continue;
    changes.push({
      lid: person.lid,
      phoneNumber: person.pn === null ? null : (phoneOfJid(person.pn) ?? null),
      name: person.name,
      changes: what,
    });
  }
  return changes;
}
