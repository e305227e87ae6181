// Reacting to the SDK's `recovery` outcome: keep a guild's members and log, reload only what was
// not recovered. Against `npm start`:
//   npx tsc -b protocol server-kit client && TOKEN=$(node scripts/dev-token.mjs alice) node client/examples/recovery.mjs
import WebSocket from 'ws';
import { connect } from '../dist/index.js';

const guild = process.env.GUILD ?? '1234567890';
const gw = connect({ url: process.env.GATEWAY_URL ?? 'ws://127.0.0.1:8080/ws', getToken: () => process.env.TOKEN, WebSocket });
let members = new Map();
const log = new Map(); // offset → entry, so a replayed entry can never show twice

async function reloadPools() {
  members = new Map();
  for await (const chunk of gw.poolAll('member', guild)) for (const m of chunk) members.set(m.id, m);
  console.log(`${members.size} members`);
}
async function reloadLog() {
  const { publications } = await gw.history(`guild:${guild}:logs`, { limit: 100 }); // the latest 100
  log.clear();
  for (const p of publications) log.set(p.offset, p.message.data);
  console.log(`${log.size} log entries from history`);
}

gw.on('log_other', (entry, msg) => {
  log.set(msg.offset, entry);
  console.log(`log #${msg.offset}`, entry.data ?? entry.id);
});
gw.on('log_pool', (change) => {
  if (change.type !== 'member') return;
  if (change.deleted) members.delete(String(change.id));
  else if (change.entity) members.set(String(change.entity.id), change.entity);
});
gw.on('recovery', ({ trigger, streams }) => {
  // true: what was missed has already arrived as ordinary pushes; false: reload that state.
  console.log(`recovery after ${trigger}`, streams);
  if (streams[`guild:${guild}`] === false) void reloadPools();
  if (streams[`guild:${guild}:logs`] === false) void reloadLog();
});

await gw.spectate(guild, true);
await Promise.all([reloadPools(), reloadLog()]);
