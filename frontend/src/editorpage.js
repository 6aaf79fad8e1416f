// The editor page, /d/{id}: the document, who is here, the connection's
// state, and your own name and colour.
import { openSession, statusText } from './session.js';
import { el, profile, saveProfile, remember, store, theme, applyTheme } from './ui.js';
import { cleanColor, cleanName } from './collab.js';

export function main({ doc: docId }) {
  let t = theme();
  applyTheme(t);
  const me = profile();
  const $ = (id) => document.getElementById(id);
  const status = $('status');
  const users = $('users');
  const title = $('title');
  const links = $('links');
  const notice = $('notice');

  const { collab, editor } = openSession({
    docId,
    name: me.name,
    color: me.color,
    parent: $('editor'),
    theme: t,
    on: {
      joined(m) {
        showDoc(m.doc);
        document.body.classList.toggle('readonly', m.readOnly);
        links.replaceChildren(...docLinks(docId, m.doc, m.readOnly));
      },
      meta: showDoc,
      users: renderUsers,
      status(s, detail) {
        status.textContent = statusText(s, detail);
        status.dataset.state = s;
        if (s === 'saved' && collab.readOnly) status.textContent = 'read-only';
      },
      refused(why) {
        notice.replaceChildren(
          `That edit was not made: ${why}.`, ' ',
          el('button', { class: 'link', text: 'Dismiss', onclick: () => (notice.hidden = true) }),
        );
        notice.hidden = false;
      },
      resync(mine) {
        if (mine === null) return;
        // Never drop an edit silently: offer what was not sent.
        const url = URL.createObjectURL(new Blob([mine], { type: 'text/plain' }));
        notice.replaceChildren(
          'The document changed on the server in a way your unsent edits could not follow; they are not in it. ',
          el('a', { href: url, download: 'my-version.txt', text: 'Download your version' }),
          ' ',
          el('button', { class: 'link', text: 'Dismiss', onclick: () => (notice.hidden = true) }),
        );
        notice.hidden = false;
      },
    },
  });
  window.collabEditor = editor; // for the console and the browser tests
  window.collab = collab;

  function showDoc(doc) {
    title.textContent = doc.name;
    document.title = doc.name + ' — collab';
    remember({ kind: 'doc', id: docId, name: doc.name });
  }

  function renderUsers() {
    const dot = (color) => el('span', { class: 'dot', style: 'background-color:' + cleanColor(color) });
    users.replaceChildren(
      el('li', { class: 'me', title: 'you' }, dot(collab.color), el('span', { class: 'name', text: collab.name + ' (you)' })),
      ...[...collab.users.values()].map((u) =>
        el('li', { 'data-user': u.id, title: u.readOnly ? 'viewing' : 'editing' }, dot(u.color), el('span', { class: 'name', text: u.name || 'Anonymous' })),
      ),
    );
  }

  const nameInput = $('my-name');
  const colorInput = $('my-color');
  nameInput.value = me.name;
  colorInput.value = me.color;
  const changeProfile = () => {
    const p = { name: cleanName(nameInput.value) || me.name, color: cleanColor(colorInput.value, me.color) };
    saveProfile(p);
    collab.setProfile(p.name, p.color);
    renderUsers();
  };
  nameInput.addEventListener('change', changeProfile);
  colorInput.addEventListener('change', changeProfile);
  $('theme').addEventListener('click', () => {
    t = t === 'dark' ? 'light' : 'dark';
    store.set('theme', t);
    applyTheme(t);
    editor.setTheme(t);
  });
}

/** Links to the history and, for an editor, to the document's edit and view links. */
function docLinks(docId, doc, readOnly) {
  const out = [el('a', { id: 'history-link', href: '/d/' + encodeURIComponent(docId) + '/history', text: 'History' })];
  if (doc.links) {
    if (doc.links.view && doc.links.view !== docId) {
      out.push(el('a', { href: '/d/' + encodeURIComponent(doc.links.view), title: 'A link that lets others view, not edit', text: 'View link' }));
    }
    if (!readOnly && doc.links.edit && doc.links.edit !== docId) {
      out.push(el('a', { href: '/d/' + encodeURIComponent(doc.links.edit), text: 'Edit link' }));
    }
  }
  return out;
}
