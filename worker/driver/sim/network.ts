/**
 * The immutable side of the simulated network, indexed for lookups: who exists, which groups a
 * phone is in, how each operation behaves (latency, failures). Mutable state lives in Redis
 * (state-store.ts) so it survives a session moving to another worker process.
 */
import { createHash } from 'node:crypto';
import { AppError } from '../../../shared/errors.js';
import { isLid, normalizeUserJid, phoneOfJid } from '../../../shared/jid.js';
import {
  FALLIBLE_OPERATIONS,
  type SimAccount,
  type SimFailureCode,
  type SimGroup,
  type SimLatency,
  type SimOperation,
  type SimSessionProfile,
  type SimWorld,
} from './world.js';

export interface SimMember {
  account: SimAccount;
  role: 'member' | 'admin' | 'superadmin';
  nickname?: string;
}

export interface SimGroupView {
  group: SimGroup;
  members: SimMember[];
}

export interface OperationPolicy {
  latencyMs: SimLatency;
  failureRate: number;
  failureCode: SimFailureCode;
}

export class SimNetwork {
  private readonly byPhone = new Map<string, SimAccount>();
  private readonly byLid = new Map<string, SimAccount>();
  private readonly groupsByPhone = new Map<string, SimGroupView[]>();
  private readonly groupsByJid = new Map<string, SimGroupView>();
  private readonly profilesByPhone = new Map<string, SimSessionProfile>();

  constructor(readonly world: SimWorld) {
    for (const account of world.accounts) {
      this.byPhone.set(account.phone, account);
      this.byLid.set(account.lid, account);
    }
    for (const group of world.groups) {
      const view: SimGroupView = {
        group,
        members: group.members.map((m) => ({
          account: this.accountByRef(m.phone ?? m.lid!)!,
          role: m.role,
          ...(m.nickname ? { nickname: m.nickname } : {}),
        })),
      };
      this.groupsByJid.set(group.jid, view);
      for (const member of view.members) {
        const list = this.groupsByPhone.get(member.account.phone) ?? [];
        list.push(view);
        this.groupsByPhone.set(member.account.phone, list);
      }
    }
    for (const profile of Object.values(world.sessions)) {
      if (!this.profilesByPhone.has(profile.phone)) this.profilesByPhone.set(profile.phone, profile);
    }
  }

  /** A phone (digits) or a LID. */
  accountByRef(ref: string): SimAccount | undefined {
    return this.byPhone.get(ref) ?? this.byLid.get(ref);
  }

  accountByPhone(phone: string): SimAccount | undefined {
    return this.byPhone.get(phone);
  }

  /**
   * The account behind a user JID (phone JID, device suffix allowed, or LID). Malformed ⇒
   * validation_error; a well-formed JID nobody owns ⇒ undefined.
   */
  accountByJid(jid: string): SimAccount | undefined {
    if (isLid(jid)) return this.byLid.get(normalizeUserJid(jid));
    const phone = phoneOfJid(jid);
    if (phone === undefined) throw new AppError('validation_error', `not a user JID: ${jid}`, { jid });
    return this.byPhone.get(phone);
  }

  group(jid: string): SimGroupView | undefined {
    return this.groupsByJid.get(jid);
  }

  groupsOf(phone: string): SimGroupView[] {
    return this.groupsByPhone.get(phone) ?? [];
  }

  /** The world's profile for a session id, or for the phone an unlisted session paired as. */
  profile(sessionId: string, phone?: string): SimSessionProfile | undefined {
    return this.world.sessions[sessionId] ?? (phone === undefined ? undefined : this.profilesByPhone.get(phone));
  }

  policy(operation: SimOperation, profile: SimSessionProfile | undefined): OperationPolicy {
    const override = this.world.operations[operation];
    const fallible = FALLIBLE_OPERATIONS.includes(operation);
    return {
      latencyMs: profile?.latencyMs ?? override?.latencyMs ?? this.world.latencyMs,
      failureRate: fallible ? (profile?.failureRate ?? override?.failureRate ?? this.world.failureRate) : 0,
      failureCode: profile?.failureCode ?? override?.failureCode ?? this.world.failureCode,
    };
  }
}

export function sampleLatency(latency: SimLatency): number {
  if (typeof latency === 'number') return latency;
  return latency.min + Math.random() * (latency.max - latency.min);
}

/**
 * Identity for a session that paired without a known phone: stable per session id so a restart
 * or a takeover reports the same number. "99" + 10 digits is outside every assigned country code.
 */
export function syntheticIdentity(sessionId: string): { phone: string; lid: string } {
  const digest = createHash('sha256').update(`sim-identity:${sessionId}`).digest();
  const digits = (offset: number, count: number) =>
    Array.from(digest.subarray(offset, offset + count), (byte) => String(byte % 10)).join('');
  return { phone: `99${digits(0, 10)}`, lid: `9${digits(10, 14)}@lid` };
}
