// Unsent edits kept for a page that is gone, and delivered exactly once by
// the next page of the document, against the in-memory server, with a map
// for IndexedDB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Collab } from '../src/collab.js';
import { TextOperation } from '../src/ot.js';
import { PendingWriter, deliverOrphans, lockName, orphans } from '../src/pending.js';
import { FakeServer, network } from './fakeserver.js';
import { seeded } from './rand.js';

const later = () => new Promise((resolve) => setImmediate(resolve));

// The store of records, a map (structured clones, as IndexedDB keeps),
// each call answered a little later.
class MapStore {
  constructor() {
    this.m = new Map();
    this.puts = 0;
  }
  async put(r) {
    await later();
    this.puts++;
    this.m.set(r.client, structuredClone(r));
  }
  async remove(client) {
    await later();
    this.m.delete(client);
  }
  async forDoc(doc) {
    await later();
    return [...this.m.values()].filter((r) => r.doc === doc).map((r) => structuredClone(r));
  }
}

// Web Locks: the names in held are held by live pages.
function fakeLocks(held = new Set()) {
  return {
    exclusive: true,
    held,
    hold: async (name) => held.add(name),
    tryWith: async (name, fn) => {
      if (held.has(name)) return null;
      held.add(name);
      try {
        return await fn();
      } finally {
        held.delete(name);
      }
    },
  };
}

// Moves every socket's traffic, in order, until done() or nothing moves.
async function pump(sockets, server, done) {
  for (let i = 0; i < 10000; i++) {
    let moved = false;
    for (const s of sockets) {
      if (s.readyState === 0) {
        s.readyState = 1;
        server.sessions.set(s, {});
        s.onopen();
        moved = true;
      }
      while (s.up.length) {
        server.receive(s, s.up.shift());
        moved = true;
      }
      while (s.down.length) {
        s.onmessage({ data: JSON.stringify(s.down.shift()) });
        moved = true;
      }
      if (s.closeCode !== null) {
        const code = s.closeCode;
        s.closeCode = null;
        s.onclose({ code, reason: '' });
        moved = true;
      }
    }
    await later();
    if (done()) return;
    if (!moved) await later();
  }
  throw new Error('the network did not settle');
}

// A page: a Collab with a text, like the editor's.
function page(server, FakeWS, clientId, extra = {}) {
  const p = { text: null };
  p.collab = new Collab({
    url: 'ws://test/api/docs/doc1/ws',
    clientId,
    WebSocket: FakeWS,
    handlers: {
      onJoined(m, first) {
        if (first) p.text = m.text;
      },
      onRemote(op) {
        p.text = op.apply(p.text);
      },
      onResync(text) {
        p.text = text;
      },
      ...extra,
    },
  });
  p.type = (at, s) => {
    const op = new TextOperation().retain(at).insert(s).retain([...p.text].length - at);
    p.text = op.apply(p.text);
    p.collab.applyLocal(op);
  };
  return p;
}

// Ann's page sends an edit the server applies, but the ack never reaches
// her (the connection dies on the way back); offline, she types more, and
// her page goes away (closed, or crashed) with both kept in the store.
// Meanwhile Bob edits. Returns what the next page needs.
async function abandonedPage({ refuseResume }) {
  const server = new FakeServer('hello', seeded('pending'));
  server.refuseResume = refuseResume;
  const { sockets, FakeWS } = network(server);
  const store = new MapStore();
  let writer = null;
  const ann = page(server, FakeWS, 'ann', { onPending: () => writer.update() });
  writer = new PendingWriter(store, 'doc1', ann.collab, { name: 'f.txt' });
  ann.collab.connect();
  await pump(sockets, server, () => ann.collab.connected);

  ann.type(5, ' world');
  const annWS = sockets[0];
  server.receive(annWS, annWS.up.shift()); // applied as revision 1 …
  annWS.drop(1006); // … and its ack lost: Ann's page never hears of it
  ann.type(11, '!'); // into the buffer
  await writer.settled();
  const rec = store.m.get('ann');
  assert.deepEqual([rec.doc, rec.client, rec.rev, rec.inflight.id, rec.seq, rec.name], ['doc1', 'ann', 0, 'ann:1', 1, 'f.txt']);
  assert.ok(rec.buffer, 'the buffer is kept');
  ann.collab.stop(); // the page is gone (its writer writes no more)

  const bob = page(server, FakeWS, 'bob');
  bob.collab.connect();
  await pump(sockets, server, () => bob.collab.connected);
  bob.type(0, '> ');
  await pump(sockets, server, () => bob.collab.synchronized);
  bob.collab.stop();
  assert.equal(server.text, '> hello world');
  return { server, sockets, FakeWS, store };
}

