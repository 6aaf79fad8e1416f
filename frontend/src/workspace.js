// The workspace page, /w/{workspace}: its files as a tree (folders come
// from the "/" in file names), who is in which file, and creating,
// renaming (moving) and deleting files. The workspace's edit link is its
// owner: renames and deletions go to the workspace's own file routes.
import { el, api, docPath, remember, rememberWorkspaceOf, theme, applyTheme, APIError } from './ui.js';

const PAGE = 1000; // files per request, the server's largest page
const MAX_FILES = 20000;
const PRESENCE_EVERY = 10000; // ms
const PRESENCE_PARALLEL = 6;

export function main({ workspace: ws }) {
  applyTheme(theme());
  const $ = (id) => document.getElementById(id);
  const tree = $('tree');
  const err = $('error');
  const wsPath = '/api/workspaces/' + encodeURIComponent(ws) + '/files';
  const filePath = (id) => wsPath + '/' + encodeURIComponent(id);
  let files = []; // [{id, name, ...}]
  const who = new Map(); // doc id -> element listing its users
  const fail = (e) => {
    err.textContent = e.message;
  };
  remember({ kind: 'workspace', id: ws, name: 'Workspace' });

  async function load() {
    const all = [];
    let after = '';
    let readOnly = false;
    for (;;) {
      const q = new URLSearchParams({ limit: String(PAGE) });
      if (after) q.set('after', after);
      const page = await api('GET', `${wsPath}?${q}`);
      for (const f of page.files) {
        all.push(f);
        if (f.mode === 'view') readOnly = true;
      }
      if (!page.next || all.length >= MAX_FILES) break;
      after = page.next;
    }
    document.body.classList.toggle('readonly', readOnly);
    return all;
  }

  async function refresh() {
    try {
      files = await load();
      err.textContent = '';
      render();
      presence();
    } catch (e) {
      fail(e);
    }
  }

  // The tree: a nested map of folders, files sorted by name.
  function render() {
    const root = { dirs: new Map(), files: [] };
    for (const f of files) {
      const parts = f.name.split('/').filter((p) => p !== '');
      let node = root;
      for (const dir of parts.slice(0, -1)) {
        if (!node.dirs.has(dir)) node.dirs.set(dir, { dirs: new Map(), files: [] });
        node = node.dirs.get(dir);
      }
      node.files.push({ f, base: parts[parts.length - 1] || f.name });
    }
    who.clear();
    tree.replaceChildren(...renderNode(root, ''));
    $('empty').hidden = files.length > 0;
  }

  function renderNode(node, path) {
    const items = [];
    for (const [dir, sub] of [...node.dirs].sort(([a], [b]) => a.localeCompare(b))) {
      const full = path + dir + '/';
      items.push(el('li', { class: 'dir', 'data-dir': full },
        el('details', { open: true }, el('summary', { text: dir + '/' }), el('ul', {}, ...renderNode(sub, full)))));
    }
    for (const { f, base } of node.files.sort((a, b) => a.base.localeCompare(b.base))) items.push(fileItem(f, base));
    return items;
  }

  function fileItem(f, base) {
    const users = el('span', { class: 'who' });
    who.set(f.id, users);
    const li = el('li', { class: 'file', 'data-file': f.name });
    const show = () => li.replaceChildren(
      // Opening a file remembers where it came from: its page links back here.
      el('a', { href: '/d/' + encodeURIComponent(f.id), text: base, title: f.name, onclick: () => rememberWorkspaceOf(f.id, ws), onauxclick: () => rememberWorkspaceOf(f.id, ws) }),
      users,
      el('span', { class: 'actions' },
        el('button', { class: 'link', text: 'rename', onclick: rename }),
        el('button', { class: 'link', text: 'delete', onclick: confirmDelete })),
    );
    const rename = () => {
      const input = el('input', { class: 'rename', value: f.name, 'aria-label': 'New name' });
      const save = async () => {
        const name = input.value.trim();
        if (!name || name === f.name) return show();
        try {
          await api('PATCH', filePath(f.id), { name });
          refresh();
        } catch (e) {
          fail(e);
          show();
        }
      };
      input.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter') save();
        else if (ev.key === 'Escape') show();
      });
      li.replaceChildren(input, el('button', { text: 'Save', onclick: save }), el('button', { class: 'link', text: 'cancel', onclick: show }));
      input.focus();
      input.setSelectionRange(f.name.length - base.length, f.name.length);
    };
    const confirmDelete = () => {
      li.replaceChildren(
        el('span', { text: `Delete ${f.name}? ` }),
        el('button', { class: 'danger', text: 'Delete', onclick: remove }),
        el('button', { class: 'link', text: 'cancel', onclick: show }),
      );
    };
    const remove = async () => {
      try {
        await api('DELETE', filePath(f.id));
        refresh();
      } catch (e) {
        fail(e);
        show();
      }
    };
    show();
    return li;
  }

  // Who is in which file: one small request per file, a few at a time.
  let polling = false;
  async function presence() {
    if (polling || document.hidden) return;
    polling = true;
    const queue = files.map((f) => f.id);
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        try {
          const p = await api('GET', docPath(id) + '/presence');
          const span = who.get(id);
          if (span) {
            span.replaceChildren(...p.users.map((u) =>
              el('span', { class: 'user', title: u.readOnly ? 'viewing' : 'editing' },
                el('span', { class: 'dot', style: 'background-color:' + (/^#[0-9a-fA-F]{6}$/.test(u.color) ? u.color : '#888888') }),
                el('span', { class: 'name', text: u.name || 'Anonymous' }))));
          }
        } catch (e) {
          if (!(e instanceof APIError)) throw e;
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: PRESENCE_PARALLEL }, worker));
    } catch {
      // offline: next round
    } finally {
      polling = false;
    }
  }
  setInterval(presence, PRESENCE_EVERY);
  document.addEventListener('visibilitychange', presence);

  $('new-file-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = $('new-file-name');
    const name = input.value.trim();
    if (!name) return;
    try {
      const doc = await api('POST', '/api/docs', { name, text: '', workspace: ws });
      input.value = '';
      remember({ kind: 'doc', id: doc.id, name: doc.name });
      rememberWorkspaceOf(doc.id, ws);
      await refresh();
    } catch (e) {
      fail(e);
    }
  });
  $('refresh').addEventListener('click', refresh);
  refresh();
}
