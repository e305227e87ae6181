// The live log: a guild's log entries by offset within one epoch of its log stream, newest first
// on screen, each shown once as its time, author and text.

/** What an entry says: `data.text` (the README's example posts it), else its data as JSON. */
function textOf(entry) {
  const data = entry.data;
  if (data && typeof data.text === 'string') return data.text;
  if (data !== undefined && data !== null) return JSON.stringify(data);
  return `action ${entry.action_number ?? '?'}`;
}

function span(className, text) {
  const el = document.createElement('span');
  el.className = className;
  el.textContent = text;
  return el;
}

function timeOf(ms) {
  const at = new Date(ms);
  const el = document.createElement('time');
  el.className = 'log-time';
  el.dateTime = at.toISOString();
  el.title = at.toLocaleString();
  // Today's entries by time only; older ones with their date.
  el.textContent = at.toDateString() === new Date().toDateString() ? at.toLocaleTimeString() : at.toLocaleString();
  return el;
}

/**
 * `list`: the `<ul>`; `limit`: entries kept on screen; `names(ids)`: resolves the display names of
 * the authors it can (a Map), asked once per author, in batches.
 */
export function createLogView(list, { limit, names }) {
  const view = { epoch: null, entries: new Map() };
  const known = new Map();
  const asked = new Set();
  let batch = null;

  function lookUp(id) {
    if (asked.has(id)) return;
    asked.add(id);
    if (batch) return batch.add(id);
    batch = new Set([id]);
    // One request for the authors of a whole history page, not one per entry.
    queueMicrotask(async () => {
      const ids = [...batch];
      batch = null;
      const found = await names(ids).catch(() => new Map());
      for (const [id, name] of found) {
        known.set(id, name);
        for (const el of list.querySelectorAll('.log-author')) if (el.dataset.agent === id) el.textContent = name;
      }
    });
  }

  function item(entry) {
    const li = document.createElement('li');
    li.dataset.id = String(entry.id ?? '');
    if (Number.isFinite(entry.timestamp)) li.append(timeOf(entry.timestamp), ' ');
    if (typeof entry.agent_id === 'string') {
      const author = span('log-author', known.get(entry.agent_id) ?? entry.agent_id);
      author.dataset.agent = entry.agent_id;
      li.append(author, ' ');
      if (!known.has(entry.agent_id)) lookUp(entry.agent_id);
    }
    li.append(span('log-text', textOf(entry)));
    return li;
  }

  /** Empties the list; `epoch` is the stream's (null: none yet). */
  view.reset = (epoch) => {
    view.epoch = epoch;
    view.entries.clear();
    list.replaceChildren();
  };

  /** Forgets the names of authors (another guild's members are others). */
  view.forgetNames = () => {
    known.clear();
    asked.clear();
  };

  /** Shows an entry once per offset, in offset order (newest first); unpositioned ones on top. */
  view.add = (entry, offset, epoch) => {
    if (!Number.isInteger(offset)) {
      list.prepend(item(entry));
    } else {
      // A new epoch: the stream's history was lost; the SDK's `recovery` reloads the rest.
      if (epoch !== view.epoch) view.reset(epoch);
      if (view.entries.has(offset)) return;
      view.entries.set(offset, entry);
      const li = item(entry);
      li.dataset.offset = String(offset);
      let before = null;
      for (const el of list.children) {
        if (el.dataset.offset !== undefined && Number(el.dataset.offset) < offset) {
          before = el;
          break;
        }
      }
      list.insertBefore(li, before);
    }
    while (list.children.length > limit) {
      const last = list.lastElementChild;
      if (last.dataset.offset !== undefined) view.entries.delete(Number(last.dataset.offset));
      last.remove();
    }
  };

  return view;
}
