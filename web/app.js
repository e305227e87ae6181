// Dashboard page: plain ES module on top of the client SDK (/client/index.js).
// Query string: ?ws=<balancer websocket url>[,<another>...]&api=<monolith http origin>&as=<guest|sub>
//   ws  default: /config.json's (the server's WS_URL, ws://127.0.0.1:8080/ws); a comma-separated
//       list is rotated through on reconnect
//   api default http://127.0.0.1:3000 (only shown; the page talks to the monolith through this server)
import { connect } from '/client/index.js';

const DEMO_GUILD = '1234567890';
// The mock bot's own guild (monolith/src/store/fixture.ts MOCK_GUILD_ID): mock guild ids are below
// 10^7, and there anyone may use the bot; a real guild needs the guild in the token.
const MOCK_GUILD = '1000000';
const params = new URLSearchParams(location.search);
const splitUrls = (value) => String(value).split(',').map((s) => s.trim()).filter(Boolean);
let wsUrls = splitUrls(params.get('ws') || '');

const $ = (id) => document.getElementById(id);
const els = {
  state: $('state'), who: $('who'), error: $('error'), signin: $('signin'), guest: $('guest'), guild: $('guild'),
  channels: $('channels'), roles: $('roles'), members: $('members'), search: $('member-search'), results: $('member-results'),
  logs: $('logs'), arTrigger: $('ar-trigger'), arResponse: $('ar-response'), arForm: $('ar-form'), autoResponses: $('auto-responses'),
  botInput: $('bot-input'), botForm: $('bot-form'), botOutput: $('bot-output'),
};

let client;

// Without ?ws= the server's /config.json says where the balancer is.
const configReady = (async () => {
  if (wsUrls.length) return;
  try {
    wsUrls = splitUrls((await (await fetch('/config.json')).json()).ws);
  } catch {
    // served by something else: fall back to the npm start default
  }
  if (!wsUrls.length) wsUrls = [`ws://${location.hostname || '127.0.0.1'}:8080/ws`];
})();

let identity = null; // {kind: 'user'|'guest', sub?}
let guild = '';
let welcome = null;
const autoResponses = new Map();
let loadSeq = 0;
let logSeq = 0;
const LOG_LIMIT = 200;
// Stream names (protocol/src/streams.ts): a guild's pool updates and its log entries.
const poolStream = (g) => `guild:${g}`;
const logStream = (g) => `guild:${g}:logs`;
// The live log: entries by offset within one epoch of the log stream, newest first on screen.
const logView = { epoch: null, entries: new Map() };

function showError(err) {
  els.error.textContent = err ? (err.human || err.message || String(err)) : '';
}

function setState(state) {
  els.state.textContent = state;
  els.state.dataset.state = state;
  document.body.dataset.state = state;
}

function li(text, attrs = {}) {
  const item = document.createElement('li');
  item.textContent = text;
  for (const [k, v] of Object.entries(attrs)) item.dataset[k] = v;
  return item;
}

function fill(list, items, label) {
  list.replaceChildren(...items.map((e) => li(label(e), { id: String(e.id) })));
}

const memberLabel = (m) => (m.nickname ? `${m.nickname} (${m.name ?? m.id})` : String(m.name ?? m.id));

function renderAutoResponses() {
  const sorted = [...autoResponses.values()].sort((a, b) => String(a.id).localeCompare(String(b.id)));
  fill(els.autoResponses, sorted, (r) => `${r.trigger} → ${r.response}`);
}

async function tokenFor(who) {
  const path = who.kind === 'guest' ? '/guest-token' : '/demo-token';
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(who.kind === 'guest' ? {} : { sub: who.sub }),
  });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  const body = await res.json();
  return body.token;
}

