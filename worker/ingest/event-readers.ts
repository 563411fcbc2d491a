/**
 * Reads each Baileys event (payloads as BaileysEventMap declares them) into ingest operations.
 * Readers never throw on bad data: a payload whose outer shape is wrong yields no operations and a
 * problem; a bad entry inside a list is skipped on its own and reported. Entries that are fine but
 * not about people or groups (newsletters, broadcasts) are ignored without a report.
 */
import { WHATSAPP_DATA_EVENTS } from '../driver/driver.js';
import type { IngestOp, PersonRef, Role } from './ingest-ops.js';
import {
  isFields,
  readGroupJid,
  readJid,
  readLid,
  readParticipantRole,
  readPerson,
  readPhoneJid,
  readRank,
  readText,
  type Fields,
} from './payload-fields.js';

/** The events ingestion subscribes to. */
export const INGESTED_EVENTS = WHATSAPP_DATA_EVENTS;

export type IngestedEvent = (typeof INGESTED_EVENTS)[number];

/** groupFetchAllParticipating's result, handed over by the worker rather than emitted. */
export const GROUP_FETCH = 'groupFetchAllParticipating';

export type IngestSource = IngestedEvent | typeof GROUP_FETCH;

export interface EventReading {
  ops: IngestOp[];
  /** What was wrong with the payload, for the log; empty when it read cleanly. */
  problems: string[];
}

const MAX_PROBLEMS_KEPT = 5;

/** Where an entry sits in the payload, turned into text only when there is a problem to report. */
type Where = readonly [list: string, index: number];
const at = ([list, index]: Where, field = '') => `${list}[${index}]${field}`;

class Reader {
  readonly ops: IngestOp[] = [];
  private readonly kept: string[] = [];
  private dropped = 0;

  problem(text: string): void {
    if (this.kept.length < MAX_PROBLEMS_KEPT) this.kept.push(text);
    else this.dropped++;
  }

  result(): EventReading {
    const problems = this.dropped > 0 ? [...this.kept, `…and ${this.dropped} more`] : this.kept;
    return { ops: this.ops, problems };
  }

  /** Each element of a list, or a problem when `value` is not a list. */
  list(value: unknown, what: string): unknown[] {
    if (Array.isArray(value)) return value;
    this.problem(`${what} is not a list`);
    return [];
  }

  mapping(lidValue: unknown, pnValue: unknown): void {
    const lid = readLid(lidValue);
    const pn = readPhoneJid(pnValue);
    if (lid !== undefined && pn !== undefined) this.ops.push({ kind: 'mapping', lid, pn });
  }

  /**
   * A Contact or Partial<Contact>: `name` is the address-book name (unless it is only the
   * username), `notify` the push name, `verifiedName` the business name. `requireSomething` skips
   * entries that carry none of those.
   */
  contact(entry: unknown, where: Where, requireSomething: boolean): void {
    if (!isFields(entry)) return this.problem(`${at(where)} is not an object`);
    const person = readPerson(entry['id'], entry['lid'], entry['phoneNumber']);
    if (person === 'invalid') return this.problem(`${at(where, '.id')} is not a JID`);
    if (person === 'other') return;
    // Baileys fills `name` with the username when the address book has no name for the person
    // (history sync, contact sync): that is the person's public handle, not a name the user saved.
    const name = readText(entry['name']);
    const savedName = name !== undefined && name === readText(entry['username']) ? undefined : name;
    const pushName = readText(entry['notify']);
    const businessName = readText(entry['verifiedName']);
    const carriesData =
      savedName !== undefined ||
      pushName !== undefined ||
      businessName !== undefined ||
      (person.lid !== undefined && person.pn !== undefined);
    // A contacts.update carrying only a picture change says nothing we store.
    if (requireSomething && !carriesData) return;
    const op: IngestOp = { kind: 'person', person };
    if (savedName !== undefined) op.savedName = savedName;
    if (pushName !== undefined) op.pushName = pushName;
    if (businessName !== undefined) op.businessName = businessName;
    this.ops.push(op);
  }

  /** A chat: a direct chat marks the person dm; a group chat names the group and may list members. */
  chat(entry: unknown, where: Where): void {
    if (!isFields(entry)) return this.problem(`${at(where)} is not an object`);
    const reading = readJid(entry['id']);
    if (reading === 'invalid') return this.problem(`${at(where, '.id')} is not a JID`);
    if (reading === 'other') return;
    if ('group' in reading) {
      const subject = readText(entry['name']);
      this.ops.push(
        subject === undefined ? { kind: 'group', jid: reading.group } : { kind: 'group', jid: reading.group, subject },
      );
      if (entry['participant'] !== undefined && entry['participant'] !== null)
        this.historyParticipants(reading.group, entry['participant'], where);
      return;
    }
    const person: PersonRef = 'lid' in reading ? { lid: reading.lid } : { pn: reading.pn };
    const otherLid = readLid(entry['lidJid']);
    const otherPn = readPhoneJid(entry['pnJid']);
    if (person.lid !== undefined && otherPn !== undefined) person.pn = otherPn;
    if (person.pn !== undefined && otherLid !== undefined) person.lid = otherLid;
    this.ops.push({ kind: 'person', person, dm: true });
  }

