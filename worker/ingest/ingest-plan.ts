/**
 * Turns a batch of ingest operations, applied in arrival order on top of the stored contacts they
 * mention, into the rows to write. Pure: no SQL here, so every identity rule lives in one place.
 *
 * Identity rules: a LID, once on a row, never changes (it is the person). A phone JID belongs to at
 * most one row and moves to whichever LID the latest mapping names. A row known only by phone is
 * folded into its LID row when the mapping arrives, keeping the earliest first sighting, dm if either
 * had it, and the better name.
 */
import type { IngestOp, MemberChange, PersonRef, Role, TimedOps } from './ingest-ops.js';

/** Where a stored name came from: an address-book name outranks a push name. */
export type NameSource = 'saved' | 'push';

export interface StoredContact {
  id: number;
  lid: string | null;
  phoneJid: string | null;
  name: string | null;
  nameSource: NameSource | null;
  businessName: string | null;
  dm: boolean;
  firstSeenAt: number;
  updatedAt: number;
}

/** One person as the batch leaves them: a stored row (with its id) or a new one. */
export class Person {
  lid: string | null;
  pn: string | null;
  name: string | null;
  nameSource: NameSource | null;
  businessName: string | null;
  dm: boolean;
  firstSeenAt: number;
  updatedAt: number;
  /** Set once this person turned out to be another one. */
  mergedInto: Person | undefined;
  /** The row id, known up front for stored rows and after writing for new ones. */
  id: number | undefined;

  constructor(
    readonly stored: StoredContact | undefined,
    ref: PersonRef,
    at: number,
  ) {
    this.id = stored?.id;
    this.lid = stored ? stored.lid : (ref.lid ?? null);
    this.pn = stored ? stored.phoneJid : (ref.pn ?? null);
    this.name = stored?.name ?? null;
    this.nameSource = stored?.nameSource ?? null;
    this.businessName = stored?.businessName ?? null;
    this.dm = stored?.dm ?? false;
    this.firstSeenAt = stored?.firstSeenAt ?? at;
    this.updatedAt = stored?.updatedAt ?? at;
  }

  /** The person this one ended up as after every merge. */
  get current(): Person {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- walks the merge chain, starting here
    let person: Person = this;
    while (person.mergedInto) person = person.mergedInto;
    return person;
  }

  /** True when the row must be written: new, or any stored column differs. */
  get changed(): boolean {
    const s = this.stored;
    if (!s) return true;
    return (
      s.lid !== this.lid ||
      s.phoneJid !== this.pn ||
      s.name !== this.name ||
      (s.nameSource ?? null) !== this.nameSource ||
      s.businessName !== this.businessName ||
      s.dm !== this.dm ||
      s.firstSeenAt !== this.firstSeenAt
    );
  }
}

interface MemberState {
  present: boolean;
  role: Role | undefined;
  tag: string | undefined;
  lastSeen: number;
  /** The stored membership (if any) ended during the batch, so it is deleted before any re-join. */
  ended: boolean;
}

export interface MembershipPlan {
  group: string;
  /** A complete member list was seen: stored members not in `staying` have left. */
  replace: boolean;
  leaving: Person[];
  staying: { person: Person; role: Role | undefined; tag: string | undefined; lastSeen: number }[];
}

export interface IngestPlan {
  /** Stored rows folded into another stored row: move their memberships, then delete them. */
  merges: { from: number; into: number }[];
  /** Stored rows whose phone JID moves elsewhere: cleared before any row takes it. */
  phoneReleases: number[];
  /** New rows and stored rows that changed. */
  contacts: Person[];
  groups: { jid: string; subject: string | null; at: number }[];
  memberships: MembershipPlan[];
}

type MemberOp =
  | { at: number; group: string; person: Person; change: MemberChange }
  | { at: number; group: string; snapshot: { person: Person; role: Role }[] };

/** Every LID and phone JID a batch mentions: the stored rows to load before planning. */
export function referencedIds(batch: TimedOps[]): { lids: Set<string>; pns: Set<string> } {
  const lids = new Set<string>();
  const pns = new Set<string>();
  const add = (ref: PersonRef) => {
    if (ref.lid !== undefined) lids.add(ref.lid);
    if (ref.pn !== undefined) pns.add(ref.pn);
  };
  for (const { ops } of batch) {
    for (const op of ops) {
      if (op.kind === 'person' || op.kind === 'member') add(op.person);
      else if (op.kind === 'mapping') add(op);
      else if (op.kind === 'members-snapshot') for (const m of op.members) add(m.person);
    }
  }
  return { lids, pns };
}

