/**
 * Runs the fake WhatsApp server on its own, for trying the gateway's real Baileys driver without
 * WhatsApp (integrators, demos). A small world of users (about texts, a picture, a business); a QR
 * code read from the gateway is "scanned" by POSTing it to the fake, which pairs the session with
 * a new account whose phone then sends its history sync (two chats, a group).
 *   node dist/test/fake-whatsapp/serve.js [--port 7100]
 *   curl -s -H "Authorization: Bearer $TOKEN" "$B/api/v1/sessions/$S/qr" | jq -r .qr \
 *     | curl -s --data-binary @- http://127.0.0.1:7100/scan
 */
import { parseArgs } from 'node:util';
import { FakeWhatsApp } from './fake-server.js';
import { FakePhone } from './phone.js';
import type { FakeUser } from './world.js';

const { values: args } = parseArgs({ options: { port: { type: 'string', default: '7100' } } });

const fake = new FakeWhatsApp();
const people: FakeUser[] = [
  {
    phone: '4915550000001',
    lid: '215550000000001@lid',
    pushName: 'Alice',
    about: 'Climbing 🧗',
    aboutSetAt: 1_719_662_400,
    picture: { id: '1', url: 'https://pps.fake.invalid/alice.jpg' },
  },
  { phone: '4915550000002', lid: '215550000000002@lid', pushName: 'Bob', about: null },
  {
    phone: '4915550000003',
    lid: '215550000000003@lid',
    pushName: 'Carol',
    businessName: 'Carol GmbH',
    about: 'Open 9-5',
    aboutHidden: true,
  },
];
for (const person of people) fake.world.addUser(person);
let accounts = 0;

/** A new account whose phone scans `qr`. */
async function scan(qr: string): Promise<string> {
  accounts++;
  const n = String(accounts).padStart(5, '0');
  const user = fake.world.addUser({ phone: `4916000${n}`, lid: `3160000000${n}@lid`, pushName: `Account ${accounts}` });
  const group = fake.world.addGroup({
    jid: `1203630000000${n}@g.us`,
    subject: `Group of account ${accounts}`,
    members: [
      { phone: user.phone, role: 'superadmin' },
      { phone: people[0]!.phone, role: 'admin', label: 'Ali' },
      { phone: people[1]!.phone },
      { phone: people[2]!.phone, phoneHidden: true },
    ],
  });
  const phone = new FakePhone(fake, user, {
    history: {
      chats: [{ user: people[0]!, savedName: 'Alice (saved)' }, { user: people[2]! }],
      groups: [group],
      mappings: people,
      pushNames: people,
    },
  });
  const companion = await phone.scanQr(qr);
  return JSON.stringify({ phone: user.phone, lid: user.lid, device: companion.device });
}

await fake.start(Number(args.port), (req, res) => {
  if (req.method !== 'POST' || req.url !== '/scan') return void res.writeHead(404).end();
  let body = '';
  req.on('data', (chunk: Buffer) => (body += chunk.toString()));
  req.on('end', () => {
    scan(body.trim()).then(
      (paired) => res.writeHead(200, { 'content-type': 'application/json' }).end(`${paired}\n`),
      (err: Error) => res.writeHead(400).end(`${err.message}\n`),
    );
  });
});

console.log(`fake WhatsApp server at ${fake.url}; POST a QR code to http://127.0.0.1:${args.port}/scan to pair it`);
console.log('start a worker against it with:');
console.log(
  `  WA_DRIVER=baileys WA_WEBSOCKET_URL=${fake.url} WA_VERSION_FETCH=false FAKE_WA_ROOT_KEY=${fake.rootPublicKeyHex} \\`,
);
console.log('    node --import ./dist/test/fake-whatsapp/trust-preload.js dist/worker/main.js');
const stop = () => void fake.stop().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
