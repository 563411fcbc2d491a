/**
 * The fake server's answers to a logged-in client's queries about other users and groups: usync
 * (contact, lid, status), profile pictures, the block list, the groups it participates in, and
 * app-state sync (always empty here). Shapes follow what Baileys parses (WAUSync/, Socket/chats.js,
 * Socket/groups.js).
 */
import { childrenOf, child, iqError, iqResult, node, textOf, type BinaryNode } from './nodes.js';
import type { FakeClient, FakeWhatsApp } from './fake-server.js';
import { pnJid, userOf, type FakeUser } from './world.js';

export interface QueryContext {
  server: FakeWhatsApp;
  client: FakeClient;
}

/** The query kind an iq counts as (and that a rate-limit fault names). */
export function queryKind(iq: BinaryNode): string | undefined {
  const xmlns = iq.attrs['xmlns'];
  const type = iq.attrs['type'];
  if (xmlns === 'usync') return 'usync';
  if (xmlns === 'w:profile:picture' && type === 'get') return 'picture';
  if (xmlns === 'blocklist') return type === 'set' ? 'blocklist.set' : 'blocklist.get';
  if (xmlns === 'w:g2') return 'groups';
  if (xmlns === 'w:sync:app:state') return 'app-state';
  return undefined;
}

export function answerQuery(ctx: QueryContext, iq: BinaryNode): BinaryNode | undefined {
  const kind = queryKind(iq);
  if (!kind) return undefined;
  ctx.server.countQuery(kind);
  const { faults } = ctx.server;
  const timesLeft = faults.rateLimitedTimes.get(kind) ?? 0;
  if (timesLeft > 0) faults.rateLimitedTimes.set(kind, timesLeft - 1);
  if (faults.rateLimited.has(kind) || timesLeft > 0) {
    if (kind === 'usync') recordUsync(ctx, iq, true);
    return iqError(iq, 429, 'rate-overlimit');
  }
  const phone = ctx.client.companion?.phone;
  if (!phone) return iqError(iq, 401, 'not-authorized');
  switch (kind) {
    case 'usync':
      return usync(ctx, iq);
    case 'picture':
      return picture(ctx, iq);
    case 'blocklist.get':
    case 'blocklist.set':
      return blocklist(ctx, iq, phone);
    case 'groups':
      return groups(ctx, iq, phone);
    default:
      // App state: every collection is at version 0 with nothing in it (address-book names come by history sync here).
      return iqResult(iq, [
        node(
          'sync',
          {},
          childrenOf(child(iq, 'sync')).map((c) =>
            node('collection', { name: c.attrs['name'], version: c.attrs['version'] ?? '0' }),
          ),
        ),
      ]);
  }
}

function recordUsync(ctx: QueryContext, iq: BinaryNode, refused: boolean): void {
  const usyncNode = child(iq, 'usync');
  const protocols = childrenOf(child(usyncNode, 'query')).map((p) => p.tag);
  const users = childrenOf(child(usyncNode, 'list')).map((u) =>
    (textOf(child(u, 'contact')) ?? u.attrs['jid'] ?? '').replace(/^\+/, ''),
  );
  ctx.server.usyncQueries.push({ protocols, users, refused });
}

