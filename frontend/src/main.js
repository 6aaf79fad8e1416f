// Entry point: each page's HTML names its kind in <body data-page>.
import { Collab } from './collab.js';
import { CollabEditor } from './editor.js';
import { el, api, store, profile, remember } from './ui.js';

const body = document.body;
const page = body.dataset.page;
const docId = body.dataset.doc;

if (page === 'start') startPage();
else if (page === 'editor') editorPage();
else if (page === 'workspace') workspacePage();
else if (page === 'history') import('./history.js').then((m) => m.historyPage(docId));
else if (page === 'embed') embedPage();

function theme() {
  return store.get('theme', matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
}

function applyTheme(t) {
  document.documentElement.dataset.theme = t;
}

// ---- start page

function startPage() {
  applyTheme(theme());
  const main = document.getElementById('main');
  const name = el('input', { id: 'new-name', placeholder: 'src/main.go', value: 'untitled.txt' });
  const err = el('p', { class: 'error', id: 'error' });
  const create = async (ws) => {
    try {
      const doc = await api('POST', '/api/docs', { name: name.value, text: '', ...(ws ? { workspace: ws } : {}) });
      remember(doc);
      location.href = '/d/' + encodeURIComponent(doc.id);
    } catch (e) {
      err.textContent = e.message;
    }
  };
  main.append(
    el('h1', { text: 'collab' }),
    el('p', { text: 'Edit code together, live. Create a file and share its link.' }),
    el('div', { class: 'row' }, name, el('button', { id: 'new-file', text: 'New file', onclick: () => create() })),
    el('div', { class: 'row' }, el('button', {
      id: 'new-workspace', text: 'New workspace',
      onclick: async () => {
        try {
          const ws = await api('POST', '/api/workspaces');
          location.href = '/w/' + encodeURIComponent(ws.id);
        } catch (e) {
          err.textContent = e.message;
        }
      },
    })),
    err,
  );
  const recent = store.get('recent', []);
  if (recent.length) {
    const list = el('ul', { id: 'recent' });
    for (const d of recent) list.append(el('li', {}, el('a', { href: '/d/' + encodeURIComponent(d.id), text: d.name })));
    main.append(el('h2', { text: 'Recent' }), list);
  }
}

// ---- editor page

function editorPage() {
  let t = theme();
  applyTheme(t);
  const me = profile();
  const status = document.getElementById('status');
  const users = document.getElementById('users');
  const title = document.getElementById('title');
  const links = document.getElementById('links');
  let editor;
  const collab = new Collab({
    docId, name: me.name, color: me.color,
    handlers: {
      onJoined(m, text) {
        title.textContent = m.doc.name;
        document.title = m.doc.name + ' — collab';
        remember(m.doc);
        if (text !== null) {
          editor.load(text);
          editor.setLanguage(m.doc.name, m.doc.language);
          editor.setReadOnly(m.readOnly);
        }
        links.replaceChildren();
        if (m.doc.links) {
          if (m.doc.links.edit) links.append(el('a', { href: '/d/' + m.doc.links.edit, text: 'edit link' }), ' ');
          links.append(el('a', { href: '/d/' + m.doc.links.view, text: 'view link' }), ' ');
        }
        links.append(el('a', { id: 'history-link', href: '/d/' + encodeURIComponent(docId) + '/history', text: 'history' }));
        if (m.readOnly) body.classList.add('readonly');
      },
      onRemote: (op) => editor.applyRemote(op),
      onReset: (text) => editor.reset(text),
      onUsers() {
        editor.drawCursors();
        users.replaceChildren(
          el('li', { class: 'me' }, el('span', { class: 'dot', style: `background:${collab.color}` }), el('span', { text: collab.name + ' (you)' })),
          ...[...collab.users.values()].map((u) => el('li', { 'data-user': u.id }, el('span', { class: 'dot', style: `background:${u.color}` }), el('span', { text: u.name }))),
        );
      },
      onStatus(s, why) {
        status.textContent = why || { connecting: 'connecting…', offline: 'offline — edits are kept', saving: 'saving…', saved: 'saved', closed: 'closed' }[s] || s;
        status.dataset.state = s;
      },
      onMeta(doc) {
        title.textContent = doc.name;
        editor.setLanguage(doc.name, doc.language);
      },
      onSynced: () => editor.sendCursor(),
      onError: (m) => console.warn('collab error', m.code, m.message),
    },
  });
  editor = new CollabEditor({ parent: document.getElementById('editor'), collab, theme: t });
  window.collabEditor = editor; // for tests and the console
  collab.connect();

  const nameInput = document.getElementById('my-name');
  const colorInput = document.getElementById('my-color');
  nameInput.value = me.name;
  colorInput.value = me.color;
  const saveProfile = () => {
    const p = { name: nameInput.value.slice(0, 64), color: colorInput.value };
    store.set('profile', p);
    collab.setProfile(p.name, p.color);
    collab.h.onUsers();
  };
  nameInput.addEventListener('change', saveProfile);
  colorInput.addEventListener('change', saveProfile);
  document.getElementById('theme').addEventListener('click', () => {
    t = t === 'dark' ? 'light' : 'dark';
    store.set('theme', t);
    applyTheme(t);
    editor.setTheme(t);
  });
}

// ---- workspace page

function workspacePage() {
  applyTheme(theme());
  const ws = body.dataset.workspace;
  const tree = document.getElementById('files');
  const err = document.getElementById('error');
  const show = (e) => (err.textContent = e.message);
  const refresh = async () => {
    try {
      const { files } = await api('GET', `/api/workspaces/${encodeURIComponent(ws)}/files?limit=1000`);
      tree.replaceChildren();
      for (const f of files) {
        const who = el('span', { class: 'who' });
        tree.append(el('li', { 'data-file': f.name },
          el('a', { href: '/d/' + encodeURIComponent(f.id), text: f.name }), ' ', who,
          el('button', { text: 'rename', onclick: async () => {
            const name = prompt('New name', f.name);
            if (name) await api('PATCH', '/api/docs/' + encodeURIComponent(f.id), { name }).then(refresh, show);
          } }),
          el('button', { text: 'delete', onclick: async () => {
            const token = prompt('Deleting needs the administrator token');
            if (token) await api('DELETE', '/api/docs/' + encodeURIComponent(f.id), undefined, { Authorization: 'Bearer ' + token }).then(refresh, show);
          } }),
        ));
        api('GET', `/api/docs/${encodeURIComponent(f.id)}/presence`).then((p) => {
          who.textContent = p.users.length ? '(' + p.users.map((u) => u.name).join(', ') + ')' : '';
        }, () => {});
      }
    } catch (e) {
      show(e);
    }
  };
  const name = document.getElementById('new-file-name');
  document.getElementById('new-file').addEventListener('click', async () => {
    await api('POST', '/api/docs', { name: name.value, text: '', workspace: ws }).then(refresh, show);
  });
  refresh();
  setInterval(refresh, 5000);
}

// ---- embed page: a minimal editor for iframes, driven by URL parameters
// and a postMessage API.

function embedPage() {
  const q = new URLSearchParams(location.search);
  const t = q.get('theme') === 'dark' ? 'dark' : 'light';
  applyTheme(t);
  const readOnly = q.get('readonly') === '1' || q.get('readonly') === 'true';
  const post = (m) => window.parent !== window && window.parent.postMessage({ source: 'collab', ...m }, '*');
  const mine = profile();
  let editor;
  const collab = new Collab({
    docId, token: q.get('token') || '', readOnly,
    name: q.get('name') || mine.name, color: q.get('color') || mine.color,
    handlers: {
      onJoined(m, text) {
        if (text !== null) {
          editor.load(text);
          editor.setLanguage(m.doc.name, q.get('lang') || m.doc.language);
          editor.setReadOnly(m.readOnly);
          if (q.get('line')) editor.scrollToLine(parseInt(q.get('line'), 10));
          post({ type: 'ready', rev: collab.rev, readOnly: m.readOnly });
        }
      },
      onRemote(op) {
        editor.applyRemote(op);
        post({ type: 'change', rev: collab.rev });
      },
      onReset: (text) => editor.reset(text),
      onUsers() {
        editor.drawCursors();
        post({ type: 'presence', users: [...collab.users.values()].map((u) => ({ id: u.id, name: u.name, color: u.color })) });
      },
      onAck: (rev) => post({ type: 'change', rev }),
      onStatus: (s) => post({ type: 'status', status: s }),
    },
  });
  editor = new CollabEditor({ parent: document.getElementById('editor'), collab, theme: t, readOnly, lineNumbers: q.get('lineNumbers') !== '0' && q.get('lineNumbers') !== 'false' });
  window.collabEditor = editor;
  collab.connect();
  window.addEventListener('message', (ev) => {
    const m = ev.data || {};
    if (m.type === 'setProfile') collab.setProfile(String(m.name || '').slice(0, 64), m.color || collab.color);
    else if (m.type === 'focus') editor.view.focus();
    else if (m.type === 'getText') ev.source.postMessage({ source: 'collab', type: 'text', text: editor.text(), rev: collab.rev }, ev.origin === 'null' ? '*' : ev.origin);
  });
}
