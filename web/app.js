// Dashboard page: plain ES module on top of the client SDK (/client/index.js).
// Query string: ?ws=<balancer websocket url>[,<another>...]&api=<monolith http origin>&as=<guest|sub>
//   ws  default: /config.json's (the server's WS_URL, ws://127.0.0.1:8080/ws); a comma-separated
//       list is rotated through on reconnect
//   api default http://127.0.0.1:3000 (only shown; the page talks to the monolith through this server)
import { ClientErrorCode, connect } from '/client/index.js';
import { createLogView } from './log-view.js';
import { closeText, createReconnectNote, RECONNECT } from './reconnect-note.js';

const DEMO_GUILD = '1234567890';
// The mock bot's own guild (monolith/src/store/fixture.ts MOCK_GUILD_ID): mock guild ids are below
// 10^7, and there anyone may use the bot; a real guild needs the guild in the token.
const MOCK_GUILD = '1000000';
const params = new URLSearchParams(location.search);
const splitUrls = (value) => String(value).split(',').map((s) => s.trim()).filter(Boolean);
let wsUrls = splitUrls(params.get('ws') || '');

const $ = (id) => document.getElementById(id);
const els = {
  state: $('state'), who: $('who'), error: $('error'), reconnect: $('reconnect'), hint: $('hint'),
  signin: $('signin'), guest: $('guest'), guild: $('guild'),
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
// Guild names by id, from the `guild` pool (it answers for the token's guilds only).
const guildNames = new Map();
let loadSeq = 0;
let logSeq = 0;
const LOG_LIMIT = 200;
// Stream names (protocol/src/streams.ts): a guild's pool updates and its log entries.
const poolStream = (g) => `guild:${g}`;
const logStream = (g) => `guild:${g}:logs`;
// Members carry Discord's `nick`; older data `nickname`.
const nickOf = (m) => m.nick || m.nickname;
const memberName = (m) => String(nickOf(m) || m.name || m.id);
const logView = createLogView(els.logs, {
  limit: LOG_LIMIT,
  // Authors are members of the guild shown; the answer may come after the guild changed.
  async names(ids) {
    const c = client;
    const g = guild;
    const { data } = await c.pool('member', ids, g);
    return c === client && g === guild ? new Map(data.map((m) => [String(m.id), memberName(m)])) : new Map();
  },
});
const reconnectNote = createReconnectNote(els.reconnect);

function showError(err) {
  els.error.textContent = err ? (err.human || err.message || String(err)) : '';
}

function setState(state) {
  els.state.textContent = state;
  els.state.dataset.state = state;
  document.body.dataset.state = state;
}

/** The first screen's (and a guest's) hint: what to do next; hidden once a guild is open. */
function renderHint() {
  let hint = '';
  if (!identity) hint = 'Sign in as the demo user to open a guild (channels, members, live log, auto responses), or continue as a guest to talk to the mock bot.';
  else if (!welcome) hint = 'Connecting…';
  else if (!els.guild.options.length || !els.guild.value) {
    hint = welcome.user && welcome.user.guest
      ? 'Guests have no guild: try the mock bot below (say "!roll 2d6" or "!echo hi"), or sign in as the demo user to open a guild.'
      : 'This token names no guild: sign in with a token that carries one to see its channels, members and log.';
  } else if (!guild) hint = 'Pick a guild above to see its channels, members and live log.';
  els.hint.textContent = hint;
  els.hint.hidden = !hint;
}

/** Auto responses are edited by signed-in users, not by guests (nor before anyone signs in). */
function renderEditor() {
  els.arForm.hidden = !welcome || !welcome.user || welcome.user.guest === true;
}

/** Shows the guilds' names once the `guild` pool gives them (the id until then, or if it cannot). */
async function nameGuilds(c, ids) {
  const missing = ids.filter((id) => !guildNames.has(id));
  if (missing.length) {
    try {
      const { data } = await c.pool('guild', missing);
      for (const g of data) if (typeof g.name === 'string') guildNames.set(String(g.id), g.name);
    } catch {
      return; // the ids stay: a server without the guild pool
    }
  }
  if (c !== client) return;
  for (const option of els.guild.options) if (guildNames.has(option.value)) option.textContent = guildNames.get(option.value);
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

const memberLabel = (m) => (nickOf(m) ? `${nickOf(m)} (${m.name ?? m.id})` : String(m.name ?? m.id));

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
  reconnectNote.hide();
  renderHint();
  renderEditor();
  // Guests get one token: each reconnect re-uses it until it expires (an hour), then mints another.
  let token;
  const getToken = async () => {
    if (who.kind === 'guest') return (token ??= await tokenFor(who));
    return tokenFor(who);
  };
  // Several urls: the SDK rotates through them on reconnect.
  const c = connect({ url: wsUrls.length > 1 ? wsUrls : wsUrls[0], getToken, reconnect: RECONNECT });
  client = c;
  window.gatewayClient = c;
  setState(c.state);
  c.on('state', (state) => {
    if (c !== client) return;
    setState(state);
    if (state === 'closed') reconnectNote.hide();
  });
  // Each lost connection and each failed token fetch is followed by a retry after a back-off.
  c.on('close', (info) => {
    if (c === client && c.state !== 'closed') reconnectNote.lost(`Connection lost: ${closeText(info)}`);
  });
  c.on('error', (err) => {
    if (c !== client) return;
    if (err.code === ClientErrorCode.TOKEN) reconnectNote.lost(`No token: ${err.message}`);
    else showError(err);
  });
  c.on('welcome', (data) => {
    if (c !== client) return;
    welcome = data;
    reconnectNote.welcomed();
    renderEditor();
    const user = data.user || {};
    els.who.textContent = `${user.guest ? 'guest' : user.name || user.id} · room ${data.room} · ${data.monolith}`;
    const guilds = Object.keys((data.permissions && data.permissions.guilds) || {});
    const current = guild;
    els.guild.replaceChildren(...guilds.map((g) => new Option(guildNames.get(g) ?? g, g)));
    if (!guilds.length) {
      els.guild.append(new Option('(no guilds)', ''));
      els.guild.value = '';
      renderHint();
      return;
    }
    void nameGuilds(c, guilds);
    const pick = guilds.includes(current) ? current : guilds.includes(DEMO_GUILD) ? DEMO_GUILD : guilds[0];
    els.guild.value = pick;
    renderHint();
    // First welcome: open the guild. Later ones (reconnect, failover) keep it: the SDK
    // re-spectates with its positions and its `recovery` event says what to reload.
    if (pick !== current) selectGuild(pick);
  });
  c.on('log_other', (entry, msg) => {
    if (c !== client || !entry || (entry.guild_id && entry.guild_id !== guild)) return;
    logView.add(entry, msg.offset, msg.epoch);
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
    logView.reset(h.position.epoch);
    for (const p of h.publications) if (p.message && p.message.event === 'log_other') logView.add(p.message.data, p.offset, h.position.epoch);
    for (const [offset, entry] of newer) logView.add(entry, offset, h.position.epoch);
    els.logs.dataset.loads = String(Number(els.logs.dataset.loads || 0) + 1);
  } catch (err) {
    // A server without `history`: the log starts empty, as it did.
    if (seq === logSeq && c === client && err.code !== 'unknown_event') showError(err);
  }
}

function clearGuild() {
  for (const list of [els.channels, els.roles, els.members, els.results, els.autoResponses]) list.replaceChildren();
  autoResponses.clear();
  logView.reset(null);
  logView.forgetNames();
}

async function collect(iterable) {
  const out = [];
  for await (const chunk of iterable) out.push(...chunk);
  return out;
}

/** Members listed when a guild opens: `pool_all_request` stops there (`limit`). */
const MEMBERS_SHOWN = 50;

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
    // Members: the first 50 of the pool, all the server sends (search covers the rest).
    const members = await collect(c.poolAll('member', g, undefined, { limit: MEMBERS_SHOWN }));
    if (stale()) return;
    fill(els.members, members, memberLabel);
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
  renderHint();
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
renderHint();
renderEditor();
const as = params.get('as');
if (as === 'guest') start({ kind: 'guest' });
else if (as) start({ kind: 'user', sub: as });