function usync(ctx: QueryContext, iq: BinaryNode): BinaryNode {
  const usyncNode = child(iq, 'usync')!;
  const protocols = childrenOf(child(usyncNode, 'query')).map((p) => p.tag);
  const users = childrenOf(child(usyncNode, 'list'));
  recordUsync(ctx, iq, false);
  const results = users.map((u) => {
    const asked = textOf(child(u, 'contact'));
    const found = asked ? ctx.server.world.byPhoneNumber(asked) : ctx.server.world.byJid(u.attrs['jid'] ?? '');
    const jid = asked ? pnJid(asked.replace(/^\+/, '')) : (u.attrs['jid'] ?? '');
    const content: BinaryNode[] = [];
    for (const protocol of protocols) {
      if (protocol === 'contact')
        content.push(node('contact', { type: found ? 'in' : 'out' }, asked ? Buffer.from(asked) : undefined));
      else if (protocol === 'lid') content.push(found ? node('lid', { val: found.lid }) : node('lid', {}));
      else if (protocol === 'status') content.push(statusOf(found));
      else if (protocol === 'devices')
        content.push(node('devices', {}, [node('device-list', {}, [node('device', { id: '0' })])]));
    }
    return node('user', { jid }, content);
  });
  return iqResult(iq, [
    node(
      'usync',
      {
        sid: usyncNode.attrs['sid'],
        mode: usyncNode.attrs['mode'],
        context: usyncNode.attrs['context'],
        last: 'true',
        index: '0',
      },
      [
        node(
          'result',
          {},
          protocols.map((p) => node(p, {})),
        ),
        node('list', {}, results),
      ],
    ),
  ]);
}

function statusOf(user: FakeUser | undefined): BinaryNode {
  if (!user) return node('status', {}, [node('error', { code: '404', text: 'item-not-found' })]);
  if (user.aboutHidden) return node('status', { code: '401', t: '0' });
  if (!user.about) return node('status', { t: '0' });
  return node('status', { t: String(user.aboutSetAt ?? Math.floor(Date.now() / 1000)) }, Buffer.from(user.about));
}

function picture(ctx: QueryContext, iq: BinaryNode): BinaryNode {
  const target = iq.attrs['target'] ?? '';
  const type = child(iq, 'picture')?.attrs['type'] ?? 'preview';
  const user = ctx.server.world.byJid(target);
  if (!user || !user.picture) return iqError(iq, 404, 'item-not-found');
  if (user.pictureHidden) return iqError(iq, 401, 'not-authorized');
  const url = type === 'image' ? user.picture.url : (user.picture.previewUrl ?? user.picture.url);
  return iqResult(iq, [node('picture', { id: user.picture.id, type, url, direct_path: new URL(url).pathname })]);
}

function blocklist(ctx: QueryContext, iq: BinaryNode, phone: string): BinaryNode {
  const owner = ctx.server.phones.get(phone);
  if (!owner) return iqError(iq, 500, 'internal-server-error');
  if (iq.attrs['type'] === 'get') {
    return iqResult(iq, [
      node(
        'list',
        {},
        [...owner.blocked].map((lid) => node('item', { jid: lid })),
      ),
    ]);
  }
  const item = child(iq, 'item');
  const jid = item?.attrs['jid'] ?? '';
  const target = ctx.server.world.byJid(jid);
  if (!item || !target) return iqError(iq, 400, 'bad-request');
  if (item.attrs['action'] === 'block') {
    // WhatsApp wants both addresses of the person blocked.
    if (userOf(item.attrs['pn_jid'] ?? '') !== target.phone) return iqError(iq, 400, 'bad-request');
    owner.blocked.add(target.lid);
  } else {
    owner.blocked.delete(target.lid);
  }
  return iqResult(iq);
}

function groups(ctx: QueryContext, iq: BinaryNode, phone: string): BinaryNode {
  const { world } = ctx.server;
  const list = world.groupsOf(phone).map((g) => {
    const creator = g.creator ? world.byPhoneNumber(g.creator) : undefined;
    return node(
      'group',
      {
        id: userOf(g.jid),
        subject: g.subject,
        creation: String(g.creation ?? 1_700_000_000),
        creator: creator?.lid,
        creator_pn: creator ? pnJid(creator.phone) : undefined,
        addressing_mode: 'lid',
        s_t: String(g.creation ?? 1_700_000_000),
        size: String(g.members.length),
      },
      g.members.map((m) => {
        const user = world.byPhoneNumber(m.phone)!;
        return node('participant', {
          jid: user.lid,
          phone_number: m.phoneHidden ? undefined : pnJid(user.phone),
          type: m.role && m.role !== 'member' ? m.role : undefined,
        });
      }),
    );
  });
  return iqResult(iq, [node('groups', {}, list)]);
}
