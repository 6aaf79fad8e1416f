package docs

import (
	"errors"
	"sync"
	"time"

	"github.com/collab-editor/collab/internal/kv"
	"github.com/collab-editor/collab/internal/rope"
)

// A write is one piece of a group commit: fn runs inside the shared
// transaction and must check everything before it writes, so that its
// failure leaves nothing behind; err is its result, or the commit's.
type write struct {
	fn   func(tx *kv.Tx) error
	err  error
	done chan struct{} // closed once err is final
	// durable, if set, is called by the commit goroutine as soon as the
	// commit is over, before done is closed: quick bookkeeping only.
	durable func(error)
	// then, if set, is called after the commit, in queue order, from the
	// delivery goroutine: fan-out.
	then func(error)
	// doc and rev are set for a revision of a live document: delivery
	// tells its subscribers of consecutive revisions of one batch at once.
	doc  *Document
	rev  Revision
	text rope.Rope // the document's text after rev
	prep prepared  // rev encoded, for the revision log
	// what names what a write that is not a revision saves ("the chat
	// message"), for its error should the disk refuse it (see notSaved).
	what string
	// drops names a document whose log fn deletes; foreign is set for a
	// write that may change any log (the tests' writes behind a document's
	// back: see Manager.Write for the other packages' own writes). The revision log takes a document's
	// revisions only while it knows the log's head (see committer.heads).
	drops   string
	foreign bool
	// For a revision of a live document: the document's snapshot
	// bookkeeping before it, and, once an earlier revision of the
	// document was refused by the disk, the error this one fails with
	// (see Manager.refused; guarded by the document's mu).
	snapBefore [3]uint64
	abandoned  error
	// In cluster mode (see cluster): remote is set for a revision read
	// from the Log, which the commit goroutine applies to its document
	// (skip, if the document had it); local for a write of the node's
	// own (presence, line counts), which is not replicated.
	remote, skip, local bool
}

// committer is the group commit, in the leader/follower shape: one
// goroutine takes every write queued while the previous transaction was
// committing and commits them together (one fsync), then reports each
// result in queue order. It never waits on a timer: a write that finds the
// disk idle is written and synced at once, writes that arrive while a sync
// is in flight form the next batch, which goes as soon as that sync
// returns, so batches grow with load by themselves. (bbolt's Batch, by
// contrast, waits up to a delay for a batch to fill.)
type committer struct {
	store    *Store
	maxBatch int
	observe  func(batch int, took time.Duration)

	// The revision log (see wal.go), if log is set: a batch of revisions
	// only is made durable there; anything else commits to bbolt. The
	// Manager checkpoints it.
	log    *walFile
	logMax int64             // the file starts over once records pass this offset
	heads  map[string]uint64 // each document's log head, as last committed; commit goroutine only
	// logBroken is set when a write to the log failed: the file's state is
	// then unknown, and the log is used again only from its next
	// generation, which starts once everything is in bbolt. Commit
	// goroutine only.
	logBroken bool
	// cluster, in cluster mode, is where revisions go instead of the
	// revision log, and toMeta takes the writes to replicate (see
	// Manager.metaCommitter).
	cluster Log
	toMeta  func(*write)

	mu     sync.Mutex // guards queue and closed
	queue  []*write
	closed bool
	wake   chan struct{} // cap 1: there is work
	notify chan []*write // committed batches, to the notifier
	wg     sync.WaitGroup
}

// newCommitter starts the group commit. With useLog, batches of revisions
// go to the store's revision log, which starts over past logMax bytes.
func newCommitter(st *Store, maxBatch int, observe func(int, time.Duration), useLog bool, logMax int64) *committer {
	c := &committer{
		store:    st,
		maxBatch: maxBatch,
		observe:  observe,
		logMax:   logMax,
		heads:    map[string]uint64{},
		wake:     make(chan struct{}, 1),
		notify:   make(chan []*write, 64),
	}
	if useLog {
		c.log = st.wal
	}
	c.wg.Add(2)
	go c.run()
	go c.deliver()
	return c
}

