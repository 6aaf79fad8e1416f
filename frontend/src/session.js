// Wiring shared by the editor page and the embed: a Collab connection
// driving a CollabEditor; unsent edits kept in IndexedDB and those other
// pages left delivered (pending.js); the browser's offline event and the
// beforeunload warning.
import { Collab } from './collab.js';
import { CollabEditor } from './editor.js';
import { PendingWriter, deliverOrphans, idbStore, lockName, webLocks } from './pending.js';
import { APIError, api, authorSecret, docPath, store } from './ui.js';

const REVISIONS_PAGE = 1000; // the server's largest page

/** The WebSocket URL of a document. */
export function wsURL(docId, { readOnly = false, token = '' } = {}) {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = new URLSearchParams();
  if (readOnly) q.set('readonly', '1');
  if (token) q.set('token', token);
  const qs = q.toString();
  return `${proto}//${location.host}${docPath(docId)}/ws${qs ? '?' + qs : ''}`;
}

/** The query string of REST calls: the token, if any. */
const tokenQuery = (token) => (token ? '&token=' + encodeURIComponent(token) : '');

/** The revisions of a document after `after` up to `upTo`, over REST (paged). */
async function fetchRevisions(docId, token, after, upTo) {
  const out = [];
  for (let from = after; from < upTo; ) {
    const page = await api('GET', `${docPath(docId)}/revisions?after=${from}&limit=${REVISIONS_PAGE}${tokenQuery(token)}`);
    const revs = page.revisions || [];
    if (revs.length === 0) break;
    out.push(...revs);
    from = revs[revs.length - 1].rev;
  }
  return out;
}

/**
 * Opens a document: returns {collab, editor, unsent()}. opts: {docId,
 * token, readOnly, name, color, data, parent, theme, lineNumbers, on:
 * {joined(msg, first), remote(), ack(rev), users(), status(s, detail),
 * resync(lostText), meta(doc), refused(why), event(msg), data(ownData),
 * error(msg), chat(message), unsent(bool), delivery({delivering,
 * delivered, failed})}}. unsent() says whether edits of this browser to
 * the document are not on the server yet (this page's, or an earlier
 * page's being delivered); on.unsent is called when that changes.
 */
export function openSession(opts) {
  const on = opts.on || {};
  let editor = null;
  const author = authorSecret();
  const revisions = (after, upTo) => fetchRevisions(opts.docId, opts.token, after, upTo);
  const pending = idbStore();
  const locks = webLocks();
  let delivery = { delivering: 0, delivered: 0, failed: 0 };
  let wasUnsent = false;
  const unsent = () => !collab.synchronized || delivery.delivering > 0;
  const unsentChanged = () => {
    const u = unsent();
    if (u === wasUnsent) return;
    wasUnsent = u;
    on.unsent && on.unsent(u);
  };
  const collab = new Collab({
    url: wsURL(opts.docId, opts),
    name: opts.name,
    color: opts.color,
    data: opts.data,
    author,
    handlers: {
      onJoined(m, first) {
        if (first) {
          editor.load(m.text);
          editor.setLanguage(m.doc.name, opts.lang || m.doc.language);
        }
        editor.setReadOnly(!!opts.readOnly || m.readOnly);
        if (first) rememberClient(m.user, collab.name);
        writer.name = m.doc.name;
        on.joined && on.joined(m, first);
        if (!opts.readOnly && !m.readOnly) deliverLeftovers();
      },
      onPending() {
        writer.update();
        unsentChanged();
      },
      onChat: (message) => on.chat && on.chat(message),
      fetchRevisions: revisions,
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
          // Gone for good: no such document, no access, or a token that
          // expired or does not verify.
          if (e instanceof APIError && (e.status === 404 || e.status === 403 || e.status === 401)) return e.message;
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
  // This page's unsent edits, in IndexedDB once its lock is held (a record
  // whose lock is free is taken for a page that is gone).
  const writer = new PendingWriter(pending, opts.docId, collab, { ready: locks.hold(lockName(collab.clientId)) });

  // The unsent edits pages that are gone left for this document: delivered
  // after each join, one connection at a time, under their own client ids.
  let delivering = false;
  function deliverLeftovers() {
    if (delivering || !pending) return;
    delivering = true;
    deliverOrphans({
      store: pending,
      doc: opts.docId,
      own: collab.clientId,
      locks,
      open: (record, handlers) => new Collab({
        url: wsURL(opts.docId, { token: opts.token }),
        name: collab.name,
        color: collab.color,
        author,
        restore: record,
        handlers: { onJoined() {}, onRemote() {}, onResync() {}, fetchRevisions: revisions, ...handlers },
      }),
      onState(st) {
        delivery = st;
        unsentChanged();
        on.delivery && on.delivery(st);
      },
    }).then((st) => {
      // Records a live page held: ask again in a while (the page they
      // belong to may be the one this one replaced).
      if (st.skipped) setTimeout(deliverLeftovers, 15000);
    }, (e) => console.warn('collab: delivering unsent edits:', e)).finally(() => (delivering = false));
  }

  addEventListener('online', () => collab.retryNow());
  addEventListener('offline', () => collab.networkLost());
  addEventListener('beforeunload', (ev) => {
    if (!unsent()) return;
    // The edits are kept in this browser and sent the next time the
    // document is opened; still, say that they are not on the server yet.
    ev.preventDefault();
    ev.returnValue = '';
  });
  collab.connect();
  return { collab, editor, unsent };
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
