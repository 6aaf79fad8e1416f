// The editor page, /d/{id}: the document, who is here, the connection's
// state, your own name and colour, the chat, the links to share (each with
// a copy button), and the way back to the workspace the file was opened
// from.
import { openSession, statusText } from './session.js';
import { el, profile, saveProfile, remember, store, theme, applyTheme, workspaceOf, copyText } from './ui.js';
import { cleanColor, cleanName } from './collab.js';
import { chatPanel } from './chat.js';

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
  const bar = document.querySelector('header.bar');

  // The way back to the workspace, when this browser opened the file from one.
  const ws = workspaceOf(docId);
  if (ws) {
    bar.querySelector('.home').after(el('a', { id: 'workspace-link', href: '/w/' + encodeURIComponent(ws), title: 'The workspace of this file', text: '← Workspace' }));
  }

  // The editor and the chat side by side.
  const body = el('div', { class: 'editor-body' });
  $('editor').replaceWith(body);
  const editorDiv = el('div', { id: 'editor' });
  body.append(editorDiv);

  const show = (...parts) => {
    notice.replaceChildren(...parts, ' ', el('button', { class: 'link', text: 'Dismiss', onclick: () => (notice.hidden = true) }));
    notice.hidden = false;
  };

  let chat = null;
  const { collab, editor } = openSession({
    docId,
    name: me.name,
    color: me.color,
    parent: editorDiv,
    theme: t,
    on: {
      joined(m, first) {
        // This person's public author id, which the history page sends
        // with the labels and restores made there.
        if (m.author) store.set('authorId', m.author);
        showDoc(m.doc);
        document.body.classList.toggle('readonly', m.readOnly);
        if (first) links.replaceChildren(...docLinks(docId, m.doc, m.readOnly));
        chat.load();
      },
      meta: showDoc,
      users: renderUsers,
      status(s, detail) {
        status.textContent = statusText(s, detail);
        status.dataset.state = s;
        if (s === 'saved' && collab.readOnly) status.textContent = 'read-only';
      },
      unsent(u) {
        document.body.dataset.unsent = String(u);
      },
      delivery(st) {
        if (st.delivering) {
          show('Sending the edits this browser had not sent on an earlier visit…');
        } else if (st.failed) {
          show(`${st.failed === 1 ? 'A set of edits' : st.failed + ' sets of edits'} this browser had not sent on an earlier visit could not be delivered: the document changed in a way they do not fit.`);
        } else if (st.delivered) {
          show('The edits this browser had not sent on an earlier visit are saved now.');
        }
      },
      chat: (m) => chat.add(m),
      error: (m) => chat.error(m),
      refused(why) {
        show(`That edit was not made: ${why}.`);
      },
      resync(mine) {
        if (mine === null) return;
        // Never drop an edit silently: offer what was not sent.
        const url = URL.createObjectURL(new Blob([mine], { type: 'text/plain' }));
        show(
          'The document changed on the server in a way your unsent edits could not follow; they are not in it. ',
          el('a', { href: url, download: 'my-version.txt', text: 'Download your version' }),
        );
      },
    },
  });
  window.collabEditor = editor; // for the console and the browser tests
  window.collab = collab;

  chat = chatPanel(docId, collab);
  body.append(chat.panel);
  links.before(chat.button);

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
        el('li', {
          'data-user': u.id,
          title: u.readOnly ? 'viewing' : 'editing',
          // Hovering a name shows its cursor's label.
          onmouseenter: () => hoverCursor(u.id, true),
          onmouseleave: () => hoverCursor(u.id, false),
        }, dot(u.color), el('span', { class: 'name', text: u.name || 'Anonymous' })),
      ),
    );
  }

  function hoverCursor(user, on) {
    for (const c of document.querySelectorAll('.cm-remote-cursor')) {
      if (c.dataset.user === user) c.classList.toggle('cm-remote-hover', on);
    }
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

/** The history link and, for the document's links, the share panel. */
function docLinks(docId, doc, readOnly) {
  const out = [el('a', { id: 'history-link', href: '/d/' + encodeURIComponent(docId) + '/history', text: 'History' })];
  if (doc.links) out.push(sharePanel(doc, readOnly));
  return out;
}

/** An HTML attribute value. */
const attr = (s) => String(s).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The iframe that embeds a document link (docs/EMBED.md). */
export function embedSnippet(origin, link, name) {
  return `<iframe src="${attr(origin + '/embed/' + encodeURIComponent(link))}" title="${attr(name)}" style="width: 100%; height: 420px; border: 0"></iframe>`;
}

/**
 * "Share": the edit link (editors only), the view link and an embed
 * snippet, each with a copy button. A view-only visitor gets the view
 * link alone (the server gives it no other).
 */
function sharePanel(doc, readOnly) {
  const origin = location.origin;
  const docURL = (link) => origin + '/d/' + encodeURIComponent(link);
  const rows = [];
  const copyRow = (id, label, value, note, multiline) => {
    const field = multiline
      ? el('textarea', { id: 'share-' + id, readonly: true, rows: '3', 'aria-label': label })
      : el('input', { id: 'share-' + id, readonly: true, 'aria-label': label, size: '44' });
    field.value = value;
    field.addEventListener('focus', () => field.select());
    const button = el('button', { id: 'copy-' + id, type: 'button', text: 'Copy' });
    button.addEventListener('click', async () => {
      const ok = await copyText(field.value);
      button.textContent = ok ? 'Copied' : 'Select and copy';
      if (!ok) field.select();
      setTimeout(() => (button.textContent = 'Copy'), 1500);
    });
    rows.push(el('div', { class: 'share-row' }, el('label', { for: 'share-' + id, text: label }), el('div', { class: 'share-field' }, field, button), note ? el('p', { class: 'muted', text: note }) : null));
    return field;
  };
  const edit = !readOnly && doc.links.edit;
  if (edit) copyRow('edit', 'Edit link', docURL(doc.links.edit), 'Anyone with this link can change the file.');
  if (doc.links.view) copyRow('view', 'View link', docURL(doc.links.view), 'Anyone with this link can read the file and watch it change.');
  const embedLink = doc.links.view || doc.links.edit;
  if (embedLink) {
    const snippet = copyRow('embed', 'Embed in a web page', embedSnippet(origin, embedLink, doc.name), '', true);
    if (edit && doc.links.view) {
      const mode = el('select', { id: 'embed-mode', 'aria-label': 'What the embed lets visitors do' },
        el('option', { value: 'view', text: 'visitors read' }), el('option', { value: 'edit', text: 'visitors edit' }));
      mode.addEventListener('change', () => {
        snippet.value = embedSnippet(origin, mode.value === 'edit' ? doc.links.edit : doc.links.view, doc.name);
      });
      snippet.closest('.share-row').querySelector('label').after(' ', mode);
    }
  }
  const panel = el('div', { id: 'share', class: 'popover', hidden: true, role: 'dialog', 'aria-label': 'Share' }, ...rows);
  const button = el('button', { id: 'share-toggle', type: 'button', 'aria-expanded': 'false', 'aria-controls': 'share', text: 'Share' });
  const setOpen = (open) => {
    panel.hidden = !open;
    button.setAttribute('aria-expanded', String(open));
    // On a narrow screen the panel spans the window, under its button.
    if (open) panel.style.top = getComputedStyle(panel).position === 'fixed' ? `${button.getBoundingClientRect().bottom + 6}px` : '';
  };
  button.addEventListener('click', () => setOpen(panel.hidden));
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && !panel.hidden) {
      setOpen(false);
      button.focus();
    }
  });
  document.addEventListener('click', (ev) => {
    if (!panel.hidden && !wrap.contains(ev.target)) setOpen(false);
  });
  const wrap = el('span', { class: 'share' }, button, panel);
  return wrap;
}
