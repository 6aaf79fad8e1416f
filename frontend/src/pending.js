// Unsent edits kept in the browser (IndexedDB), so that a tab closed, or
// crashed, while offline loses nothing: the next page that opens the same
// document delivers them.
//
// A record is a Collab's pendingState() (its client id, sequence number,
// base revision, in-flight operation with its op id, and buffer) and the
// document link it was made on. The page that owns a record rewrites it
// at each change of its unsent edits (PendingWriter) and deletes it when
// everything is acknowledged. The page holds a Web Lock named for its
// client id while it lives; a record whose lock is free belongs to a page
// that is gone, and the next page of the document adopts it: it opens a
// second connection under the record's client id, which resends the
// in-flight operation under its own op id and then the buffer, exactly as
// the page that made them would have (the server applies each op id at
// most once), and deletes the record once they are acknowledged
// (deliverOrphans). The page's editor sees them arrive like anyone's edits.
//
// Nothing here knows IndexedDB but idbStore: the rest takes a store
// {put(record), remove(client), forDoc(doc)} of Promises, so the tests
// use a map.

const DB = 'collab';
const STORE = 'pending';
const LOCK = 'collab-pending:';
/** Without Web Locks, a record is taken for abandoned when this old (ms). */
const ABANDONED = 10 * 60 * 1000;

/** The records of IndexedDB, or null when this browser gives no IndexedDB. */
export function idbStore(idb = globalThis.indexedDB) {
  if (!idb) return null;
  let db = null;
  const open = () => {
    if (!db) {
      db = new Promise((resolve, reject) => {
        const req = idb.open(DB, 1);
        req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'client' }).createIndex('doc', 'doc');
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      db.catch(() => (db = null));
    }
    return db;
  };
  // One request in one transaction; resolves with its result once the
  // transaction is committed (written to disk: strict durability).
  const run = async (mode, request) => {
    const d = await open();
    return new Promise((resolve, reject) => {
      const tx = d.transaction(STORE, mode, { durability: 'strict' });
      const req = request(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error('aborted'));
    });
  };
  return {
    put: (rec) => run('readwrite', (s) => s.put(rec)),
    remove: (client) => run('readwrite', (s) => s.delete(client)),
    forDoc: (doc) => run('readonly', (s) => s.index('doc').getAll(doc)),
  };
}

/**
 * Locks held by live pages: navigator.locks, or without it (old browsers)
 * nothing, in which case only records older than ABANDONED are adopted.
 */
export function webLocks(nav = globalThis.navigator) {
  const l = nav && nav.locks;
  if (!l) {
    return {
      exclusive: false,
      hold: () => Promise.resolve(),
      tryWith: (_name, fn) => fn(),
    };
  }
  return {
    exclusive: true,
    // Held until the page goes away; resolves once held.
    hold: (name) => new Promise((held) => {
      l.request(name, () => {
        held();
        return new Promise(() => {});
      });
    }),
    // Runs fn while holding the lock, or returns null at once if another
    // page holds it.
    tryWith: (name, fn) => l.request(name, { ifAvailable: true }, (lock) => (lock ? fn() : null)),
  };
}

/** The lock of a client id's record. */
export const lockName = (client) => LOCK + client;

/**
 * Keeps one Collab's unsent edits in the store under doc: call update()
 * whenever they may have changed (its onPending). Writes go one at a time,
 * in order, each of the newest state, and are skipped when nothing
 * changed; the record is deleted once nothing is unsent.
 */
export class PendingWriter {
  /**
   * opts: {ready (a Promise: write nothing before it, e.g. the lock),
   * stored (a record of this client is in the store already), now, name}
   */
  constructor(store, doc, collab, opts = {}) {
    this.store = store;
    this.doc = doc;
    this.collab = collab;
    this.ready = opts.ready || Promise.resolve();
    this.now = opts.now || Date.now;
    this.name = opts.name || '';
    this.last = opts.stored ? 'stored' : null; // JSON of what the store holds; null: nothing
    this.dirty = false;
    this.writing = null; // the Promise of the write loop
  }