async function start(who) {
  await configReady;
  if (client) client.close();
  identity = who;
  welcome = null;
  guild = '';
  clearGuild();
  els.guild.replaceChildren();
  showError(null);
  // Guests get one token: each reconnect re-uses it until it expires (an hour), then mints another.
  let token;
  const getToken = async () => {
    if (who.kind === 'guest') return (token ??= await tokenFor(who));
    return tokenFor(who);
  };
  // Several urls: the SDK rotates through them on reconnect.
  const c = connect({ url: wsUrls.length > 1 ? wsUrls : wsUrls[0], getToken });
  client = c;
  window.gatewayClient = c;
  setState(c.state);
  c.on('state', (state) => {
    if (c !== client) return;
    setState(state);
  });
  c.on('welcome', (data) => {
    if (c !== client) return;
    welcome = data;
    const user = data.user || {};
    els.who.textContent = `${user.guest ? 'guest' : user.name || user.id} · room ${data.room} · ${data.monolith}`;
    const guilds = Object.keys((data.permissions && data.permissions.guilds) || {});
    const current = guild;
    els.guild.replaceChildren(...guilds.map((g) => new Option(g, g)));
    if (!guilds.length) {
      els.guild.append(new Option('(no guilds)', ''));
      return;
    }
    const pick = guilds.includes(current) ? current : guilds.includes(DEMO_GUILD) ? DEMO_GUILD : guilds[0];
    els.guild.value = pick;
    // First welcome: open the guild. Later ones (reconnect, failover) keep it: the SDK
    // re-spectates with its positions and its `recovery` event says what to reload.
    if (pick !== current) selectGuild(pick);
  });
  c.on('log_other', (entry, msg) => {
    if (c !== client || !entry || (entry.guild_id && entry.guild_id !== guild)) return;
    addLog(entry, msg.offset, msg.epoch);
  });
  c.on('log_pool', (push) => {
    if (c !== client || !push || push.guild_id !== guild || push.type !== 'autoResponse') return;
    if (push.deleted) autoResponses.delete(String(push.id));
    else if (push.entity) autoResponses.set(String(push.entity.id), push.entity);
    renderAutoResponses();
  });
  // After a reconnect or failover the SDK replayed what it could; reload only the rest. A stream
  // the outcome does not name (a server without positions) is reloaded too, except for `epoch`,
  // which names only the stream whose history was lost.
  c.on('recovery', (r) => {
    if (c !== client || !guild) return;
    const lost = (stream) => r.streams[stream] === false || (r.trigger !== 'epoch' && !(stream in r.streams));
    if (lost(poolStream(guild))) loadGuild(guild);
    if (lost(logStream(guild))) loadLog(guild);
  });
}

function noteOf(entry) {
  return entry.data && typeof entry.data.note === 'string' ? entry.data.note : JSON.stringify(entry);
}

function resetLog(epoch) {
  logView.epoch = epoch;
  logView.entries.clear();
  els.logs.replaceChildren();
}

/** Shows a log entry once per offset, in offset order (newest first); unpositioned ones on top. */
function addLog(entry, offset, epoch) {
  const item = li(noteOf(entry), { id: String(entry.id ?? '') });
  if (!Number.isInteger(offset)) {
    els.logs.prepend(item);
  } else {
    // A new epoch: the stream's history was lost; the SDK's `recovery` reloads the rest.
    if (epoch !== logView.epoch) resetLog(epoch);
    if (logView.entries.has(offset)) return;
    logView.entries.set(offset, entry);
    item.dataset.offset = String(offset);
    let before = null;
    for (const el of els.logs.children) {
      if (el.dataset.offset !== undefined && Number(el.dataset.offset) < offset) {
        before = el;
        break;
      }
    }
    els.logs.insertBefore(item, before);
  }
  while (els.logs.children.length > LOG_LIMIT) {
    const last = els.logs.lastElementChild;
    if (last.dataset.offset !== undefined) logView.entries.delete(Number(last.dataset.offset));
    last.remove();
  }
}

/**
 * The log's latest entries from `history` (on open, and when the log stream was not recovered):
 * replaces what is shown, keeping entries that arrived live after the history was read.
 */
async function loadLog(g) {
  const seq = ++logSeq;
  const c = client;
  try {
    const h = await c.history(logStream(g), { limit: LOG_LIMIT });
    if (seq !== logSeq || c !== client || g !== guild) return;
    const newer = logView.epoch === h.position.epoch ? [...logView.entries].filter(([offset]) => offset > h.position.offset) : [];
    resetLog(h.position.epoch);
    for (const p of h.publications) if (p.message && p.message.event === 'log_other') addLog(p.message.data, p.offset, h.position.epoch);
    for (const [offset, entry] of newer) addLog(entry, offset, h.position.epoch);
    els.logs.dataset.loads = String(Number(els.logs.dataset.loads || 0) + 1);
  } catch (err) {
    // A server without `history`: the log starts empty, as it did.
    if (seq === logSeq && c === client && err.code !== 'unknown_event') showError(err);
  }
}