  /** proto.GroupParticipant entries of a history-synced group chat: userJid, rank, memberLabel. */
  private historyParticipants(group: string, value: unknown, chat: Where): void {
    const list = at(chat, '.participant');
    this.list(value, list).forEach((entry, i) => {
      if (!isFields(entry)) return this.problem(`${at([list, i])} is not an object`);
      const person = readPerson(entry['userJid'], undefined, undefined);
      const role = readRank(entry['rank']);
      if (person === 'invalid' || person === 'other')
        return this.problem(`${at([list, i], '.userJid')} is not a person's JID`);
      if (role === undefined) return this.problem(`${at([list, i], '.rank')} is unknown`);
      const label = isFields(entry['memberLabel']) ? readText(entry['memberLabel']['label']) : undefined;
      this.ops.push({
        kind: 'member',
        group,
        person,
        change: label === undefined ? { present: true, role } : { present: true, role, tag: label },
      });
    });
  }

  /**
   * A GroupMetadata (full, or partial from groups.update). A participant list is the group's whole
   * membership, so it replaces the stored one; a list that is empty or has any unreadable entry
   * is not trusted at all (the subject still applies) and the stored members stay as they are.
   */
  groupMetadata(entry: unknown, where: Where): void {
    if (!isFields(entry)) return this.problem(`${at(where)} is not an object`);
    const jid = readGroupJid(entry['id']);
    if (jid === undefined) return this.problem(`${at(where, '.id')} is not a group JID`);
    const subject = readText(entry['subject']);
    const participants = entry['participants'] ?? undefined;
    if (subject === undefined && participants === undefined) return;
    this.ops.push(subject === undefined ? { kind: 'group', jid } : { kind: 'group', jid, subject });
    if (participants === undefined) return;
    const list = at(where, '.participants');
    const members = this.list(participants, list).map((p, i) => this.participant(p, [list, i]));
    if (!Array.isArray(participants)) return;
    if (members.length === 0) return this.problem(`${list} is empty, kept the stored members`);
    if (members.some((m) => m === undefined))
      return this.problem(`${list} has unreadable entries, kept the stored members`);
    this.ops.push({ kind: 'members-snapshot', group: jid, members: members as { person: PersonRef; role: Role }[] });
  }

  /** A GroupParticipant object (Baileys 7), or a bare JID string as older versions sent. */
  participant(entry: unknown, where: Where): { person: PersonRef; role: Role } | undefined {
    if (typeof entry === 'string') {
      const person = readPerson(entry, undefined, undefined);
      if (typeof person === 'object') return { person, role: 'member' };
      this.problem(`${at(where)} is not a person's JID`);
      return undefined;
    }
    if (!isFields(entry)) {
      this.problem(`${at(where)} is not an object`);
      return undefined;
    }
    const person = readPerson(entry['id'], entry['lid'], entry['phoneNumber']);
    if (typeof person !== 'object') {
      this.problem(`${at(where, '.id')} is not a person's JID`);
      return undefined;
    }
    const role = readParticipantRole(entry);
    if (role === undefined) {
      this.problem(`${at(where, '.admin')} is not admin, superadmin or null`);
      return undefined;
    }
    return { person, role };
  }
}

function readHistorySet(r: Reader, payload: Fields): void {
  const mappings = payload['lidPnMappings'];
  if (mappings !== undefined && mappings !== null) {
    r.list(mappings, 'lidPnMappings').forEach((m, i) => {
      if (!isFields(m)) return r.problem(`lidPnMappings[${i}] is not an object`);
      r.mapping(m['lid'], m['pn']);
    });
  }
  r.list(payload['contacts'], 'contacts').forEach((c, i) => r.contact(c, ['contacts', i], false));
  r.list(payload['chats'], 'chats').forEach((c, i) => r.chat(c, ['chats', i]));
  // Message keys carry the other address of a sender (remoteJidAlt / participantAlt).
  const messages = payload['messages'];
  if (Array.isArray(messages)) {
    for (const message of messages) {
      const key = isFields(message) ? message['key'] : undefined;
      if (!isFields(key)) continue;
      messageKeyMapping(r, key['remoteJid'], key['remoteJidAlt']);
      messageKeyMapping(r, key['participant'], key['participantAlt']);
    }
  }
}