  update() {
    if (!this.store) return Promise.resolve();
    this.dirty = true;
    if (!this.writing) this.writing = this.loop().finally(() => (this.writing = null));
    return this.writing;
  }

  /** Resolves once everything asked for so far is written. */
  settled() {
    return this.writing || Promise.resolve();
  }

  async loop() {
    await this.ready;
    while (this.dirty) {
      this.dirty = false;
      const st = this.collab.pendingState();
      const key = st ? JSON.stringify(st) : null;
      if (key === this.last) continue;
      try {
        if (st) await this.store.put({ ...st, doc: this.doc, name: this.name, updated: this.now() });
        else await this.store.remove(this.collab.clientId);
        this.last = key;
      } catch (e) {
        // Not kept (storage full, private mode): the edits are still in
        // the page, and its beforeunload warning still says so.
        console.warn('collab: keeping unsent edits in the browser:', e);
      }
    }
  }
}

/**
 * The records of doc left by pages that are gone, oldest first: not own
 * (this page's client id), and not held by a live page.
 */
export async function orphans(store, doc, own, locks, now = Date.now()) {
  if (!store) return [];
  let recs;
  try {
    recs = await store.forDoc(doc);
  } catch (e) {
    console.warn('collab: reading unsent edits kept in the browser:', e);
    return [];
  }
  return recs
    .filter((r) => r.client !== own && (r.inflight || r.buffer) && (locks.exclusive || now - r.updated > ABANDONED))
    .sort((a, b) => a.updated - b.updated);
}

/**
 * Delivers the records of doc that pages which are gone left (see the top
 * of the file), each on a connection of its own, one at a time. open(record,
 * handlers) makes a Collab restored from the record with those handlers
 * added (not connected yet). onState({delivering, delivered, failed}) is
 * called as it goes; failed are records that cannot be delivered (the
 * document is gone, or they no longer fit it), which are deleted.
 * Resolves when every record found was tried, with the state and skipped,
 * the number of records a live page held (a page being replaced by a
 * reload may still hold its own for a moment: ask again later).
 */
export async function deliverOrphans({ store, doc, own, locks, open, onState = () => {}, now = Date.now }) {
  const state = { delivering: 0, delivered: 0, failed: 0 };
  let skipped = 0;
  for (const rec of await orphans(store, doc, own, locks, now())) {
    const result = await locks.tryWith(lockName(rec.client), () => deliverOne(store, doc, rec, open, () => {
      state.delivering = 1;
      onState({ ...state });
    }));
    state.delivering = 0;
    if (result === 'delivered') state.delivered++;
    if (result === 'failed') state.failed++;
    if (result) onState({ ...state });
    else skipped++;
  }
  return { ...state, skipped };
}

// Delivers one record while its lock is held: resolves 'delivered' or
// 'failed', or never while the server stays unreachable (the Collab keeps
// trying, and the record stays).
function deliverOne(store, doc, rec, open, started) {
  return new Promise((resolve) => {
    const writer = new PendingWriter(store, doc, null, { stored: true, name: rec.name });
    let done = false;
    const finish = (result) => {
      if (done) return;
      done = true;
      c.stop();
      // Delivered: the writer deletes the record (nothing is unsent).
      // Failed: delete it by hand.
      const gone = result === 'delivered' ? writer.update() : store.remove(rec.client).catch(() => {});
      gone.then(() => resolve(result));
    };
    const c = open(rec, {
      onPending: () => writer.update(),
      onSynced: () => finish('delivered'),
      onResync: (_text, lost) => {
        if (lost) finish('failed');
      },
      onStatus: (s) => {
        if (s === 'closed') finish('failed');
      },
    });
    writer.collab = c;
    started();
    c.connect();
  });
}
