// Wiring shared by the editor page and the embed: a Collab connection
// driving a CollabEditor.
import { Collab } from './collab.js';
import { CollabEditor } from './editor.js';
import { APIError, api, docPath, store } from './ui.js';

/** The WebSocket URL of a document. */
export function wsURL(docId, { readOnly = false, token = '' } = {}) {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = new URLSearchParams();
  if (readOnly) q.set('readonly', '1');
  if (token) q.set('token', token);
  const qs = q.toString();
  return `${proto}//${location.host}${docPath(docId)}/ws${qs ? '?' + qs : ''}`;
}

/**
 * Opens a document: returns {collab, editor}. opts: {docId, token,
 * readOnly, name, color, data, parent, theme, lineNumbers, on: {joined(msg,
 * first), remote(), ack(rev), users(), status(s, detail), resync(lostText),
 * meta(doc), refused(why), event(msg), data(ownData), error(msg)}}.
 */
export function openSession(opts) {
  const on = opts.on || {};
  let editor = null;
  const collab = new Collab({
    url: wsURL(opts.docId, opts),
    name: opts.name,
    color: opts.color,
    data: opts.data,
    handlers: {
      onJoined(m, first) {
        if (first) {
          editor.load(m.text);
          editor.setLanguage(m.doc.name, opts.lang || m.doc.language);
        }
        editor.setReadOnly(!!opts.readOnly || m.readOnly);
        if (first) rememberClient(m.user, collab.name);
        on.joined && on.joined(m, first);
      },
      onRemote(op) {
        editor.applyRemote(op);
        on.remote && on.remote();
      },
      onResync(text, lost) {
        const mine = lost ? editor.text() : null;
        editor.reset(text);
        on.resync && on.resync(mine);
      },
      onUsers() {
        editor.drawCursors();
        on.users && on.users();
      },
      onStatus: (s, detail) => on.status && on.status(s, detail),
      onAck: (rev) => on.ack && on.ack(rev),
      onSynced: () => editor.sendCursor(),
      onMeta(doc) {
        editor.setLanguage(doc.name, opts.lang || doc.language);
        on.meta && on.meta(doc);
      },
      onEvent: (m) => on.event && on.event(m),
      onData: (d) => on.data && on.data(d),
      onError(m) {
        console.warn('collab:', m.code, m.message);
        on.error && on.error(m);
      },
      async probe() {
        const q = opts.token ? '?token=' + encodeURIComponent(opts.token) : '';
        try {
          await api('GET', docPath(opts.docId) + '/presence' + q);
          return '';
        } catch (e) {
          if (e instanceof APIError && (e.status === 404 || e.status === 403)) return e.message;
          return '';
        }
      },
    },
  });
  editor = new CollabEditor({
    parent: opts.parent,
    collab,
    readOnly: !!opts.readOnly,
    theme: opts.theme,
    lineNumbers: opts.lineNumbers,
    onRefused: (why) => on.refused && on.refused(why),
  });
  addEventListener('online', () => collab.retryNow());
  collab.connect();
  return { collab, editor };
}

/** Human words for a Collab status. */
export function statusText(s, detail) {
  const words = {
    connecting: 'connecting…',
    offline: 'offline',
    saving: 'saving…',
    saved: 'saved',
    closed: 'closed',
  };
  const w = words[s] || s;
  return detail ? `${w}: ${detail}` : w;
}

/** Keeps this browser's recent client ids, so the history can say "you". */
function rememberClient(id, name) {
  const mine = store.get('myClients', []).filter((c) => c.id !== id);
  mine.unshift({ id, name });
  store.set('myClients', mine.slice(0, 50));
}