// enqueue adds w to the next transaction. It never blocks, so callers may
// hold a document's lock: the order of enqueue calls is the order of
// commits and of the then callbacks.
func (c *committer) enqueue(w *write) {
	w.done = make(chan struct{})
	if c.toMeta != nil && w.doc == nil && !w.local {
		c.toMeta(w)
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		w.err = ErrClosed
		// Not on this goroutine: the caller may hold the document's lock,
		// which durable takes.
		go func() {
			if w.durable != nil {
				w.durable(ErrClosed)
			}
			close(w.done)
			if w.then != nil {
				w.then(ErrClosed)
			}
		}()
		return
	}
	c.queue = append(c.queue, w)
	n := len(c.queue)
	c.mu.Unlock()
	// The commit goroutine waits only for a first write.
	if n == 1 {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// do queues fn, which saves what (see write.what), and waits for its
// commit.
func (c *committer) do(what string, fn func(tx *kv.Tx) error) error {
	return c.wait(&write{fn: fn, what: what})
}

// doLocal is do for a write of this node's own, which a cluster does not
// replicate (see cluster).
func (c *committer) doLocal(what string, fn func(tx *kv.Tx) error) error {
	return c.wait(&write{fn: fn, what: what, local: true})
}

// wait queues w and waits for its commit.
func (c *committer) wait(w *write) error {
	c.enqueue(w)
	<-w.done
	return w.err
}

func (c *committer) run() {
	defer c.wg.Done()
	defer close(c.notify)
	for {
		c.mu.Lock()
		for len(c.queue) == 0 {
			if c.closed {
				c.mu.Unlock()
				return
			}
			c.mu.Unlock()
			<-c.wake
			c.mu.Lock()
		}
		n := min(len(c.queue), c.maxBatch)
		batch := c.queue[:n:n]
		c.queue = c.queue[n:]
		if len(c.queue) == 0 {
			c.queue = nil
		}
		c.mu.Unlock()

		start := time.Now()
		var err error
		if c.cluster != nil {
			batch = c.clusterBatch(batch)
		} else if rec := c.logRecord(batch); rec != nil {
			err = c.logBatch(batch, rec)
		} else {
			err = c.commitBatch(batch)
		}
		took := time.Since(start)
		if c.observe != nil {
			c.observe(len(batch), took)
		}
		for _, w := range batch {
			if err != nil {
				w.err = err
				if w.doc == nil {
					w.err = notSaved(w.what, err)
				}
			}
			if w.durable != nil {
				w.durable(w.err)
			}
			close(w.done)
		}
		c.notify <- batch
	}
}

// logRecord returns the revision log record of batch, or nil if the
// batch must commit to bbolt: it holds something other than revisions, a
// revision of a document whose head the committer does not know (the
// first since start, or since a write that may have changed its log), or
// is too big for the log.
func (c *committer) logRecord(batch []*write) []byte {
	if c.log == nil {
		return nil
	}
	next := make(map[string]uint64, len(batch))
	size := 0
	for _, w := range batch {
		if w.doc == nil {
			return nil
		}
		id := w.doc.id
		head, ok := next[id]
		if !ok {
			if head, ok = c.heads[id]; !ok {
				return nil
			}
		}
		if w.rev.Rev != head+1 {
			return nil
		}
		next[id] = w.rev.Rev
		size += len(id) + len(w.prep.rec) + 24
	}
	if int64(size) > c.logMax/4 {
		return nil
	}
	rec := newWALRecord(len(batch), size)
	for _, w := range batch {
		rec = appendWALEntry(rec, w.doc.id, w.rev.Rev, w.prep.rec)
	}
	return rec
}

// logBatch makes a batch of revisions durable in the revision log. Should
// the log fail, the batch goes to bbolt, and so does every later one until
// the log starts its next generation, which needs everything in it
// checkpointed first: the first batch after a checkpoint tries. Past
// logMax the log starts over the same way; while bbolt refuses the
// checkpoint, records go on past logMax, and the file grows.
func (c *committer) logBatch(batch []*write, rec []byte) error {
	if c.logBroken || c.log.off+int64(len(rec)) > c.logMax {
		// While a checkpoint has failed, its retry is the Manager's, not
		// one per batch.
		if !c.store.health.isFailing(partDB) || !c.store.hasPending() {
			if c.store.restartLog(c.log) == nil {
				c.logBroken = false
			}
		}
		if c.logBroken {
			return c.commitBatch(batch)
		}
	}
	if err := c.log.append(rec); err != nil {
		// After a failed write or fsync the file's state is unknown:
		// nothing more goes after this record. Replaying it, should it
		// have reached the disk, is harmless.
		c.logBroken = true
		c.store.health.failed(partLog, "append to the revision log", err)
		return c.commitBatch(batch)
	}
	c.store.health.ok(partLog)
	for _, w := range batch {
		c.heads[w.doc.id] = w.rev.Rev
	}
	c.store.addPending(batch)
	return nil
}

// commitBatch commits a batch in one bbolt transaction, after the
// revisions pending in the log. While bbolt refuses writes and revisions
// are pending, it fails at once: the Manager's checkpoints retry them,
// and this batch could only commit after them.
func (c *committer) commitBatch(batch []*write) error {
	if c.store.health.isFailing(partDB) && c.store.hasPending() {
		return c.store.health.refusal(partDB)
	}
	err := c.store.withPending(func(tx *kv.Tx) error {
		for _, w := range batch {
			w.err = w.fn(tx)
		}
		return nil
	})
	if err != nil {
		// Nothing committed: the heads stand.
		return err
	}
	for _, w := range batch {
		switch {
		case w.doc != nil && w.err == nil:
			c.heads[w.doc.id] = w.rev.Rev
		case w.doc != nil:
			delete(c.heads, w.doc.id)
		case w.foreign:
			clear(c.heads)
		case w.drops != "":
			delete(c.heads, w.drops)
		}
	}
	return nil
}

// notSaved is the error of a write that is not a revision, which saves
// what, in a commit that failed with err: when the disk refused it, an
// ErrStorage that says what was not saved, and wraps the disk's error.
func notSaved(what string, err error) error {
	var r *refusal
	if !errors.As(err, &r) {
		return err
	}
	if what == "" {
		what = "the change"
	}
	return &refusal{what: what + " could not be saved: the database file refuses writes", err: r.err}
}

// deliver calls the then callbacks in commit order, off the commit
// goroutine, so fan-out of one batch overlaps the next fsync. The durable
// revisions of one document in one batch are published together, so each
// subscriber can send them in one frame.
func (c *committer) deliver() {
	defer c.wg.Done()
	// published is what one document gets of a batch: its revisions and
	// its text after the last of them.
	type published struct {
		revs []Revision
		text rope.Rope
	}
	var (
		order []*Document
		docs  = map[*Document]*published{}
	)
	flush := func() {
		for _, d := range order {
			p := docs[d]
			d.publish(p.revs, p.text)
			d.m.watchRevisions(d.id, p.revs[len(p.revs)-1].Rev)
			delete(docs, d)
		}
		order = order[:0]
	}
	for batch := range c.notify {
		for _, w := range batch {
			if w.skip {
				continue // a revision from the cluster this node had
			}
			if w.doc != nil && w.err == nil {
				p := docs[w.doc]
				if p == nil {
					p = &published{}
					docs[w.doc] = p
					order = append(order, w.doc)
				}
				p.revs = append(p.revs, w.rev)
				p.text = w.text
				continue
			}
			flush() // keep other events in order with revisions
			if w.then != nil {
				w.then(w.err)
			}
		}
		flush()
	}
}

// close commits what is queued, delivers it, and stops.
func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	c.wg.Wait()
}
