// The client state machine against a small in-memory server that follows
// docs/PROTOCOL.md: several clients edit at random while messages are
// delivered in random interleavings, batched into array frames, and
// connections drop. In the end every client's text equals the server's,
// and every operation a client made was applied exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Collab, utf8Length } from '../src/collab.js';
import { TextOperation } from '../src/ot.js';
import { seeded, randomText, randomOp } from './rand.js';

const publicID = (client) => 'u-' + client;
// opIDFor is the id a session of client `to` sees of op id `id`.
const opIDFor = (id, to) => {
  const [client, seq] = id.split(':');
  return client === to ? id : `${publicID(client)}:${seq}`;
};

class FakeServer {
  constructor(text, r) {
    this.r = r;
    this.text = text;
    this.revs = [null]; // revs[n] is revision n: {op, id, author}
    this.applied = new Map(); // op id -> {rev, json}
    this.newest = new Map(); // client id -> newest applied sequence
    this.sessions = new Map(); // socket -> {client}
    this.refuseResume = 0; // probability of answering a resume with the whole text
  }

  get head() {
    return this.revs.length - 1;
  }

  receive(sock, data) {
    const m = JSON.parse(data);
    const s = this.sessions.get(sock);
    if (!s) return;
    if (m.type === 'join') {
      s.client = m.client;
      const resume = m.rev !== undefined && m.rev <= this.head && this.r.next() >= this.refuseResume;
      // As the server does, others see a public user id, never the
      // client id, and op ids under it; a client's own ops keep its id.
      const joined = { type: 'joined', user: publicID(m.client), readOnly: false, doc: { id: 'd', name: 'f.txt', language: '' }, rev: this.head, users: [], ops: [] };
      if (resume) {
        joined.resumed = true;
        joined.ops = this.revs.slice(m.rev + 1).map((v, i) => ({ rev: m.rev + 1 + i, op: v.op.toJSON(), author: v.author, id: opIDFor(v.id, m.client) }));
      } else {
        joined.resumed = false;
        joined.text = this.text;
      }
      sock.deliver(joined);
      return;
    }
    if (!s.client) return sock.deliver({ type: 'error', code: 'not_joined' });
    if (m.type !== 'op') return;
    // A resend carries the id of the first send (its operation may have
    // been transformed since, and its rev moved on).
    const seen = this.applied.get(m.id);
    if (seen) return sock.deliver({ type: 'ack', rev: seen.rev, id: m.id, duplicate: true });
    const [client, seqText] = m.id.split(':');
    const seq = Number(seqText);
    assert.equal(client, s.client);
    if (seq <= (this.newest.get(client) || 0)) return sock.deliver({ type: 'error', code: 'stale_op', id: m.id });
    if (m.rev > this.head) return sock.deliver({ type: 'error', code: 'future_revision', id: m.id });
    let op = TextOperation.fromJSON(m.op);
    for (let n = m.rev + 1; n <= this.head; n++) [op] = TextOperation.transform(op, this.revs[n].op);
    this.text = op.apply(this.text);
    this.revs.push({ op, id: m.id, author: publicID(client) });
    this.applied.set(m.id, { rev: this.head });
    this.newest.set(client, seq);
    for (const [other] of this.sessions) {
      if (other === sock) other.deliver({ type: 'ack', rev: this.head, id: m.id });
      else other.deliver({ type: 'op', rev: this.head, op: op.toJSON(), author: publicID(client), id: opIDFor(m.id, this.sessions.get(other).client) });
    }
  }
}

// A WebSocket whose traffic the test moves by hand.
function network(server) {
  const sockets = [];
  class FakeWS {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.up = []; // client -> server
      this.down = []; // server -> client (messages, framed on delivery)
      this.closeCode = null; // a close event not yet delivered
      sockets.push(this);
    }
    send(data) {
      if (this.readyState !== 1) throw new Error('send on a socket that is not open');
      this.up.push(data);
    }
    close(code = 1005) {
      if (this.readyState >= 2) return;
      this.drop(code);
    }
    drop(code) {
      this.readyState = 3;
      this.up = [];
      this.down = [];
      this.closeCode = code;
      server.sessions.delete(this);
    }
    deliver(m) {
      if (this.readyState === 1) this.down.push(m);
    }
  }
  return { sockets, FakeWS };
}

