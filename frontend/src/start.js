// The start page: create a file or a workspace; the documents and
// workspaces opened in this browser, kept in localStorage.
import { el, api, store, remember, rememberWorkspaceOf, forget, theme, applyTheme, ago } from './ui.js';

export function main() {
  applyTheme(theme());
  const err = document.getElementById('error');
  const fail = (e) => (err.textContent = e.message);
  const name = document.getElementById('new-name');

  document.getElementById('new-file-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    try {
      const doc = await api('POST', '/api/docs', { name: name.value.trim() || 'untitled.txt', text: '' });
      remember({ kind: 'doc', id: doc.id, name: doc.name });
      if (doc.workspaceLinks && doc.workspaceLinks.edit) {
        remember({ kind: 'workspace', id: doc.workspaceLinks.edit, name: 'Workspace of ' + doc.name });
        rememberWorkspaceOf(doc.id, doc.workspaceLinks.edit);
      }
      location.href = '/d/' + encodeURIComponent(doc.id);
    } catch (e) {
      fail(e);
    }
  });

  document.getElementById('new-workspace').addEventListener('click', async () => {
    err.textContent = '';
    try {
      const ws = await api('POST', '/api/workspaces');
      remember({ kind: 'workspace', id: ws.id, name: 'Workspace' });
      location.href = '/w/' + encodeURIComponent(ws.id);
    } catch (e) {
      fail(e);
    }
  });

  const list = document.getElementById('recent');
  const render = () => {
    const recent = store.get('recent', []);
    document.getElementById('recent-section').hidden = recent.length === 0;
    list.replaceChildren(
      ...recent.map((d) => {
        const href = (d.kind === 'workspace' ? '/w/' : '/d/') + encodeURIComponent(d.id);
        return el('li', { class: 'recent-' + (d.kind || 'doc') },
          el('span', { class: 'kind', text: d.kind === 'workspace' ? 'workspace' : 'file' }),
          el('a', { href, text: d.name || d.id }),
          el('span', { class: 'muted', text: d.time ? ago(new Date(d.time).toISOString()) : '' }),
          el('button', { class: 'link', title: 'Forget', text: '×', onclick: () => { forget(d); render(); } }),
        );
      }),
    );
  };
  render();
}
