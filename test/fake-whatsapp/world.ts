/**
 * What the fake WhatsApp network knows: its users (each with a phone number and a LID), their
 * about texts, pictures and privacy, and groups. A user that a test pairs a gateway session with
 * is driven by a FakePhone (phone.ts).
 */
export interface FakePicture {
  id: string;
  url: string;
  previewUrl?: string;
}

export interface FakeUser {
  /** E.164 digits. */
  phone: string;
  /** `…@lid`. */
  lid: string;
  pushName?: string;
  /** The verified business name, for a business account. */
  businessName?: string;
  /** null: no about text set. */
  about?: string | null;
  /** Epoch seconds the about text was set. */
  aboutSetAt?: number;
  aboutHidden?: boolean;
  picture?: FakePicture | null;
  pictureHidden?: boolean;
}

export type FakeRole = 'superadmin' | 'admin' | 'member';

export interface FakeGroupMember {
  phone: string;
  role?: FakeRole;
  /** The member tag (member label) shown in the group. */
  label?: string;
  /** WhatsApp shows this member by LID only (no phone number) to the others. */
  phoneHidden?: boolean;
}

export interface FakeGroup {
  /** `…@g.us`. */
  jid: string;
  subject: string;
  creation?: number;
  /** Phone of the creator. */
  creator?: string;
  members: FakeGroupMember[];
}

export const pnJid = (phone: string) => `${phone}@s.whatsapp.net`;
export const userOf = (jid: string) => jid.split('@')[0]!.split(':')[0]!;

export class FakeWorld {
  private readonly byPhone = new Map<string, FakeUser>();
  private readonly byLid = new Map<string, FakeUser>();
  readonly groups: FakeGroup[] = [];

  addUser(user: FakeUser): FakeUser {
    if (!/^\d{6,15}$/.test(user.phone)) throw new Error(`bad phone ${user.phone}`);
    if (!/^\d+@lid$/.test(user.lid)) throw new Error(`bad lid ${user.lid}`);
    this.byPhone.set(user.phone, user);
    this.byLid.set(userOf(user.lid), user);
    return user;
  }

  addGroup(group: FakeGroup): FakeGroup {
    for (const m of group.members)
      if (!this.byPhone.has(m.phone)) throw new Error(`group member ${m.phone} is not a user`);
    this.groups.push(group);
    return group;
  }

  byPhoneNumber(phone: string): FakeUser | undefined {
    return this.byPhone.get(phone.replace(/^\+/, ''));
  }

  /** A user by phone JID or LID (any device suffix). */
  byJid(jid: string): FakeUser | undefined {
    const user = userOf(jid);
    if (jid.endsWith('@lid')) return this.byLid.get(user);
    if (jid.endsWith('@s.whatsapp.net')) return this.byPhone.get(user);
    return undefined;
  }

  groupsOf(phone: string): FakeGroup[] {
    return this.groups.filter((g) => g.members.some((m) => m.phone === phone));
  }
}
