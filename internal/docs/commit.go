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
	// pos, in cluster mode, is the Log position of the run holding rev,
	// once the Log stored it; node, for a remote revision, the node that
	// wrote it.
	pos  uint64
	node string
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

	// revs makes each batch durable: the revision log beside bbolt
	// (walLog), or in cluster mode the cluster's Log (clusterLog).
	revs revisionLog
	// toMeta, in cluster mode, takes the writes to replicate (see
	// Manager.metaCommitter).
	toMeta func(*write)

	mu     sync.Mutex // guards queue and closed
	queue  []*write
	closed bool
	wake   chan struct{} // cap 1: there is work
	notify chan []*write // committed batches, to the notifier
	wg     sync.WaitGroup
}

// A revisionLog makes the group commit's batches durable: the seam
// between the serial edit path and where its revisions are kept. walLog
// (wal.go) is the local mode's, clusterLog (follow.go) cluster mode's. Its
// commit runs on the commit goroutine, one batch at a time, and returns
// the batch in the order its subscribers are to hear of it, each write's
// own error in its err, or the failure of the whole batch.
type revisionLog interface {
	commit(c *committer, batch []*write) ([]*write, error)
}

// newCommitter starts the group commit, its batches made durable by revs;
// toMeta, if set, takes the writes that are not revisions (cluster mode).
func newCommitter(st *Store, maxBatch int, observe func(int, time.Duration), revs revisionLog, toMeta func(*write)) *committer {
	c := &committer{
		store:    st,
		maxBatch: maxBatch,
		observe:  observe,
		revs:     revs,
		toMeta:   toMeta,
		wake:     make(chan struct{}, 1),
		notify:   make(chan []*write, 64),
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
		batch, err := c.revs.commit(c, batch)
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
	return err
}

// notSaved is the error of a write that is not a revision, which saves
// what, in a commit that failed with err: when the disk (in a cluster, the
// Log) refused it, an ErrStorage that says what was not saved and what
// refused it, and wraps the refusal's error.
func notSaved(what string, err error) error {
	var r *refusal
	if !errors.As(err, &r) {
		return err
	}
	if what == "" {
		what = "the change"
	}
	refuser := "the database file refuses writes"
	if r.what == theLog {
		refuser = "the cluster's log does not take it"
	}
	return &refusal{what: what + " could not be saved: " + refuser, err: r.err}
}

// theLog is what a refusal of the cluster's Log names (see refusal).
const theLog = "the cluster's log"

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
