// The client side of collab's realtime protocol (docs/PROTOCOL.md) for one
// document: ot.js's client states, reconnection with resume, and presence.
//
// States, as in ot.js:
//   synchronized           inflight === null, buffer === null
//   awaiting ack           inflight !== null, buffer === null
//   awaiting ack + buffer  inflight !== null, buffer !== null
// A local edit is sent at once when synchronized, else composed into the
// buffer, which goes out when the in-flight operation is acknowledged.
// While offline the same states hold: edits pile up in the buffer, and on
// reconnect the client resumes from its last revision, resends the
// in-flight operation under its original id (the server applies an id at
// most once), then the buffer. When the server answers a resume with the
// whole text instead (the client was away too long), the revisions it
// missed are read over REST (handlers.fetchRevisions) to bring its edits
// forward, so that they are not dropped.
//
// A connection that dies without closing (a dropped Wi-Fi) is noticed by
// a heartbeat: after PING_AFTER without a message from the server the
// client sends a ping, and after DEAD_AFTER more without any message it
// takes the connection for dead, says "offline" and reconnects.
//
// pendingState() is everything needed to deliver the unsent edits later,
// from another page (pending.js keeps it in IndexedDB): the client id, the
// in-flight operation with its id and base revision, the buffer and the
// sequence number. A Collab made with that state (opts.restore) resends
// them exactly as this one would have.
//
// The class knows nothing of CodeMirror: positions are code points, and
// the editor is reached through handlers.
import { TextOperation } from './ot.js';

/**
 * Close codes after which the session resumes from its last revision:
 * going away, no status, abnormal (the network), server error, restart,
 * try again later, slow consumer, rate limited.
 */
const RESUME = new Set([1001, 1005, 1006, 1011, 1012, 1013, 4001, 4008]);
/** Close codes after which the client rejoins with the whole text. */
const REJOIN = new Set([4000, 4010]);
/** Our own close code: the local state is unsure, rejoin from scratch. */
const RESYNC = 4000;
/**
 * An operation not acknowledged in this long (by a server that answers
 * pings) is resent on a new connection, resuming (ms).
 */
const ACK_TIMEOUT = 20000;
/** Heartbeat (ms): a ping after this long without a message from the server, */
export const PING_AFTER = 3000;
/** … and the connection is dead after this long more without any. */
export const DEAD_AFTER = 5000;
/** A connection not joined in this long is given up and tried again. */
export const JOIN_TIMEOUT = 10000;
const TICK = 500;

const CLOSE_REASONS = {
  1008: 'the server refused this connection',
  1009: 'a message was too large',
  4002: 'the document was deleted',
  4003: 'this link or token no longer grants access',
  4004: 'no such document',
};

