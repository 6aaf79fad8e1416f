// The embed, /embed/{id}: a bare editor for an iframe, set up by URL
// parameters and driven by postMessage (docs/EMBED.md).
//
// URL parameters: readonly (1|true), theme (light|dark), lineNumbers
// (0|false to hide), name, color (#rrggbb), lang (a language name),
// line (scroll to it), token (an embed token), origin (the only host
// origin to talk to; default any).
//
// Posted to the host (window.parent), each with source: "collab":
//   {type: "ready", rev, readOnly, name, language}  once the text is shown
//   {type: "change", rev}                            after each revision (ours or others')
//   {type: "presence", users: [{id, name, color}]}   when people come, go or rename
//   {type: "status", status}                         connection state
//   {type: "text", text, rev}                        the answer to getText
//   {type: "refused", reason}                        an edit too large for the server was not made
// Accepted from the host: {type: "setProfile", name, color}, {type: "focus"},
// {type: "getText"}.
import { openSession } from './session.js';
import { applyTheme, profile } from './ui.js';
import { cleanColor, cleanName } from './collab.js';

const truthy = (v) => v === '1' || v === 'true' || v === '';

export function main({ doc: docId }) {
  const q = new URLSearchParams(location.search);
  const t = q.get('theme') === 'dark' ? 'dark' : 'light';
  applyTheme(t);
  const readOnly = q.has('readonly') && truthy(q.get('readonly'));
  const host = q.get('origin') || '*';
  const embedded = window.parent !== window;
  const post = (m) => {
    if (embedded) window.parent.postMessage({ source: 'collab', ...m }, host);
  };
  const mine = profile();
  let ready = false;
  let wantFocus = false;
  let lastPresence = '';

  const { collab, editor } = openSession({
    docId,
    token: q.get('token') || '',
    readOnly,
    name: cleanName(q.get('name')) || mine.name,
    color: cleanColor(q.get('color'), mine.color),
    lang: q.get('lang') || '',
    parent: document.getElementById('editor'),
    theme: t,
    lineNumbers: !(q.has('lineNumbers') && ['0', 'false'].includes(q.get('lineNumbers'))),
    on: {
      joined(m, first) {
        document.body.classList.toggle('readonly', readOnly || m.readOnly);
        if (!first) return;
        const line = parseInt(q.get('line') || '', 10);
        if (line > 0) editor.scrollToLine(line);
        ready = true;
        if (wantFocus) editor.focus();
        post({ type: 'ready', rev: collab.rev, readOnly: readOnly || m.readOnly, name: m.doc.name, language: m.doc.language });
      },
      remote: () => post({ type: 'change', rev: collab.rev }),
      ack: (rev) => post({ type: 'change', rev }),
      resync: () => post({ type: 'change', rev: collab.rev }),
      users() {
        const users = [...collab.users.values()].map((u) => ({ id: u.id, name: u.name, color: u.color }));
        const key = JSON.stringify(users);
        if (key !== lastPresence) {
          lastPresence = key;
          post({ type: 'presence', users });
        }
      },
      refused: (reason) => post({ type: 'refused', reason }),
      status: (status, detail) => {
        document.body.dataset.status = status;
        post({ type: 'status', status, detail: detail || '' });
      },
    },
  });
  window.collabEditor = editor;
  window.collab = collab;

  window.addEventListener('message', (ev) => {
    if (ev.source !== window.parent || !embedded) return;
    if (host !== '*' && ev.origin !== host) return;
    const m = ev.data;
    if (!m || typeof m !== 'object') return;
    switch (m.type) {
      case 'setProfile':
        collab.setProfile(cleanName(m.name) || collab.name, cleanColor(m.color, collab.color));
        break;
      case 'focus':
        if (ready) editor.focus();
        else wantFocus = true;
        break;
      case 'getText':
        if (ready) ev.source.postMessage({ source: 'collab', type: 'text', text: editor.text(), rev: collab.rev }, ev.origin === 'null' ? '*' : ev.origin);
        break;
    }
  });
}