export function planIngest(stored: StoredContact[], batch: TimedOps[]): IngestPlan {
  return new Planner(stored).run(batch);
}

class Planner {
  private readonly byLid = new Map<string, Person>();
  private readonly byPn = new Map<string, Person>();
  private readonly everyone: Person[] = [];
  private readonly merges: IngestPlan['merges'] = [];
  private readonly groups = new Map<string, { subject: string | null; at: number }>();
  private readonly memberOps: MemberOp[] = [];

  constructor(stored: StoredContact[]) {
    for (const row of stored) {
      const person = new Person(row, {}, row.firstSeenAt);
      this.everyone.push(person);
      if (row.lid !== null) this.byLid.set(row.lid, person);
      if (row.phoneJid !== null) this.byPn.set(row.phoneJid, person);
    }
  }

  run(batch: TimedOps[]): IngestPlan {
    for (const { at, ops } of batch) for (const op of ops) this.apply(op, at);
    return {
      merges: this.merges,
      phoneReleases: this.everyone
        .filter((p) => p.stored?.phoneJid && p.stored.phoneJid !== p.current.pn && !p.mergedInto)
        .map((p) => p.stored!.id),
      contacts: this.everyone.filter((p) => !p.mergedInto && p.changed),
      groups: [...this.groups].map(([jid, g]) => ({ jid, subject: g.subject, at: g.at })),
      memberships: this.foldMemberships(),
    };
  }

  private apply(op: IngestOp, at: number): void {
    switch (op.kind) {
      case 'mapping':
        if (op.onlyKnown && !this.byLid.has(op.lid) && !this.byPn.has(op.pn)) return;
        this.map(op.lid, op.pn, at);
        return;
      case 'person': {
        const person = this.resolve(op.person, at);
        if (op.savedName !== undefined) this.rename(person, op.savedName, 'saved', at);
        if (op.pushName !== undefined) this.rename(person, op.pushName, 'push', at);
        if (op.businessName !== undefined && person.businessName !== op.businessName) {
          person.businessName = op.businessName;
          person.updatedAt = at;
        }
        if (op.dm && !person.dm) {
          person.dm = true;
          person.updatedAt = at;
        }
        return;
      }
      case 'group':
        this.touchGroup(op.jid, op.subject, at);
        return;
      case 'member':
        this.touchGroup(op.group, undefined, at);
        this.memberOps.push({ at, group: op.group, person: this.resolve(op.person, at), change: op.change });
        return;
      case 'members-snapshot':
        this.touchGroup(op.group, undefined, at);
        this.memberOps.push({
          at,
          group: op.group,
          snapshot: op.members.map((m) => ({ person: this.resolve(m.person, at), role: m.role })),
        });
    }
  }

  private touchGroup(jid: string, subject: string | undefined, at: number): void {
    const known = this.groups.get(jid);
    if (!known) this.groups.set(jid, { subject: subject ?? null, at });
    else if (subject !== undefined) this.groups.set(jid, { subject, at });
  }

  private rename(person: Person, name: string, source: NameSource, at: number): void {
    if (source === 'push' && person.nameSource === 'saved' && person.name !== null) return;
    if (person.name === name && person.nameSource === source) return;
    person.name = name;
    person.nameSource = source;
    person.updatedAt = at;
  }

  private create(ref: PersonRef, at: number): Person {
    const person = new Person(undefined, ref, at);
    this.everyone.push(person);
    if (person.lid !== null) this.byLid.set(person.lid, person);
    if (person.pn !== null) this.byPn.set(person.pn, person);
    return person;
  }

  private resolve(ref: PersonRef, at: number): Person {
    if (ref.lid !== undefined && ref.pn !== undefined) return this.map(ref.lid, ref.pn, at);
    if (ref.lid !== undefined) return this.byLid.get(ref.lid) ?? this.create(ref, at);
    return this.byPn.get(ref.pn!) ?? this.create(ref, at);
  }

