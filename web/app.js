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
    // First welcome: open the guild; later ones (reconnect, failover): the SDK re-spectates, we re-fetch.
    selectGuild(pick, current === pick);
  });
  c.on('log_other', (entry) => {
    if (c !== client || !entry || (entry.guild_id && entry.guild_id !== guild)) return;
    const note = entry.data && typeof entry.data.note === 'string' ? entry.data.note : JSON.stringify(entry);
    els.logs.prepend(li(note, { id: String(entry.id ?? '') }));
    while (els.logs.children.length > 200) els.logs.lastElementChild.remove();
  });
  c.on('log_pool', (push) => {
    if (c !== client || !push || push.guild_id !== guild || push.type !== 'autoResponse') return;
    if (push.deleted) autoResponses.delete(String(push.id));
    else if (push.entity) autoResponses.set(String(push.entity.id), push.entity);
    renderAutoResponses();
  });
  c.on('resync', () => {
    if (c === client && guild) loadGuild(guild);
  });
}

function clearGuild() {
  for (const list of [els.channels, els.roles, els.members, els.results, els.logs, els.autoResponses]) list.replaceChildren();
  autoResponses.clear();
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
  } catch (err) {
    if (!stale()) showError(err);
  }
}

async function selectGuild(g, refetchOnly = false) {
  if (!g || !client) return;
  const changed = g !== guild;
  guild = g;
  if (changed) clearGuild();
  if (!refetchOnly || changed) {
    try {
      await client.spectate(g, true);
    } catch (err) {
      showError(err);
      return;
    }
  }
  await loadGuild(g);
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