/** 128 random bits in hex: a client id or an author secret (docs/PROTOCOL.md, join). */
export function randomHex() {
  const a = new Uint8Array(16);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A name the server accepts: no control characters, at most 64 bytes of UTF-8. */
export function cleanName(name) {
  let s = String(name ?? '').replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  const enc = new TextEncoder();
  while (enc.encode(s).length > 64) s = [...s].slice(0, -1).join('');
  return s;
}

/** A colour the server accepts (#rrggbb), or fallback. */
export function cleanColor(color, fallback = '#888888') {
  return /^#[0-9a-fA-F]{6}$/.test(color ?? '') ? color : fallback;
}

/** The bytes of UTF-8 that encode s. */
export function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4; // a surrogate pair: one code point of four bytes
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * The bytes of the op message that carries op: its JSON, and room for the
 * largest rev and id (the envelope {"type":"op","rev":…,"id":"…","op":…}).
 */
export function opMessageBytes(op) {
  return utf8Length(JSON.stringify(op.toJSON())) + 160;
}

/** "1.5 MB"-style text for a number of bytes. */
export function bytesText(n) {
  if (n < 10 * 1024) return `${n} bytes`;
  if (n < 1 << 20) return `${Math.round(n / 1024)} KB`;
  return `${(n / (1 << 20)).toFixed(1)} MB`;
}

const noop = () => {};

export class Collab {
  /**
   * opts:
   *   url        the WebSocket URL (string)
   *   name, color
   *   author     the author secret (docs/PROTOCOL.md, join), sent in every join
   *   data       this client's app data, a JSON object (optional; see setData)
   *   restore    a pendingState() of another Collab: deliver its unsent edits
   *   handlers   { onJoined(msg, first), onRemote(op), onResync(text, lostEdits),
   *                onUsers(), onStatus(status, detail), onAck(rev), onSynced(),
   *                onMeta(doc), onChat(message), onEvent(msg), onData(data),
   *                onError(msg), onPending(), probe(), fetchRevisions(after, upTo) }
   *              all optional except onJoined, onRemote and onResync.
   *              onPending is called whenever pendingState() may have changed.
   *              probe() may return a Promise of an error text when the
   *              document cannot be reached at all (then no more retries).
   *              fetchRevisions returns a Promise of the revisions after
   *              `after` up to `upTo` ({rev, op, author, id}, as the REST
   *              history has them).
   *   WebSocket  the WebSocket class (default the browser's)
   *   now        the clock (default Date.now)
   */
  constructor(opts) {
    this.wsURL = opts.url;
    this.name = cleanName(opts.name);
    this.color = cleanColor(opts.color);
    this.h = { onUsers: noop, onStatus: noop, onAck: noop, onSynced: noop, onMeta: noop, onChat: noop, onEvent: noop, onData: noop, onError: noop, onPending: noop, ...opts.handlers };
    this.WS = opts.WebSocket || globalThis.WebSocket;
    this.now = opts.now || Date.now;
    this.author = opts.author || '';
    // One client id per page: a reload starts a new one, so sequence
    // numbers only ever grow under one id. (A restored state goes on with
    // the id and sequence of the page that made it.)
    this.clientId = opts.clientId || randomHex();
    this.seq = 0;
    this.rev = 0; // the last revision handled (op or ack)
    this.loaded = false; // the text of some revision is in the editor
    this.resume = false; // the next join may ask for the revisions after rev
    this.inflight = null; // {id, op}: sent, not acknowledged
    this.buffer = null; // TextOperation: not sent yet
    const r = opts.restore;
    if (r) {
      this.clientId = r.client;
      this.seq = r.seq;
      this.rev = r.rev;
      this.inflight = r.inflight ? { id: r.inflight.id, op: TextOperation.fromJSON(r.inflight.op) } : null;
      this.buffer = r.buffer ? TextOperation.fromJSON(r.buffer) : null;
      this.loaded = true; // the state at rev is known: the edits on it
      this.resume = true;
    }
    this.askedResume = false; // the join in flight carries rev
    this.holding = null; // messages held while revisions are fetched (bringForward)
    this.fetchFailures = 0;
    // Heartbeat: when the last message came, when the connection was
    // opened, when our unanswered ping went out (0: none).
    this.lastHeard = 0;
    this.openedAt = 0;
    this.pingSent = 0;
    this.lastBuffered = 0;
    this.beat = null;
    this.users = new Map(); // id -> {id, name, color, data, ranges (at rev)}
    // App data: what we ask for (sent at every join), and ours as the
    // server last said (with the keys a token fixes).
    this.data = isObject(opts.data) ? { ...opts.data } : {};
    this.ownData = {};
    this.eventSeq = 0;
    this.eventAnswers = new Map(); // event id -> answer({delivered} or {code, message})
    this.user = '';
    this.readOnly = false;
    // The server's limits, from joined (0: not known yet). A larger
    // message would close the session (1009).
    this.maxMessageBytes = 0;
    this.maxDocBytes = 0;
    this.status = 'connecting';
    this.attempt = 0;
    this.everJoined = false;
    this.stopped = false;
    this.ws = null;
    this.retryTimer = null;
    this.ackTimer = null;
  }

  get synchronized() {
    return !this.inflight && !this.buffer;
  }

  get connected() {
    return this.ws !== null && this.ws.readyState === 1 && this.user !== '';
  }

  setStatus(s, detail) {
    this.status = s;
    this.h.onStatus(s, detail);
  }

  /** Opens the WebSocket (again). */
  connect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.stopped || this.ws) return;
    this.setStatus('connecting');
    const ws = new this.WS(this.wsURL);
    this.ws = ws;
    this.user = '';
    this.holding = null;
    this.openedAt = this.lastHeard = this.now();
    this.pingSent = 0;
    this.lastBuffered = 0;
    if (!this.beat) {
      this.beat = setInterval(() => this.tick(), TICK);
      // (Under node, in the tests, the heartbeat does not keep the process alive.)
      if (typeof this.beat === 'object' && this.beat.unref) this.beat.unref();
    }
    ws.onopen = () => {
      const join = { type: 'join', client: this.clientId, name: this.name, color: this.color };
      if (this.author) join.author = this.author;
      this.askedResume = this.resume;
      if (this.resume) join.rev = this.rev;
      if (Object.keys(this.data).length) join.data = this.data;
      ws.send(JSON.stringify(join));
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.lastHeard = this.now();
      this.pingSent = 0;
      let data;
      try {
        data = JSON.parse(ev.data);
      } catch {
        return this.resync('an unreadable message');
      }
      for (const m of Array.isArray(data) ? data : [data]) {
        if (this.ws !== ws) break; // a message closed the session
        if (this.holding) this.holding.push(m);
        else this.handle(m);
      }
    };
    ws.onclose = (ev) => this.closed(ws, ev.code, ev.reason);
  }

  /**
   * The heartbeat, every TICK: pings a quiet connection, and gives up one
   * that stays silent (or a join that is not answered).
   */
  tick() {
    const ws = this.ws;
    if (!ws || this.stopped) return;
    const t = this.now();
    // A large message still going out is progress, not silence.
    const buffered = ws.bufferedAmount || 0;
    if (buffered !== this.lastBuffered) {
      this.lastBuffered = buffered;
      if (buffered > 0) {
        this.lastHeard = t;
        this.pingSent = 0;
      }
    }
    if (!this.user && !this.holding) {
      // Not joined yet (a join answered while revisions are read is).
      if (t - this.openedAt >= JOIN_TIMEOUT && t - this.lastHeard >= JOIN_TIMEOUT) this.dead('the server does not answer');
      return;
    }
    if (this.pingSent) {
      if (t - this.pingSent >= DEAD_AFTER) this.dead('the connection is lost');
    } else if (t - this.lastHeard >= PING_AFTER && ws.readyState === 1) {
      this.pingSent = t;
      ws.send(JSON.stringify({ type: 'ping' }));
    }
  }

  /** Gives up the connection as dead: offline, then reconnect as after a network error. */
  dead(why) {
    const ws = this.ws;
    if (!ws) return;
    try {
      ws.close();
    } catch {
      // already closing
    }
    this.closed(ws, 1006, '', why);
  }

  /** The browser says the network is gone (its offline event). */
  networkLost() {
    this.dead('the network is down');
  }

  /** Reconnects now if waiting to (the browser came back online). */
  retryNow() {
    if (this.retryTimer) this.connect();
  }

  closed(ws, code, reason, why = '') {
    if (this.ws !== ws) return;
    this.ws = null;
    this.user = '';
    this.holding = null;
    this.failEvents();
    clearTimeout(this.ackTimer);
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    if (REJOIN.has(code)) {
      this.resume = false;
    } else if (!RESUME.has(code) && code !== 4009) {
      this.stop(reason || CLOSE_REASONS[code] || `closed by the server (${code})`);
      return;
    }
    let detail = why;
    if (code === 4008) detail = 'too many edits: slowing down';
    if (!this.synchronized) detail = detail ? `${detail}; edits are kept` : 'edits are kept';
    this.setStatus('offline', detail);
    let delay = Math.min(10000, 250 * 2 ** Math.min(this.attempt++, 6)) * (0.5 + Math.random() / 2);
    if (code === 4008) delay = Math.max(delay, 2000);
    if (code === 4009) delay = Math.max(delay, 30000);
    if (code === RESYNC) delay = 0;
    // A connection refused before the upgrade (404, 403, 401) looks like 1006:
    // ask over HTTP whether the document is there at all.
    if (code === 1006 && !this.everJoined && this.h.probe) {
      Promise.resolve(this.h.probe()).then((why) => {
        if (why) this.stop(why);
      }, noop);
    }
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Stops for good. */
  stop(why) {
    this.stopped = true;
    clearInterval(this.beat);
    this.beat = null;
    this.failEvents();
    clearTimeout(this.retryTimer);
    clearTimeout(this.ackTimer);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
    this.setStatus('closed', why || '');
  }

  /** Closes the session and rejoins with the whole text. */
  resync(why) {
    this.h.onError({ type: 'error', code: 'resync', message: why });
    this.resume = false;
    if (this.ws) this.ws.close(RESYNC);
    // The browser reports our own close asynchronously; handle it now.
    this.closed(this.ws, RESYNC, '');
  }

  /** Closes the session and reconnects, resuming. */
  reconnect() {
    const ws = this.ws;
    if (ws) ws.close(4001);
    this.closed(ws, 4001, '');
  }

  send(m) {
    if (this.connected) this.ws.send(JSON.stringify(m));
  }

  handle(m) {
    switch (m.type) {
      case 'joined':
        return this.joined(m);
      case 'ack':
        return this.ack(m.rev, m.id);
      case 'op':
        return this.remote(m);
      case 'cursor': {
        const u = this.users.get(m.user);
        if (u) u.activeAt = this.now();
        if (u && m.rev === this.rev) u.ranges = m.ranges || [];
        else if (u) u.ranges = []; // positions at another revision: wait for the next update
        return this.h.onUsers();
      }
      case 'user':
        if (m.user && m.user.id === this.user) {
          this.ownData = m.user.data || {};
          this.h.onData(this.ownData);
        } else if (m.user) {
          const old = this.users.get(m.user.id);
          this.users.set(m.user.id, { ...m.user, ranges: old ? old.ranges : [], activeAt: this.now() });
          this.h.onUsers();
        }
        return;
      case 'leave':
        this.users.delete(m.user);
        return this.h.onUsers();
      case 'meta':
        return this.h.onMeta(m.doc);
      case 'chat':
        return this.h.onChat(m.message);
      case 'pong':
        return; // the heartbeat's answer: hearing it was the point
      case 'event':
        return this.h.onEvent(m);
      case 'eventAck':
        return this.answerEvent(m.id, { delivered: m.delivered });
      case 'error':
        return this.error(m);
    }
  }

  error(m) {
    // About an event of ours: its sender hears of it, nothing else.
    if (m.id && this.answerEvent(m.id, { code: m.code, message: m.message || '' })) return;
    this.h.onError(m);
    const mine = this.inflight && m.id && m.id === this.inflight.id;
    switch (m.code) {
      case 'rate_limited':
        // Not about our operation (cursor updates, chat, profile, events):
        // that message was dropped, the session goes on.
        if (!mine) return;
      // falls through
      case 'unavailable':
      case 'internal':
      case 'storage_full':
        // Not applied; the session closes (or we close it). Resume and
        // resend the same operation: after a backoff, so a server whose
        // disk is full is asked again until it has room.
        if (this.ws) this.reconnect();
        return;
      case 'read_only':
        this.readOnly = true;
        if (mine) this.resync('this session may not edit');
        return;
      case 'not_joined':
      case 'already_joined':
        return this.reconnect();
      case 'future_revision':
        // Refused at join: we resumed from a revision the document does
        // not have (the server lost it, or was restored from a backup).
        if (!this.user) return this.resync(m.message || m.code);
        if (mine) this.resync(m.message || m.code);
        return;
      default:
        // bad_op, future_revision, stale_op, too_large, invalid: our
        // operation does not fit; start again from the server's text.
        if (mine) this.resync(m.message || m.code);
    }
  }

  joined(m) {
    if (!m.resumed && this.askedResume && !this.synchronized && this.h.fetchRevisions) {
      return this.bringForward(m);
    }
    this.user = m.user;
    this.readOnly = !!m.readOnly;
    if (m.limits) {
      this.maxMessageBytes = m.limits.maxMessageBytes || 0;
      this.maxDocBytes = m.limits.maxDocBytes || 0;
    }
    this.attempt = 0;
    this.everJoined = true;
    const first = !this.loaded;
    if (m.resumed) {
      for (const r of m.ops || []) {
        if (this.ws === null) return; // a gap closed the session
        this.remote(r);
      }
    } else {
      const lost = this.loaded && !this.synchronized;
      this.inflight = null;
      this.buffer = null;
      this.rev = m.rev;
      if (this.loaded) this.h.onResync(m.text, lost);
    }
    this.loaded = true;
    this.resume = true;
    this.users = new Map();
    for (const u of m.users || []) {
      if (u.id !== this.user) this.users.set(u.id, { ...u, ranges: u.ranges || [], activeAt: this.now() });
      else this.ownData = u.data || {};
    }
    this.h.onJoined(m, first);
    if (this.inflight) {
      this.sendInflight();
    } else if (this.buffer) {
      this.flush();
    }
    this.setStatus(this.synchronized ? 'saved' : 'saving');
    this.h.onUsers();
    this.h.onPending();
    if (this.synchronized) this.h.onSynced();
  }

  /**
   * A join answered with the whole text while we hold unacknowledged
   * edits made on revision rev (docs/PROTOCOL.md: "A join that carries
   * text while you hold unacknowledged edits"): reads the revisions we
   * missed over REST and handles the join as a resumed one with them, so
   * the edits are transformed and sent, not dropped. Messages that come
   * meanwhile wait. If the revisions cannot be read, it tries again on a
   * new connection; after three failures, it gives the edits up as a
   * resync would (onResync's lostEdits).
   */
  bringForward(m) {
    const ws = this.ws;
    const after = this.rev;
    this.holding = [];
    this.h.fetchRevisions(after, m.rev).then(
      (revs) => {
        if (this.ws !== ws) return;
        const ops = revs.filter((r) => r.rev > after && r.rev <= m.rev).map((r) => ({ ...r, type: 'op' }));
        if (ops.length !== m.rev - after || ops.some((r, i) => r.rev !== after + 1 + i)) throw new Error('collab: the revisions read do not follow on');
        const held = this.holding;
        this.holding = null;
        this.fetchFailures = 0;
        const { text: _text, ...rest } = m;
        this.joined({ ...rest, resumed: true, ops });
        for (const x of held) {
          if (this.ws !== ws) break;
          this.handle(x);
        }
      },
    ).catch((e) => {
      if (this.ws !== ws) return;
      console.warn('collab: reading the revisions missed', e);
      this.holding = null;
      if (++this.fetchFailures >= 3) {
        this.fetchFailures = 0;
        this.askedResume = false;
        this.joined(m); // gives the edits up: onResync(text, true)
      } else {
        this.reconnect();
      }
    });
  }

  /** A local edit (code points, on the local text), already in the editor. */
  applyLocal(op) {
    if (op.isNoop()) return;
    this.buffer = this.buffer ? this.buffer.compose(op) : op;
    if (!this.inflight && this.connected) this.flush();
    if (this.connected) this.setStatus('saving');
    else if (this.status !== 'closed') this.setStatus(this.status === 'connecting' ? 'connecting' : 'offline', 'edits are kept');
    this.h.onPending();
  }

  /**
   * What delivers the unsent edits from another page, or null when there
   * are none: {client, seq, rev, inflight: {id, op} | null, buffer}, the
   * operations in JSON. The in-flight operation and the buffer are based
   * on revision rev.
   */
  pendingState() {
    if (this.synchronized) return null;
    return {
      client: this.clientId,
      seq: this.seq,
      rev: this.rev,
      inflight: this.inflight ? { id: this.inflight.id, op: this.inflight.op.toJSON() } : null,
      buffer: this.buffer ? this.buffer.toJSON() : null,
    };
  }

  /**
   * Why the server would refuse the local edit op (code points, on the
   * local text), or '' if it would not: composed with the edits waiting in
   * the buffer, it must fit in one message. Ask before making the edit.
   */
  tooLarge(op) {
    if (!this.maxMessageBytes) return '';
    const n = opMessageBytes(this.buffer ? this.buffer.compose(op) : op);
    if (n <= this.maxMessageBytes) return '';
    return `this edit needs ${bytesText(n)}; the server takes at most ${bytesText(this.maxMessageBytes)} in one edit`;
  }

  /** Sends the buffer: awaiting ack. */
  flush() {
    if (this.maxMessageBytes && opMessageBytes(this.buffer) > this.maxMessageBytes) {
      // Sending it would close the session. Never drop it silently: the
      // resync offers the local text (onResync's lostEdits).
      return this.resync('the unsent edits are larger than the server takes in one message');
    }
    this.seq++;
    this.inflight = { id: `${this.clientId}:${this.seq}`, op: this.buffer };
    this.buffer = null;
    this.sendInflight();
  }

  /** Sends (or resends, under the same id) the in-flight operation. */
  sendInflight() {
    this.send({ type: 'op', rev: this.rev, id: this.inflight.id, op: this.inflight.op.toJSON() });
    clearTimeout(this.ackTimer);
    this.ackTimer = setTimeout(() => {
      if (this.inflight && this.ws) this.reconnect();
    }, ACK_TIMEOUT);
  }

  /** Whether op id id is our in-flight operation's: ours, or as others (and REST) see it. */
  isInflight(id) {
    if (!this.inflight || !id) return false;
    if (id === this.inflight.id) return true;
    const seq = this.inflight.id.slice(this.inflight.id.lastIndexOf(':'));
    return this.user !== '' && id === this.user + seq;
  }

  ack(rev, id) {
    if (!this.isInflight(id)) return;
    // Our operation is revision rev: move the others' cursors over it.
    this.moveCursors(this.inflight.op);
    this.rev = Math.max(this.rev, rev);
    this.inflight = null;
    clearTimeout(this.ackTimer);
    if (this.buffer && this.connected) this.flush();
    this.h.onAck(this.rev);
    this.h.onPending();
    if (this.synchronized) {
      this.setStatus('saved');
      this.h.onSynced();
    } else if (!this.connected) {
      this.setStatus('offline', 'edits are kept');
    }
  }

  remote(m) {
    if (this.isInflight(m.id)) return this.ack(m.rev, m.id);
    if (m.rev <= this.rev) return; // seen already
    if (m.rev !== this.rev + 1) {
      // A revision is missing: resume from the last one we have.
      return this.reconnect();
    }
    const server = TextOperation.fromJSON(m.op);
    let op = server;
    if (this.inflight) [this.inflight.op, op] = TextOperation.transform(this.inflight.op, op);
    if (this.buffer) [this.buffer, op] = TextOperation.transform(this.buffer, op);
    this.rev = m.rev;
    this.moveCursors(server);
    try {
      this.h.onRemote(op, m.author);
    } catch (e) {
      // The editor's text and ours disagree: start again from the server's.
      return this.resync(String(e));
    }
    if (!this.synchronized) this.h.onPending();
    this.h.onUsers();
  }

  moveCursors(op) {
    for (const u of this.users.values()) {
      u.ranges = u.ranges.map((r) => ({ anchor: op.transformIndex(r.anchor), head: op.transformIndex(r.head) }));
    }
  }

  /** A user's ranges in the local text: at rev, moved over our pending edits. */
  localRanges(u) {
    let rs = u.ranges || [];
    for (const op of [this.inflight && this.inflight.op, this.buffer]) {
      if (op) rs = rs.map((r) => ({ anchor: op.transformIndex(r.anchor), head: op.transformIndex(r.head) }));
    }
    return rs;
  }

  /**
   * Sends our selections (code points in the local text). Only when
   * synchronized is the local text the text at rev; otherwise it returns
   * false and the caller sends again on onSynced.
   */
  sendCursor(ranges) {
    if (!this.synchronized || !this.connected || this.readOnly) return false;
    this.send({ type: 'cursor', rev: this.rev, ranges: ranges.slice(0, 32) });
    return true;
  }

  setProfile(name, color) {
    this.name = cleanName(name);
    this.color = cleanColor(color, this.color);
    this.send({ type: 'profile', name: this.name, color: this.color });
  }

  sendChat(text) {
    this.send({ type: 'chat', text });
  }

  /**
   * Changes our app data key by key: each key of change is set, a key set
   * to null is removed, others stay (docs/PROTOCOL.md, profile). Kept for
   * the next join; the server's answer comes as onData.
   */
  setData(change) {
    if (!isObject(change)) return false;
    for (const [k, v] of Object.entries(change)) {
      if (v === null) delete this.data[k];
      else this.data[k] = v;
    }
    this.send({ type: 'profile', data: change });
    return true;
  }

  /**
   * Sends an app event: {name, data, to (user ids; absent for everyone),
   * excludeSelf}. With answer, the server's answer is passed to it:
   * {delivered: n}, or {code, message} when it was refused or the
   * connection dropped first (code 'disconnected'). Events are ephemeral:
   * while not connected nothing is sent and it returns false.
   */
  sendEvent({ name, data = null, to, excludeSelf }, answer) {
    if (!this.connected) return false;
    const m = { type: 'event', name, data };
    if (Array.isArray(to)) m.to = to;
    if (excludeSelf) m.excludeSelf = true;
    if (answer) {
      m.id = 'e' + ++this.eventSeq; // no ":": never an op id
      this.eventAnswers.set(m.id, answer);
    }
    this.send(m);
    return true;
  }

  /** Passes the server's answer to an event to its sender; false if none waits. */
  answerEvent(id, a) {
    const answer = this.eventAnswers.get(id);
    if (!answer) return false;
    this.eventAnswers.delete(id);
    answer(a);
    return true;
  }

  /** Answers every event still waiting: the connection is gone. */
  failEvents() {
    const waiting = [...this.eventAnswers.values()];
    this.eventAnswers.clear();
    for (const answer of waiting) answer({ code: 'disconnected', message: 'the connection dropped before the server answered' });
  }
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