function messageKeyMapping(r: Reader, jid: unknown, alt: unknown): void {
  if (typeof jid !== 'string' || typeof alt !== 'string') return;
  if (readLid(jid) !== undefined) r.mapping(jid, alt);
  else r.mapping(alt, jid);
}

const PARTICIPANT_ACTIONS = new Set(['add', 'remove', 'promote', 'demote', 'modify']);

function readParticipantsUpdate(r: Reader, payload: Fields): void {
  const group = readGroupJid(payload['id']);
  if (group === undefined) return r.problem('id is not a group JID');
  const action = payload['action'];
  if (typeof action !== 'string' || !PARTICIPANT_ACTIONS.has(action))
    return r.problem(`action ${JSON.stringify(action)} is not one of add, remove, promote, demote, modify`);
  const participants = r.list(payload['participants'], 'participants');
  participants.forEach((entry, i) => {
    const member = r.participant(entry, ['participants', i]);
    if (!member) return;
    const { person, role } = member;
    switch (action) {
      case 'add':
        r.ops.push({ kind: 'member', group, person, change: { present: true, role } });
        break;
      case 'remove':
        r.ops.push({ kind: 'member', group, person, change: { present: false } });
        break;
      case 'promote':
        // Promotion notices rarely carry the new type; an ordinary promotion makes an admin.
        r.ops.push({
          kind: 'member',
          group,
          person,
          change: { present: true, role: role === 'superadmin' ? 'superadmin' : 'admin' },
        });
        break;
      case 'demote':
        r.ops.push({ kind: 'member', group, person, change: { present: true, role: 'member' } });
        break;
      default:
        // 'modify' (a number change) says nothing about membership; keep what it tells about the person.
        r.ops.push({ kind: 'person', person });
    }
  });
}

function readMemberTag(r: Reader, payload: Fields): void {
  const group = readGroupJid(payload['groupId']);
  if (group === undefined) return r.problem('groupId is not a group JID');
  const reading = readJid(payload['participant']);
  const alt = readJid(payload['participantAlt']);
  if (typeof reading !== 'object' || 'group' in reading) return r.problem("participant is not a person's JID");
  const person: PersonRef = { ...reading };
  if (typeof alt === 'object' && 'pn' in alt && person.lid !== undefined) person.pn = alt.pn;
  if (typeof alt === 'object' && 'lid' in alt && person.pn !== undefined) person.lid = alt.lid;
  const tag = readText(payload['label']);
  if (tag === undefined) return r.problem('label is empty');
  r.ops.push({ kind: 'member', group, person, change: { present: true, tag } });
}

/** Reads one event's payload. Never throws. */
export function readEvent(source: IngestSource, payload: unknown): EventReading {
  const r = new Reader();
  switch (source) {
    case 'contacts.upsert':
      r.list(payload, 'payload').forEach((c, i) => r.contact(c, ['', i], false));
      break;
    case 'contacts.update':
      r.list(payload, 'payload').forEach((c, i) => r.contact(c, ['', i], true));
      break;
    case 'chats.upsert':
      r.list(payload, 'payload').forEach((c, i) => r.chat(c, ['', i]));
      break;
    case 'groups.upsert':
    case 'groups.update':
      r.list(payload, 'payload').forEach((g, i) => r.groupMetadata(g, ['', i]));
      break;
    case GROUP_FETCH:
      if (!isFields(payload)) r.problem('payload is not a map of group JID to metadata');
      else Object.values(payload).forEach((meta, i) => r.groupMetadata(meta, ['groups', i]));
      break;
    default:
      if (!isFields(payload)) {
        r.problem('payload is not an object');
        break;
      }
      if (source === 'messaging-history.set') readHistorySet(r, payload);
      else if (source === 'group-participants.update') readParticipantsUpdate(r, payload);
      else if (source === 'group.member-tag.update') readMemberTag(r, payload);
      else if (source === 'lid-mapping.update') {
        const lid = readLid(payload['lid']);
        const pn = readPhoneJid(payload['pn']);
        if (lid === undefined || pn === undefined) r.problem('lid-mapping.update needs a LID and a phone JID');
        // `lookup`: the driver's own look-up (driver.ts, LookupMapping), applied to stored people only.
        else
          r.ops.push(
            payload['lookup'] === true ? { kind: 'mapping', lid, pn, onlyKnown: true } : { kind: 'mapping', lid, pn },
          );
      }
  }
  return r.result();
}