for (const [name, refuseResume] of [['resumed', 0], ['read over REST when the server will not resume', 1]]) {
  test(`a page gone with an op in flight and a buffer: the next page delivers both, once (${name})`, async () => {
    const { server, sockets, FakeWS, store } = await abandonedPage({ refuseResume });
    const locks = fakeLocks();
    let fetched = 0;
    const states = [];
    const run = deliverOrphans({
      store,
      doc: 'doc1',
      own: 'carol',
      locks,
      open: (rec, h) => new Collab({
        url: 'ws://test/api/docs/doc1/ws',
        WebSocket: FakeWS,
        restore: rec,
        handlers: {
          onJoined() {},
          onRemote() {},
          onResync() {},
          fetchRevisions: async (after, upTo) => {
            fetched++;
            await later();
            return server.revisions(after, upTo);
          },
          ...h,
        },
      }),
      onState: (st) => states.push(st),
    });
    let result = null;
    run.then((r) => (result = r));
    await pump(sockets, server, () => result !== null);
    assert.deepEqual(result, { delivering: 0, delivered: 1, failed: 0, skipped: 0 });
    assert.deepEqual(states.map((s) => s.delivering), [1, 0]);
    assert.equal(server.text, '> hello world!');
    const ids = server.revs.slice(1).map((r) => r.id);
    assert.deepEqual(ids, ['ann:1', 'bob:1', 'ann:2'], 'each edit applied once, under its own op id');
    assert.equal(fetched, refuseResume ? 1 : 0);
    assert.equal(store.m.size, 0, 'the record is deleted once delivered');
    assert.equal(locks.held.size, 0);
  });
}

test('a record a live page holds, or this page’s own, is not taken; without Web Locks only an old one is', async () => {
  const store = new MapStore();
  const rec = (client, updated) => ({ client, doc: 'doc1', seq: 1, rev: 0, inflight: { id: client + ':1', op: ['x'] }, buffer: null, updated });
  for (const r of [rec('live', 5), rec('gone', 3), rec('mine', 1), rec('older', 2), { ...rec('other-doc', 1), doc: 'doc2' }]) await store.put(r);
  const locks = fakeLocks(new Set([lockName('live')]));
  assert.deepEqual((await orphans(store, 'doc1', 'mine', locks)).map((r) => r.client).filter((c) => !locks.held.has(lockName(c))), ['older', 'gone']);
  const noLocks = { exclusive: false };
  const now = 11 * 60 * 1000;
  await store.put(rec('recent', now - 1000));
  assert.deepEqual((await orphans(store, 'doc1', 'mine', noLocks, now)).map((r) => r.client), ['older', 'gone', 'live']);
  // deliverOrphans skips the held one: it opens the others only.
  const opened = [];
  const st = await deliverOrphans({
    store,
    doc: 'doc1',
    own: 'mine',
    locks,
    open: (r, h) => {
      opened.push(r.client);
      return { connect: () => h.onStatus('closed'), stop() {} }; // the document is gone
    },
  });
  assert.deepEqual(opened, ['older', 'gone', 'recent']);
  assert.deepEqual(st, { delivering: 0, delivered: 0, failed: 3, skipped: 1 }, 'the live one is left for later');
  assert.deepEqual([...store.m.keys()].sort(), ['live', 'mine', 'other-doc'], 'records that cannot be delivered are deleted');
});

test('the writer keeps the newest state, one write at a time, after ready; and deletes it once all is sent', async () => {
  const store = new MapStore();
  let state = null;
  const collab = { clientId: 'c1', pendingState: () => state };
  let open;
  const ready = new Promise((resolve) => (open = resolve));
  const w = new PendingWriter(store, 'doc1', collab, { ready, now: () => 42 });
  state = { client: 'c1', seq: 1, rev: 3, inflight: { id: 'c1:1', op: [1, 'a'] }, buffer: null };
  w.update();
  await later();
  await later();
  assert.equal(store.m.size, 0, 'nothing before ready (the lock)');
  open();
  for (let i = 2; i < 30; i++) {
    state = { ...state, buffer: [2, 'x'.repeat(i)] };
    w.update();
  }
  await w.settled();
  assert.ok(store.puts < 10, `${store.puts} writes for 29 changes`);
  assert.deepEqual(store.m.get('c1'), { ...state, doc: 'doc1', name: '', updated: 42 });
  const before = store.puts;
  w.update();
  await w.settled();
  assert.equal(store.puts, before, 'an unchanged state is not written again');
  state = null;
  w.update();
  await w.settled();
  assert.equal(store.m.size, 0);
  // Without a store (no IndexedDB) nothing happens.
  await new PendingWriter(null, 'doc1', collab).update();
});
