/**
 * The vocabulary ingestion works in. Every Baileys event is read into these operations first, so
 * the planner and the SQL never see a raw payload: JIDs are normalised, texts bounded, roles mapped.
 */

export type Role = 'member' | 'admin' | 'superadmin';

/** A person as an event names them. Both ids at once also reveal their LID ↔ phone mapping. */
export interface PersonRef {
  lid?: string;
  /** Phone JID, `<digits>@s.whatsapp.net`. */
  pn?: string;
}

/**
 * What one event says about one person's membership of one group. `tag` is the member's label in
 * that group (WhatsApp "member tags": group.member-tag.update, or memberLabel in a history sync);
 * a participant's `notify` / `name` is not a per-group nickname and never becomes a tag.
 */
export type MemberChange =
  /** A member: joined, seen, promoted, demoted or tagged. Absent fields leave the stored value. */
  { present: true; role?: Role; tag?: string } | { present: false };

export type IngestOp =
  | { kind: 'person'; person: PersonRef; savedName?: string; pushName?: string; businessName?: string; dm?: true }
  /**
   * "Phone `pn` belongs to `lid`". `onlyKnown`: learned by a look-up of the gateway's own (a number
   * check, a block), which says nothing about who the session has seen: it links rows already
   * stored and never creates one.
   */
  | { kind: 'mapping'; lid: string; pn: string; onlyKnown?: true }
  | { kind: 'group'; jid: string; subject?: string }
  | { kind: 'member'; group: string; person: PersonRef; change: MemberChange }
  /** The complete member list of a group at this moment: everyone else has left it. */
  | { kind: 'members-snapshot'; group: string; members: { person: PersonRef; role: Role }[] };

/** The operations read from one event, stamped with the time it arrived. */
export interface TimedOps {
  at: number;
  ops: IngestOp[];
}
