// The client state machine against a small in-memory server that follows
// docs/PROTOCOL.md: several clients edit at random while messages are
// delivered in random interleavings, batched into array frames, and
// connections drop. In the end every client's text equals the server's,
// and every operation a client made was applied exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Collab, utf8Length, PING_AFTER, DEAD_AFTER, JOIN_TIMEOUT } from '../src/collab.js';
import { TextOperation } from '../src/ot.js';
import { seeded, randomText, randomOp } from './rand.js';
import { FakeServer, network } from './fakeserver.js';

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
function manual(limits, opts = {}) {
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
    ...opts,
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

test('the heartbeat pings a quiet connection and gives up a silent one: offline, edits kept, reconnect', () => {
  let t = 1000;
  const { c, open, sockets } = manual({ maxMessageBytes: 1000, maxDocBytes: 1 << 20 }, { now: () => t });
  const ws = open({ rev: 1, text: 'ab' });
  const pings = () => ws.sent.filter((m) => m.type === 'ping').length;
  try {
    t += PING_AFTER - 1;
    c.tick();
    assert.equal(pings(), 0, 'not before PING_AFTER of silence');
    t += 1;
    c.tick();
    assert.equal(pings(), 1);
    c.tick();
    assert.equal(pings(), 1, 'one ping at a time');
    // The pong (any message) says the connection lives.
    t += 1000;
    ws.onmessage({ data: JSON.stringify({ type: 'pong' }) });
    t += DEAD_AFTER;
    c.tick();
    assert.ok(c.connected);
    assert.equal(pings(), 2, 'quiet again: another ping');
    c.applyLocal(new TextOperation().retain(2).insert('!'));
    t += DEAD_AFTER - 1;
    c.tick();
    assert.ok(c.connected, 'not dead before DEAD_AFTER');
    t += 1;
    c.tick();
    assert.ok(!c.connected, 'dead');
    assert.equal(ws.readyState, 3, 'the dead socket is closed');
    assert.equal(c.status, 'offline');
    assert.ok(c.retryTimer, 'it reconnects');
    assert.ok(!c.synchronized, 'the edit is kept');
    c.retryNow();
    const again = open({ rev: 1, text: 'ab', resumed: true, ops: [] });
    assert.equal(sockets.length, 2);
    assert.deepEqual(again.sent.filter((m) => m.type === 'op').map((m) => m.id), ['c:1'], 'and resent');
  } finally {
    c.stop();
  }
});

test('a join never answered is given up after JOIN_TIMEOUT', () => {
  let t = 1000;
  const { c, sockets } = manual({}, { now: () => t });
  try {
    const ws = sockets[0];
    ws.readyState = 1;
    ws.onopen();
    t += JOIN_TIMEOUT - 1;
    c.tick();
    assert.equal(c.status, 'connecting');
    t += 1;
    c.tick();
    assert.equal(c.status, 'offline');
    assert.equal(ws.readyState, 3);
  } finally {
    c.stop();
  }
});

test('the browser going offline is believed at once', () => {
  const { c, open } = manual({});
  open({ rev: 1, text: 'ab' });
  try {
    c.networkLost();
    assert.equal(c.status, 'offline');
    assert.ok(!c.connected);
  } finally {
    c.stop();
  }
});

test('every join carries the author secret and the client id', () => {
  const { c, open, sockets } = manual({}, { author: 'f3a9c1d07b6e4f2a9c8d1e0b7a6f5c4d' });
  try {
    open({ rev: 1, text: 'ab' });
    c.reconnect();
    c.retryNow();
    open({ rev: 1, resumed: true, ops: [] });
    for (const ws of sockets) assert.deepEqual([ws.sent[0].author, ws.sent[0].client], ['f3a9c1d07b6e4f2a9c8d1e0b7a6f5c4d', 'c']);
  } finally {
    c.stop();
  }
});

test('a client id is 128 random bits in hex', () => {
  const a = new Collab({ url: 'ws://x', handlers: { onJoined() {}, onRemote() {}, onResync() {} } });
  const b = new Collab({ url: 'ws://x', handlers: { onJoined() {}, onRemote() {}, onResync() {} } });
  assert.match(a.clientId, /^[0-9a-f]{32}$/);
  assert.notEqual(a.clientId, b.clientId);
});