function run(seedName, { clients: nClients, steps, dropRate, refuseResume }) {
  const r = seeded(seedName);
  const server = new FakeServer(randomText(r, 10), r);
  server.refuseResume = refuseResume;
  const { sockets, FakeWS } = network(server);
  const clients = [];
  for (let i = 0; i < nClients; i++) {
    const c = { text: null, lost: 0 };
    c.collab = new Collab({
      url: 'ws://test/api/docs/d/ws',
      name: 'user' + i,
      color: '#112233',
      clientId: 'c' + i,
      WebSocket: FakeWS,
      handlers: {
        onJoined(m, first) {
          if (first) c.text = m.text;
        },
        onRemote(op) {
          c.text = op.apply(c.text);
        },
        onResync(text, lost) {
          if (lost) c.lost++;
          c.text = text;
        },
      },
    });
    clients.push(c);
    c.collab.connect();
  }

  const step = (final) => {
    const live = sockets.filter((s) => s.readyState === 0 || s.readyState === 1 || s.closeCode !== null);
    const actions = [];
    for (const s of live) {
      if (s.readyState === 0) actions.push(() => {
        s.readyState = 1;
        server.sessions.set(s, {});
        s.onopen();
      });
      if (s.up.length) actions.push(() => server.receive(s, s.up.shift()));
      if (s.down.length) actions.push(() => {
        // Sometimes several messages go in one frame, as the server does.
        const n = 1 + r.int(Math.min(s.down.length, 3));
        const batch = s.down.splice(0, n);
        s.onmessage({ data: JSON.stringify(n === 1 && r.int(2) ? batch[0] : batch) });
      });
      if (s.closeCode !== null) actions.push(() => {
        const code = s.closeCode;
        s.closeCode = null;
        s.readyState = 3;
        s.onclose({ code, reason: '' });
      });
      if (!final && s.readyState === 1 && r.next() < dropRate) actions.push(() => s.drop(1006));
    }
    for (const c of clients) {
      if (c.collab.retryTimer) actions.push(() => c.collab.retryNow());
      if (!final && c.text !== null) actions.push(() => {
        const op = randomOp(r, c.text);
        c.text = op.apply(c.text);
        c.collab.applyLocal(op);
      });
    }
    if (actions.length === 0) return false;
    r.pick(actions)();
    return true;
  };

  try {
    for (let i = 0; i < steps; i++) step(false);
    let quiet = 0;
    while (step(true)) assert.ok(++quiet < 100000, `${r.label}: no quiescence`);
    for (const [i, c] of clients.entries()) {
      const ctx = `${r.label}: client ${i}`;
      assert.equal(c.collab.status, 'saved', ctx);
      assert.ok(c.collab.synchronized, ctx);
      assert.equal(c.collab.rev, server.head, ctx);
      assert.equal(c.text, server.text, ctx);
      if (c.lost === 0) {
        // Every operation the client made was applied, once.
        for (let seq = 1; seq <= c.collab.seq; seq++) assert.ok(server.applied.has(`c${i}:${seq}`), `${ctx}: op ${seq} never applied`);
      }
    }
  } finally {
    for (const c of clients) c.collab.stop();
  }
  return server;
}

test('clients converge over interleaved, batched, dropped connections', () => {
  for (let round = 0; round < 40; round++) {
    run('collab converge', { clients: 3, steps: 400, dropRate: 0.01, refuseResume: 0 });
  }
});

test('a resume the server refuses resyncs, reporting edits it could not keep', () => {
  let server;
  for (let round = 0; round < 20; round++) {
    server = run('collab resync', { clients: 3, steps: 300, dropRate: 0.02, refuseResume: 0.5 });
  }
  assert.ok(server.head > 0);
});

test('utf8Length counts the bytes of UTF-8', () => {
  const r = seeded('utf8Length');
  for (let i = 0; i < 200; i++) {
    const s = randomText(r, 30) + (r.int(4) === 0 ? '\ud800x' : '') + (r.int(4) === 0 ? 'y\udc00' : '');
    assert.equal(utf8Length(s), Buffer.byteLength(s, 'utf8'), `${r.label}: ${JSON.stringify(s)}`);
  }
});

// A Collab on one socket the test drives by hand.
function manual(limits) {
  const sockets = [];
  class WS {
    constructor() {
      this.readyState = 0;
      this.sent = [];
      sockets.push(this);
    }
    send(d) {
      this.sent.push(JSON.parse(d));
    }
    close() {
      this.readyState = 3;
    }
  }
  const resyncs = [];
  const c = new Collab({
    url: 'ws://test/api/docs/d/ws',
    clientId: 'c',
    WebSocket: WS,
    handlers: { onJoined() {}, onRemote() {}, onResync: (text, lost) => resyncs.push({ text, lost }) },
  });
  const open = (joined) => {
    const ws = sockets[sockets.length - 1];
    ws.readyState = 1;
    ws.onopen();
    ws.onmessage({ data: JSON.stringify({ type: 'joined', user: 'c', readOnly: false, resumed: false, users: [], limits, ...joined }) });
    return ws;
  };
  c.connect();
  return { c, open, resyncs, sockets };
}