function clearGuild() {
  for (const list of [els.channels, els.roles, els.members, els.results, els.autoResponses]) list.replaceChildren();
  autoResponses.clear();
  resetLog(null);
}

async function collect(iterable) {
  const out = [];
  for await (const chunk of iterable) out.push(...chunk);
  return out;
}

async function loadGuild(g) {
  const seq = ++loadSeq;
  const c = client;
  const stale = () => seq !== loadSeq || c !== client;
  try {
    const [channels, roles, responses] = await Promise.all([
      collect(c.poolAll('channel', g)),
      collect(c.poolAll('role', g)),
      collect(c.poolAll('autoResponse', g)),
    ]);
    if (stale()) return;
    fill(els.channels, channels, (ch) => `#${ch.name ?? ch.id}`);
    fill(els.roles, roles, (r) => String(r.name ?? r.id));
    autoResponses.clear();
    for (const r of responses) autoResponses.set(String(r.id), r);
    renderAutoResponses();
    // Members: the first chunk of the pool, first 50 shown (search covers the rest).
    const it = c.poolAll('member', g)[Symbol.asyncIterator]();
    const first = await it.next();
    await it.return?.();
    if (stale()) return;
    fill(els.members, (first.value || []).slice(0, 50), memberLabel);
    els.members.dataset.loaded = 'true';
    els.members.dataset.loads = String(Number(els.members.dataset.loads || 0) + 1);
  } catch (err) {
    if (!stale()) showError(err);
  }
}

async function selectGuild(g) {
  if (!g || !client) return;
  if (g !== guild) clearGuild();
  guild = g;
  try {
    await client.spectate(g, true);
  } catch (err) {
    showError(err);
    return;
  }
  // After the spectate: live entries and the history overlap, and the log shows each once.
  await Promise.all([loadGuild(g), loadLog(g)]);
}

// Member search: debounced; only the latest query's answer is shown.
let searchTimer;
let searchSeq = 0;
els.search.addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(async () => {
    const query = els.search.value.trim();
    const seq = ++searchSeq;
    if (!query || !client || !guild) {
      els.results.replaceChildren();
      return;
    }
    try {
      const found = await client.searchMembers(guild, query, 20);
      if (seq !== searchSeq) return;
      fill(els.results, found, memberLabel);
      if (!found.length) els.results.replaceChildren(li('(no match)'));
    } catch (err) {
      if (seq === searchSeq) showError(err);
    }
  }, 200);
});

els.signin.addEventListener('click', () => start({ kind: 'user', sub: params.get('sub') || 'alice' }));
els.guest.addEventListener('click', () => start({ kind: 'guest' }));
els.guild.addEventListener('change', () => selectGuild(els.guild.value));

function snowflake() {
  return `${Date.now()}${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
}

els.arForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const trigger = els.arTrigger.value.trim();
  const response = els.arResponse.value.trim();
  if (!trigger || !response || !guild) return showError(new Error(guild ? 'trigger and response are required' : 'pick a guild first'));
  try {
    const res = await fetch('/demo/auto-response', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ guild_id: guild, id: snowflake(), trigger, response }),
    });
    if (!res.ok) throw new Error(`save failed: HTTP ${res.status} ${await res.text()}`);
    showError(null);
    els.arTrigger.value = '';
    els.arResponse.value = '';
    // The list updates from the log_pool push, like every other spectator's.
  } catch (err) {
    showError(err);
  }
});

els.botForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const content = els.botInput.value;
  if (!content.trim() || !client) return;
  try {
    const reply = await client.interpret({ guild_id: guild || MOCK_GUILD, message_id: String(2 * Math.floor(Date.now() / 2)), content });
    els.botOutput.textContent = reply ? reply.content : '(no reply)';
  } catch (err) {
    els.botOutput.textContent = `error: ${err.human || err.message}`;
  }
});

setState('closed');
const as = params.get('as');
if (as === 'guest') start({ kind: 'guest' });
else if (as) start({ kind: 'user', sub: as });
