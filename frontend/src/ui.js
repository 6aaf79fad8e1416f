// Small DOM helpers. Every piece of user-provided text goes through
// textContent: names, file names and chat are never parsed as HTML.
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

export async function api(method, path, body, headers = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  const ct = resp.headers.get('Content-Type') || '';
  const data = ct.includes('json') ? await resp.json() : await resp.text();
  if (!resp.ok) throw new Error((data && data.detail) || resp.statusText);
  return data;
}

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
      // storage may be unavailable (private mode, third-party frame)
    }
  },
};

const palette = ['#e06c75', '#61afef', '#98c379', '#c678dd', '#d19a66', '#56b6c2', '#e5c07b', '#be5046'];

/** The user's name and colour, remembered in this browser. */
export function profile() {
  let p = store.get('profile', null);
  if (!p) {
    p = { name: 'Guest ' + Math.floor(Math.random() * 1000), color: palette[Math.floor(Math.random() * palette.length)] };
    store.set('profile', p);
  }
  return p;
}

export function remember(doc) {
  const recent = store.get('recent', []).filter((d) => d.id !== doc.id);
  recent.unshift({ id: doc.id, name: doc.name, time: Date.now() });
  store.set('recent', recent.slice(0, 20));
}