test('an edit too large for one message is refused before it is made', () => {
  const { c, open } = manual({ maxMessageBytes: 1000, maxDocBytes: 1 << 20 });
  assert.equal(c.tooLarge(new TextOperation().insert('x'.repeat(5000))), '', 'limits are not known before joined');
  open({ rev: 1, text: 'ab' });
  try {
    assert.equal(c.tooLarge(new TextOperation().retain(2).insert('é'.repeat(300))), '');
    assert.match(c.tooLarge(new TextOperation().retain(2).insert('é'.repeat(500))), /at most 1000 bytes/);
    // The message [2,"😀…"] in its envelope: 166 bytes and four a character.
    assert.equal(c.tooLarge(new TextOperation().retain(2).insert('😀'.repeat(208))), '');
    assert.match(c.tooLarge(new TextOperation().retain(2).insert('😀'.repeat(209))), /needs 1002 bytes/);
  } finally {
    c.stop();
  }
});

test('a buffer grown too large for one message resyncs, offering the local text', () => {
  const { c, open, resyncs, sockets } = manual({ maxMessageBytes: 1000, maxDocBytes: 1 << 20 });
  const ws = open({ rev: 1, text: 'ab' });
  try {
    let len = 2;
    const type = (s) => {
      c.applyLocal(new TextOperation().retain(len).insert(s));
      len += s.length;
    };
    type('first');
    for (let i = 0; i < 20; i++) type('0123456789'.repeat(5)); // 1000 bytes in the buffer
    assert.deepEqual(ws.sent.filter((m) => m.type === 'op').map((m) => m.id), ['c:1']);
    ws.onmessage({ data: JSON.stringify({ type: 'ack', rev: 2, id: 'c:1' }) });
    assert.equal(ws.sent.filter((m) => m.type === 'op').length, 1, 'the buffer was sent');
    assert.equal(c.status, 'offline');
    c.retryNow();
    assert.equal(sockets.length, 2);
    const again = open({ rev: 2, text: 'abfirst' });
    assert.equal(again.sent[0].rev, undefined, 'a resync joins without resuming');
    assert.deepEqual(resyncs, [{ text: 'abfirst', lost: true }]);
    assert.ok(c.synchronized);
  } finally {
    c.stop();
  }
});

test('a cursor rate_limited error (no id) keeps the session; an op rate_limited reconnects', () => {
  const { c, open, sockets } = manual({ maxMessageBytes: 1000, maxDocBytes: 1 << 20 });
  const ws = open({ rev: 1, text: 'ab' });
  try {
    ws.onmessage({ data: JSON.stringify({ type: 'error', code: 'rate_limited', message: 'cursor updates dropped' }) });
    assert.equal(sockets.length, 1);
    assert.ok(c.connected, 'the session goes on');
    assert.equal(c.status, 'saved');
    c.applyLocal(new TextOperation().retain(2).insert('!'));
    ws.onmessage({ data: JSON.stringify({ type: 'error', code: 'rate_limited', message: 'slow down', id: 'c:1' }) });
    assert.ok(!c.connected, 'a refused op reconnects to resend it');
  } finally {
    c.stop();
  }
});

test('a resume from a revision the server does not have starts again from its text', () => {
  const { c, open, sockets, resyncs } = manual({ maxMessageBytes: 1000, maxDocBytes: 1 << 20 });
  open({ rev: 5, text: 'hello' });
  try {
    c.reconnect();
    c.retryNow();
    const ws = sockets[sockets.length - 1];
    ws.readyState = 1;
    ws.onopen();
    assert.equal(ws.sent[0].rev, 5, 'the reconnect resumes');
    ws.onmessage({ data: JSON.stringify({ type: 'error', code: 'future_revision', message: 'the document is at revision 2' }) });
    assert.equal(resyncs.length, 0);
    c.retryNow();
    const again = sockets[sockets.length - 1];
    assert.notEqual(again, ws, 'the refused resume reconnects');
    again.readyState = 1;
    again.onopen();
    assert.equal(again.sent[0].rev, undefined, 'without rev');
  } finally {
    c.stop();
  }
});