  /** Applies "phone `pn` belongs to `lid`" and returns that person. */
  private map(lid: string, pn: string, at: number): Person {
    const withLid = this.byLid.get(lid);
    let withPn = this.byPn.get(pn);
    if (withLid && withLid === withPn) return withLid;
    if (withPn && withPn.lid !== null) {
      // The number now belongs to another account: the old one keeps its LID, loses the phone.
      withPn.pn = null;
      withPn.updatedAt = at;
      this.byPn.delete(pn);
      withPn = undefined;
    }
    if (withLid && withPn) return this.merge(withLid, withPn, at);
    if (withLid) {
      if (withLid.pn !== null) this.byPn.delete(withLid.pn);
      withLid.pn = pn;
      withLid.updatedAt = at;
      this.byPn.set(pn, withLid);
      return withLid;
    }
    if (withPn) {
      withPn.lid = lid;
      withPn.updatedAt = at;
      this.byLid.set(lid, withPn);
      return withPn;
    }
    return this.create({ lid, pn }, at);
  }

  /**
   * Folds the phone-only person into the LID person. The surviving row is the stored one (the LID
   * row when both are stored) so row ids stay stable; it takes the LID, the phone and the best fields.
   */
  private merge(withLid: Person, withPn: Person, at: number): Person {
    const keep = withLid.stored || !withPn.stored ? withLid : withPn;
    const fold = keep === withLid ? withPn : withLid;
    const lid = withLid.lid!;
    const pn = withPn.pn!;
    if (withLid.pn !== null && withLid.pn !== pn) this.byPn.delete(withLid.pn);
    keep.lid = lid;
    keep.pn = pn;
    keep.firstSeenAt = Math.min(keep.firstSeenAt, fold.firstSeenAt);
    keep.dm = keep.dm || fold.dm;
    // The LID row's name wins unless only the other one has an address-book name.
    const [first, second] = keep === withLid ? [keep, fold] : [fold, keep];
    const best =
      first.name !== null && (first.nameSource === 'saved' || second.nameSource !== 'saved' || second.name === null)
        ? first
        : second;
    keep.name = best.name;
    keep.nameSource = best.nameSource;
    keep.businessName = first.businessName ?? second.businessName;
    keep.updatedAt = at;
    fold.mergedInto = keep;
    this.byLid.set(lid, keep);
    this.byPn.set(pn, keep);
    if (fold.stored) this.merges.push({ from: fold.stored.id, into: keep.stored!.id });
    return keep;
  }

  /** Replays the membership operations in order, per group and final person. */
  private foldMemberships(): MembershipPlan[] {
    const groups = new Map<string, { replace: boolean; members: Map<Person, MemberState> }>();
    for (const op of this.memberOps) {
      let group = groups.get(op.group);
      if (!group) groups.set(op.group, (group = { replace: false, members: new Map() }));
      const members = group.members;
      if ('snapshot' in op) {
        const listed = new Map(op.snapshot.map((m) => [m.person.current, m.role]));
        for (const [person, state] of members) {
          if (!listed.has(person) && state.present) members.set(person, { ...state, present: false, ended: true });
        }
        for (const [person, role] of listed) {
          const before = members.get(person);
          members.set(person, {
            present: true,
            role,
            tag: before?.present ? before.tag : undefined,
            lastSeen: op.at,
            ended: before?.ended ?? false,
          });
        }
        group.replace = true;
        continue;
      }
      const person = op.person.current;
      const before = members.get(person);
      if (!op.change.present) {
        members.set(person, { present: false, role: undefined, tag: undefined, lastSeen: op.at, ended: true });
        continue;
      }
      const still = before?.present === true;
      members.set(person, {
        present: true,
        role: op.change.role ?? (still ? before.role : undefined),
        tag: op.change.tag ?? (still ? before.tag : undefined),
        lastSeen: op.at,
        ended: before?.ended ?? false,
      });
    }
    return [...groups].map(([group, { replace, members }]) => ({
      group,
      replace,
      leaving: [...members].filter(([, s]) => s.ended).map(([person]) => person),
      staying: [...members]
        .filter(([, s]) => s.present)
        .map(([person, s]) => ({ person, role: s.role, tag: s.tag, lastSeen: s.lastSeen })),
    }));
  }
}
