import type { IngestOp, PersonRef } from './ingest-ops.js';

/**
 * The session's own account shows up in its groups' participant lists and sometimes in synced
 * contacts; it is not one of the people the session has seen, so it is never stored as a contact.
 */
export function withoutOwnAccount(ops: IngestOp[], self: PersonRef): IngestOp[] {
  const isSelf = (p: PersonRef) =>
    (p.lid !== undefined && p.lid === self.lid) || (p.pn !== undefined && p.pn === self.pn);
  const kept: IngestOp[] = [];
  for (const op of ops) {
    switch (op.kind) {
      case 'person':
      case 'member':
        if (!isSelf(op.person)) kept.push(op);
        break;
      case 'mapping':
        if (!isSelf({ lid: op.lid }) && !isSelf({ pn: op.pn })) kept.push(op);
        break;
      case 'members-snapshot':
        kept.push({ ...op, members: op.members.filter((m) => !isSelf(m.person)) });
        break;
      default:
        kept.push(op);
    }
  }
  return kept;
}
