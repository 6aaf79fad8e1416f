// The client side of collab's realtime protocol (docs/PROTOCOL.md): one
// WebSocket per document, ot.js's client states (synchronized / awaiting
// ack / awaiting ack with a buffer), resume after reconnect, resend of the
// unacknowledged operation with its original id.
import { TextOperation } from './ot.js';

const retryable = (code) => ![4002, 4003, 4004, 4009, 1008, 1009].includes(code);

function randomId() {
  const a = new Uint8Array(12);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class Collab {
  /**
   * opts: {docId, token, readOnly, name, color, handlers}; handlers are
   * onJoined(msg, text|null), onRemote(op), onReset(text), onUsers(),
   * onStatus(status), onMeta(doc), onChat(m), onError(m), onSynced(), onAck(rev)
   */
  constructor(opts) {
    this.docId = opts.docId;
    this.token = opts.token || '';
    this.readOnlyWanted = !!opts.readOnly;
    this.name = opts.name;
    this.color = opts.color;
    this.h = opts.handlers;
    // A client id lives as long as this page: a reload starts a new one,
    // so sequence numbers only ever grow under one id.
    this.clientId = randomId();
    this.seq = 0;
    this.rev = 0;
    this.loaded = false;
    this.inflight = null; // {id, op}
    this.buffer = null; // TextOperation
    this.users = new Map(); // id -> user (ranges at this.rev)
    this.user = '';
    this.readOnly = false;
    this.attempt = 0;
    this.closed = false;
    this.ws = null;
  }

  url() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const q = new URLSearchParams();
    if (this.readOnlyWanted) q.set('readonly', '1');
    if (this.token) q.set('token', this.token);
    const qs = q.toString();
    return `${proto}//${location.host}/api/docs/${encodeURIComponent(this.docId)}/ws${qs ? '?' + qs : ''}`;
  }

  connect() {
    this.h.onStatus('connecting');
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onopen = () => {
      const join = { type: 'join', client: this.clientId, name: this.name, color: this.color };
      if (this.loaded) join.rev = this.rev;
      ws.send(JSON.stringify(join));
    };
    ws.onmessage = (ev) => {
      const data = JSON.parse(ev.data);
      for (const m of Array.isArray(data) ? data : [data]) this.handle(m);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.closed) return;
      if (!retryable(ev.code)) {
        this.h.onStatus('closed', ev.reason || 'closed by the server (' + ev.code + ')');
        return;
      }
      this.h.onStatus('offline');
      const delay = Math.min(5000, 100 * 2 ** Math.min(this.attempt++, 6)) * (0.5 + Math.random() / 2);
      setTimeout(() => this.connect(), delay);
    };
  }

  close() {
    this.closed = true;
    if (this.ws) this.ws.close(1000);
  }

  send(m) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(m));
  }

  get synchronized() {
    return !this.inflight && !this.buffer;
  }

  handle(m) {
    switch (m.type) {
      case 'joined':
        this.joined(m);
        break;
      case 'ack':
        this.ack(m.rev, m.id);
        break;
      case 'op':
        this.remote(m);
        break;
      case 'cursor': {
        const u = this.users.get(m.user);
        if (u) u.ranges = m.ranges;
        this.h.onUsers();
        break;
      }
      case 'user':
        if (m.user.id !== this.user) {
          const old = this.users.get(m.user.id);
          this.users.set(m.user.id, { ...m.user, ranges: old ? old.ranges : m.user.ranges || [] });
          this.h.onUsers();
        }
        break;
      case 'leave':
        this.users.delete(m.user);
        this.h.onUsers();
        break;
      case 'meta':
        this.h.onMeta && this.h.onMeta(m.doc);
        break;
      case 'chat':
        this.h.onChat && this.h.onChat(m.message);
        break;
      case 'error':
        this.h.onError && this.h.onError(m);
        if (this.inflight && m.id === this.inflight.id) {
          // Refused: our local text no longer matches; start over.
          this.inflight = null;
          this.buffer = null;
          this.loaded = false;
          if (this.ws) this.ws.close(4000);
        }
        break;
    }
  }

  joined(m) {
    this.attempt = 0;
    this.user = m.user;
    this.readOnly = m.readOnly;
    if (m.resumed) {
      for (const r of m.ops || []) {
        if (this.inflight && r.id === this.inflight.id) this.ack(r.rev, r.id);
        else this.remote(r);
      }
    } else {
      this.inflight = null;
      this.buffer = null;
      this.rev = m.rev;
      if (this.loaded) this.h.onReset(m.text);
    }
    this.users = new Map();
    for (const u of m.users) if (u.id !== this.user) this.users.set(u.id, u);
    const first = !this.loaded;
    this.loaded = true;
    this.h.onJoined(m, first ? m.text : null);
    this.h.onStatus(this.synchronized ? 'saved' : 'saving');
    this.h.onUsers();
    if (this.inflight) {
      this.send({ type: 'op', rev: this.rev, id: this.inflight.id, op: this.inflight.op.toJSON() });
    } else if (this.buffer) {
      this.flushBuffer();
    }
  }

  /** A local edit (code points), already applied to the editor. */
  applyLocal(op) {
    if (this.inflight) {
      this.buffer = this.buffer ? this.buffer.compose(op) : op;
    } else {
      this.buffer = op;
      this.flushBuffer();
    }
    this.h.onStatus(this.ws ? 'saving' : 'offline');
  }

  flushBuffer() {
    if (!this.buffer) return;
    this.inflight = { id: this.clientId + ':' + ++this.seq, op: this.buffer };
    this.buffer = null;
    this.send({ type: 'op', rev: this.rev, id: this.inflight.id, op: this.inflight.op.toJSON() });
  }

  ack(rev, id) {
    if (!this.inflight || this.inflight.id !== id) return;
    this.rev = rev;
    this.inflight = null;
    if (this.buffer && this.ws) this.flushBuffer();
    this.h.onAck && this.h.onAck(rev);
    if (this.synchronized) {
      this.h.onStatus('saved');
      this.h.onSynced && this.h.onSynced();
    }
  }

  remote(m) {
    if (this.inflight && m.id === this.inflight.id) {
      this.ack(m.rev, m.id);
      return;
    }
    let op = TextOperation.fromJSON(m.op);
    const server = op;
    if (this.inflight) [this.inflight.op, op] = TextOperation.transform(this.inflight.op, op);
    if (this.buffer) [this.buffer, op] = TextOperation.transform(this.buffer, op);
    this.rev = m.rev;
    for (const u of this.users.values()) {
      u.ranges = (u.ranges || []).map((r) => ({ anchor: server.transformIndex(r.anchor), head: server.transformIndex(r.head) }));
    }
    this.h.onRemote(op, m.author);
    this.h.onUsers();
  }

  /** A user's ranges in the local text (after our pending edits). */
  localRanges(u) {
    let rs = u.ranges || [];
    for (const op of [this.inflight && this.inflight.op, this.buffer]) {
      if (op) rs = rs.map((r) => ({ anchor: op.transformIndex(r.anchor), head: op.transformIndex(r.head) }));
    }
    return rs;
  }

  /** Sends our selection (code points in the local text) when synchronized. */
  sendCursor(ranges) {
    if (!this.synchronized || !this.loaded) return false;
    this.send({ type: 'cursor', rev: this.rev, ranges });
    return true;
  }

  setProfile(name, color) {
    this.name = name;
    this.color = color;
    this.send({ type: 'profile', name, color });
  }
}