test('an op refused for a full disk is kept and resent after a reconnect', () => {
  const { c, open, sockets, resyncs } = manual({ maxMessageBytes: 1000, maxDocBytes: 1 << 20 });
  const ws = open({ rev: 1, text: 'ab' });
  try {
    c.applyLocal(new TextOperation().retain(2).insert('!'));
    const sent = ws.sent[ws.sent.length - 1];
    assert.equal(sent.type, 'op');
    ws.onmessage({ data: JSON.stringify({ type: 'error', code: 'storage_full', message: 'the disk is full', id: sent.id }) });
    assert.equal(resyncs.length, 0, 'the edit is not dropped');
    assert.ok(!c.connected);
    c.retryNow();
    const again = open({ rev: 1, text: 'ab', resumed: true, ops: [] });
    const resent = again.sent[again.sent.length - 1];
    assert.deepEqual([resent.type, resent.id, resent.rev], ['op', sent.id, 1]);
  } finally {
    c.stop();
  }
});

test('app events: answers reach their sender, refusals keep the session, a drop fails the waiting ones', () => {
  const { c, open, sockets } = manual({ maxMessageBytes: 1000, maxDocBytes: 1 << 20 });
  const events = [];
  c.h.onEvent = (m) => events.push(m);
  const ws = open({ rev: 1, text: 'ab' });
  try {
    const answers = [];
    assert.ok(c.sendEvent({ name: 'follow-me', data: { line: 3 }, to: ['u-bob'] }, (a) => answers.push(a)));
    assert.ok(c.sendEvent({ name: 'tests', excludeSelf: true }));
    const [first, second] = ws.sent.filter((m) => m.type === 'event');
    assert.deepEqual(first, { type: 'event', name: 'follow-me', data: { line: 3 }, to: ['u-bob'], id: first.id });
    assert.doesNotMatch(first.id, /:/, 'an event id is never an op id');
    assert.deepEqual(second, { type: 'event', name: 'tests', data: null, excludeSelf: true });
    ws.onmessage({ data: JSON.stringify([{ type: 'event', name: 'hi', data: 1, from: 'u-bob' }, { type: 'eventAck', id: first.id, delivered: 1 }]) });
    assert.deepEqual(answers, [{ delivered: 1 }]);
    assert.deepEqual(events.map((e) => e.from), ['u-bob']);

    // A refused event (rate_limited, read_only) is answered and the session goes on.
    c.applyLocal(new TextOperation().retain(2).insert('!')); // an op in flight
    c.sendEvent({ name: 'x' }, (a) => answers.push(a));
    const id = ws.sent.findLast((m) => m.type === 'event').id;
    ws.onmessage({ data: JSON.stringify({ type: 'error', code: 'rate_limited', message: 'more than 20 events per second', id }) });
    ws.onmessage({ data: JSON.stringify({ type: 'error', code: 'read_only', message: 'view-only', id: 'e999' }) });
    assert.deepEqual(answers[1], { code: 'rate_limited', message: 'more than 20 events per second' });
    assert.ok(c.connected, 'the session goes on');
    assert.equal(c.readOnly, true, 'an unknown read_only is still heard');

    c.sendEvent({ name: 'late' }, (a) => answers.push(a));
    c.reconnect();
    assert.equal(answers[2].code, 'disconnected');
    assert.equal(c.sendEvent({ name: 'offline' }), false, 'nothing is sent while offline');
    assert.equal(sockets.length, 1);
  } finally {
    c.stop();
  }
});

test('app data: sent at every join, changed key by key, ours as the server says', () => {
  const { c, open, sockets } = manual({ maxMessageBytes: 1000, maxDocBytes: 1 << 20 });
  const seen = [];
  c.h.onData = (d) => seen.push(d);
  c.data = { role: 'author' };
  const ws = open({ rev: 1, text: 'ab', users: [{ id: 'c', name: 'Me', color: '#000000', data: { role: 'author' } }] });
  try {
    assert.deepEqual(ws.sent[0].data, { role: 'author' });
    assert.deepEqual(c.ownData, { role: 'author' });
    c.setData({ status: 'away', role: null });
    assert.deepEqual(ws.sent.at(-1), { type: 'profile', data: { status: 'away', role: null } });
    assert.deepEqual(c.data, { status: 'away' });
    ws.onmessage({ data: JSON.stringify({ type: 'user', user: { id: 'c', name: 'Me', color: '#000000', data: { status: 'away' } } }) });
    assert.deepEqual(seen, [{ status: 'away' }]);
    assert.equal(c.users.size, 0, 'we are not among the others');
    c.reconnect();
    c.retryNow();
    const again = sockets.at(-1);
    again.readyState = 1;
    again.onopen();
    assert.deepEqual(again.sent[0].data, { status: 'away' }, 'the rejoin carries the data');
  } finally {
    c.stop();
  }
});
