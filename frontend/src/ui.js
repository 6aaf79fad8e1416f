// Small helpers shared by the pages. Every piece of text that comes from a
// user (names, file names, chat) is set with textContent, never parsed as
// HTML, and attributes are set one by one with setAttribute.

/**
 * Makes an element. attrs: 'class', 'text' (textContent), 'on<event>'
 * (a listener), anything else an attribute; children are nodes or strings.
 */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  e.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return e;
}

/** A failed API call: status and the problem's code. */
export class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the REST API; JSON in and out, problems thrown as APIError. */
export async function api(method, path, body, headers = {}) {
  const init = { method, headers: { Accept: 'application/json', ...headers } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  if (resp.status === 204) return null;
  const ct = resp.headers.get('Content-Type') || '';
  const data = ct.includes('json') ? await resp.json() : await resp.text();
  if (!resp.ok) throw new APIError(resp.status, data && data.code, (data && (data.detail || data.title)) || `${resp.status} ${resp.statusText}`);
  return data;
}

/** The path of a document's REST resource. */
export const docPath = (id) => '/api/docs/' + encodeURIComponent(id);

/** localStorage under "collab.", quiet when storage is unavailable (private mode, third-party frames). */
export const store = {
  get(k, d) {
    try {
      const v = localStorage.getItem('collab.' + k);
      return v === null ? d : JSON.parse(v);
    } catch {
      return d;
    }
  },
  set(k, v) {
    try {
      localStorage.setItem('collab.' + k, JSON.stringify(v));
    } catch {
      // not kept: fine
    }
  },
};

/**
 * This browser's author secret (docs/PROTOCOL.md, join's author): 128
 * random bits in hex, made once and shared by every tab through
 * localStorage, so the server knows one person across reloads and tabs.
 * A secret: sent in joins, never shown. Without storage, one per page.
 */
export function authorSecret() {
  let a = store.get('author', null);
  if (typeof a !== 'string' || !/^[0-9a-f]{32}$/.test(a)) {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    a = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    store.set('author', a);
  }
  return a;
}

/**
 * The workspace a document link was opened from in this browser (its
 * workspace link), or ''. The server tells nobody a document's workspace
 * (a file's link must not open its siblings), so the way back is what this
 * browser saw: the workspace page and the start page record it.
 */
export function workspaceOf(doc) {
  const hit = store.get('workspaceOf', []).find((e) => Array.isArray(e) && e[0] === doc);
  return hit ? String(hit[1]) : '';
}

export function rememberWorkspaceOf(doc, ws) {
  if (!doc || !ws) return;
  const all = store.get('workspaceOf', []).filter((e) => Array.isArray(e) && e[0] !== doc);
  all.unshift([doc, ws]);
  store.set('workspaceOf', all.slice(0, 500));
}

/**
 * Puts text on the clipboard: the Clipboard API where the page may use
 * it, else a selected textarea and the copy command. Resolves to whether
 * it worked.
 */
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall back below
  }
  const ta = el('textarea', { readonly: true, style: 'position:fixed;top:-1000px;opacity:0' });
  ta.value = text;
  document.body.append(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}

export const palette = ['#e06c75', '#61afef', '#98c379', '#c678dd', '#d19a66', '#56b6c2', '#e5c07b', '#be5046'];

const adjectives = ['Quick', 'Calm', 'Brave', 'Bright', 'Keen', 'Witty', 'Gentle', 'Bold'];
const animals = ['Otter', 'Falcon', 'Lynx', 'Heron', 'Badger', 'Panda', 'Koala', 'Fox'];
const pick = (a) => a[Math.floor(Math.random() * a.length)];

/** The user's name and colour, remembered in this browser. */
export function profile() {
  let p = store.get('profile', null);
  if (!p || typeof p.name !== 'string' || !/^#[0-9a-fA-F]{6}$/.test(p.color)) {
    p = { name: pick(adjectives) + ' ' + pick(animals), color: pick(palette) };
    store.set('profile', p);
  }
  return p;
}

export function saveProfile(p) {
  store.set('profile', { name: p.name, color: p.color });
}

/** Remembers a document (or a workspace) among the recent ones. */
export function remember(item) {
  const recent = store.get('recent', []).filter((d) => !(d.id === item.id && d.kind === item.kind));
  recent.unshift({ kind: item.kind || 'doc', id: item.id, name: item.name, time: Date.now() });
  store.set('recent', recent.slice(0, 30));
}

export function forget(item) {
  store.set('recent', store.get('recent', []).filter((d) => !(d.id === item.id && d.kind === item.kind)));
}

/** The theme: remembered, else the system's preference. */
export function theme() {
  const t = store.get('theme', null);
  if (t === 'light' || t === 'dark') return t;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function applyTheme(t) {
  document.documentElement.dataset.theme = t;
}

/** "3 minutes ago"-style text for an ISO time. */
export function ago(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.round((Date.now() - t) / 1000);
  const fmt = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  if (Math.abs(s) < 60) return fmt.format(-s, 'second');
  if (Math.abs(s) < 3600) return fmt.format(-Math.round(s / 60), 'minute');
  if (Math.abs(s) < 86400) return fmt.format(-Math.round(s / 3600), 'hour');
  return fmt.format(-Math.round(s / 86400), 'day');
}
