// The embed, /embed/{id}: a bare editor for an iframe, set up by URL
// parameters and driven by postMessage (docs/EMBED.md).
//
// URL parameters: readonly (1|true), theme (light|dark), lineNumbers
// (0|false to hide), name, color (#rrggbb), data (app data, a JSON
// object), lang (a language name), line (scroll to it), token (a token,
// see docs/EMBED.md), origin (the only host origin to talk to; default any).
//
// Posted to the host (window.parent), each with source: "collab":
//   {type: "ready", rev, readOnly, name, language, settings, user, data, unsent}  once the text is shown
//   {type: "change", rev}                            after each revision (ours or others')
//   {type: "presence", users: [{id, name, color, readOnly, data}]}  when people come, go or change
//   {type: "status", status, detail}                 connection state
//   {type: "connection", online}                     the connection went down (within ~10 s of it), or back up
//   {type: "unsent", unsent}                         edits not on the server yet appeared, or are all saved
//   {type: "text", text, rev}                        the answer to getText
//   {type: "refused", reason}                        an edit too large for the server was not made
//   {type: "meta", name, language, settings}         the document was renamed or its settings changed
//   {type: "event", name, data, from}                an app event for this visitor
//   {type: "eventAck", id, delivered}                the answer to sendEvent with an id
//   {type: "eventError", id, code, message}          ... or its refusal
//   {type: "data", user, data}                       the visitor's app data: the answer to getData, and after each change
//   {type: "error", code, message}                   a refusal of the server's (setData too large, …)
// Accepted from the host: {type: "setProfile", name, color}, {type: "focus"},
// {type: "getText"}, {type: "sendEvent", name, data, to, excludeSelf, id},
// {type: "setData", data}, {type: "getData"}.
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
  let online = false; // as last told the host (ready says online)

  // toHost(m)(ev) answers the host's command ev with m.
  const toHost = (m) => (ev) => ev.source.postMessage({ source: 'collab', ...m }, ev.origin === 'null' ? '*' : ev.origin);
  const peers = () => [...collab.users.values()].map((u) => ({ id: u.id, name: u.name, color: u.color, readOnly: !!u.readOnly, data: u.data || {} }));

  const { collab, editor, unsent } = openSession({
    docId,
    token: q.get('token') || '',
    readOnly,
    name: cleanName(q.get('name')) || mine.name,
    color: cleanColor(q.get('color'), mine.color),
    data: dataParam(q.get('data')),
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
        const viewOnly = readOnly || m.readOnly;
        online = true;
        post({
          type: 'ready', rev: collab.rev, readOnly: viewOnly, name: m.doc.name, language: m.doc.language,
          settings: m.doc.settings, user: m.user, data: collab.ownData, unsent: unsent(),
        });
      },
      remote: () => post({ type: 'change', rev: collab.rev }),
      ack: (rev) => post({ type: 'change', rev }),
      resync: () => post({ type: 'change', rev: collab.rev }),
      users() {
        const users = peers();
        const key = JSON.stringify(users);
        if (key !== lastPresence) {
          lastPresence = key;
          post({ type: 'presence', users });
        }
      },
      refused: (reason) => post({ type: 'refused', reason }),
      meta: (doc) => post({ type: 'meta', name: doc.name, language: doc.language, settings: doc.settings }),
      event: (m) => post({ type: 'event', name: m.name, data: m.data, from: m.from }),
      data: (data) => post({ type: 'data', user: collab.user, data }),
      error: (m) => post({ type: 'error', code: m.code, message: m.message || '' }),
      status: (status, detail) => {
        document.body.dataset.status = status;
        post({ type: 'status', status, detail: detail || '' });
        const now = status === 'saved' || status === 'saving';
        if (ready && now !== online) {
          online = now;
          post({ type: 'connection', online });
        }
      },
      unsent: (u) => {
        document.body.dataset.unsent = String(u);
        post({ type: 'unsent', unsent: u });
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
        if (ready) toHost({ type: 'text', text: editor.text(), rev: collab.rev })(ev);
        break;
      case 'sendEvent': {
        const id = m.id;
        const answer = id === undefined ? null : (a) => toHost(a.code ? { type: 'eventError', id, ...a } : { type: 'eventAck', id, ...a })(ev);
        if (!collab.sendEvent({ name: String(m.name ?? ''), data: m.data === undefined ? null : m.data, to: m.to, excludeSelf: !!m.excludeSelf }, answer) && answer) {
          answer({ code: 'not_connected', message: 'the embed is not connected; events are not kept for later' });
        }
        break;
      }
      case 'setData':
        if (!collab.setData(m.data)) toHost({ type: 'error', code: 'invalid', message: 'setData needs data, an object' })(ev);
        break;
      case 'getData':
        toHost({ type: 'data', user: collab.user, data: collab.ownData })(ev);
        break;
    }
  });
}

/** The data URL parameter: a JSON object, or nothing. */
function dataParam(v) {
  if (!v) return undefined;
  try {
    const d = JSON.parse(v);
    if (d && typeof d === 'object' && !Array.isArray(d)) return d;
  } catch {
    // fall through
  }
  console.warn('collab: the data parameter is not a JSON object; ignored');
  return undefined;
}
