// The editor page's chat: a panel beside the text with the document's kept
// messages (GET /api/docs/{id}/chat) and the new ones (the socket's chat
// messages), a box to write to everyone here, and a count of the messages
// not read yet on its button. What was read is remembered in this browser
// per document, so a message that came while you were away is unread when
// you come back. Text is shown as text, with invisible characters made
// visible (invisibles.js), never as HTML.
import { api, docPath, el, store } from './ui.js';
import { cleanColor, utf8Length } from './collab.js';
import { visibleNodes } from './invisibles.js';

const MAX_BYTES = 2000; // the server's -max-chat-bytes default
const PAGE = 1000; // the server keeps the newest 1,000
const SEEN_DOCS = 200; // documents whose last read message is remembered

/** The sequence number of the last message read in doc, or undefined. */
function seenOf(doc) {
  const hit = store.get('chatSeen', []).find((e) => Array.isArray(e) && e[0] === doc);
  return hit ? Number(hit[1]) : undefined;
}

function saveSeen(doc, seq) {
  const all = store.get('chatSeen', []).filter((e) => Array.isArray(e) && e[0] !== doc);
  all.unshift([doc, seq]);
  store.set('chatSeen', all.slice(0, SEEN_DOCS));
}

/**
 * Builds the chat of document docId for collab: returns {button, panel,
 * add(message), load(), error(msg)}. The caller places button and panel.
 */
export function chatPanel(docId, collab) {
  const messages = new Map(); // seq -> message
  let seen = seenOf(docId);
  let lastSent = '';

  const badge = el('span', { id: 'chat-unread', class: 'badge', hidden: true, 'aria-label': 'unread messages' });
  const button = el('button', { id: 'chat-toggle', type: 'button', title: 'Chat with everyone here', 'aria-expanded': 'false', 'aria-controls': 'chat' }, 'Chat', badge);
  const list = el('ol', { id: 'chat-messages', 'aria-live': 'polite' });
  const empty = el('p', { id: 'chat-empty', class: 'muted', text: 'No messages yet. What you write here, everyone in this document sees, now and later.' });
  const input = el('textarea', { id: 'chat-input', rows: '2', maxlength: String(MAX_BYTES), placeholder: 'Message everyone here (Enter sends)', 'aria-label': 'Chat message' });
  const error = el('p', { id: 'chat-error', class: 'error', role: 'alert' });
  const form = el('form', { id: 'chat-form' }, input, el('button', { id: 'chat-send', text: 'Send' }));
  const close = el('button', { class: 'link', type: 'button', title: 'Close the chat', 'aria-label': 'Close the chat', text: '×' });
  const panel = el('aside', { id: 'chat', hidden: true, 'aria-label': 'Chat' },
    el('div', { class: 'chat-head' }, el('h2', { text: 'Chat' }), close), list, empty, form, error);

  const isOpen = () => !panel.hidden;
  const newest = () => Math.max(0, ...messages.keys());

  function render(m) {
    const mine = m.user === collab.user;
    const u = mine ? { color: collab.color } : collab.users.get(m.user);
    const t = new Date(m.time);
    const time = Number.isNaN(t.getTime()) ? '' : t.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    return el('li', { class: mine ? 'chat-msg mine' : 'chat-msg', 'data-seq': m.seq },
      el('div', { class: 'chat-meta' },
        el('span', { class: 'dot', style: 'background-color:' + cleanColor(u && u.color) }),
        el('span', { class: 'name', text: (m.name || 'Anonymous') + (mine ? ' (you)' : '') }),
        el('time', { datetime: m.time || '', title: Number.isNaN(t.getTime()) ? '' : t.toLocaleString(), text: time })),
      el('div', { class: 'chat-text' }, ...visibleNodes(String(m.text ?? ''))));
  }

  function redraw() {
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const sorted = [...messages.values()].sort((a, b) => a.seq - b.seq);
    list.replaceChildren(...sorted.map(render));
    empty.hidden = sorted.length > 0;
    if (nearBottom || isOpen()) list.scrollTop = list.scrollHeight;
    markRead();
  }

  // Everything shown is read while the panel is open and the page seen.
  function markRead() {
    if (isOpen() && !document.hidden && messages.size) {
      const n = newest();
      if (seen === undefined || n > seen) {
        seen = n;
        saveSeen(docId, n);
      }
    }
    const unread = [...messages.values()].filter((m) => seen !== undefined && m.seq > seen && m.user !== collab.user).length;
    badge.textContent = unread > 99 ? '99+' : String(unread);
    badge.hidden = unread === 0;
    button.title = unread ? `Chat: ${unread} unread` : 'Chat with everyone here';
  }

  function setOpen(open) {
    panel.hidden = !open;
    button.setAttribute('aria-expanded', String(open));
    document.body.classList.toggle('chat-open', open);
    if (open) {
      list.scrollTop = list.scrollHeight;
      input.focus();
    }
    markRead();
  }

  button.addEventListener('click', () => setOpen(!isOpen()));
  close.addEventListener('click', () => setOpen(false));
  document.addEventListener('visibilitychange', markRead);
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit();
    } else if (ev.key === 'Escape') {
      setOpen(false);
      button.focus();
    }
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value;
    error.textContent = '';
    if (text.trim() === '') return;
    if (utf8Length(text) > MAX_BYTES) {
      error.textContent = `A message can be at most ${MAX_BYTES} bytes long.`;
      return;
    }
    if (!collab.connected) {
      error.textContent = 'Offline: the message was not sent (chat is not kept for later).';
      return;
    }
    lastSent = text;
    collab.sendChat(text);
    input.value = '';
  });

  return {
    button,
    panel,
    /** A message from the socket. */
    add(m) {
      if (!m || typeof m.seq !== 'number') return;
      messages.set(m.seq, m);
      if (m.user === collab.user) lastSent = '';
      redraw();
    },
    /** Reads the kept messages (after a join: also those missed offline). */
    async load() {
      try {
        for (let after = newest(); ;) {
          const page = await api('GET', `${docPath(docId)}/chat?after=${after}&limit=${PAGE}`);
          const got = page.messages || [];
          for (const m of got) messages.set(m.seq, m);
          if (got.length < PAGE) break;
          after = got[got.length - 1].seq;
        }
      } catch (e) {
        error.textContent = 'The chat could not be read: ' + e.message;
        return;
      }
      // A first visit starts with nothing unread.
      if (seen === undefined) {
        seen = newest();
        saveSeen(docId, seen);
      }
      redraw();
    },
    /** A refusal of the server's: shown if it is about chat, and the text given back. */
    error(m) {
      if (!/chat/i.test(m.message || '')) return;
      error.textContent = m.code === 'rate_limited' ? 'Too many messages at once: wait a second and send again.' : m.message;
      if (lastSent && input.value === '') input.value = lastSent;
      lastSent = '';
    },
    open: () => setOpen(true),
  };
}
