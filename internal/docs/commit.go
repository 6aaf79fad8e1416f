package docs

import (
	"sync"
	"time"

	"github.com/collab-editor/collab/internal/rope"
	bolt "go.etcd.io/bbolt"
)

// A write is one piece of a group commit: fn runs inside the shared
// transaction and must check everything before it writes, so that its
// failure leaves nothing behind; err is its result, or the commit's.
type write struct {
	fn   func(tx *bolt.Tx) error
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
}

// committer is the group commit: one goroutine takes every write queued
// while the previous transaction was committing and commits them together
// in one bbolt transaction (one fsync), then reports each result in queue
// order. Unlike bbolt's Batch it never waits for a batch to fill: a lone
// write commits at once, and under load batches grow by themselves. With
// an interval set, a commit of fewer than gatherBelow writes starts no
// sooner than interval after the previous one started, so that a steady
// trickle of writes (each alone in its commit otherwise) shares fsyncs
// too; the wait is at most interval, and only when the previous commit
// was that recent.
type committer struct {
	db       *bolt.DB
	maxBatch int
	interval time.Duration // least time between the starts of two commits
	observe  func(batch int, took time.Duration)

	mu     sync.Mutex // guards queue and closed
	queue  []*write
	closed bool
	wake   chan struct{} // cap 1: there is work
	notify chan []*write // committed batches, to the notifier
	wg     sync.WaitGroup
}

// gatherBelow: with an interval set, a commit waits for more writes only
// while fewer than this many are queued; from there on the fsync is shared
// well enough, and waiting would only add latency.
const gatherBelow = 8

func newCommitter(db *bolt.DB, maxBatch int, interval time.Duration, observe func(int, time.Duration)) *committer {
	c := &committer{
		db:       db,
		maxBatch: maxBatch,
		interval: interval,
		observe:  observe,
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
	// The commit goroutine waits for a first write, and while it gathers,
	// for gatherBelow of them.
	if n == 1 || n == gatherBelow {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// do queues fn and waits for its commit.
func (c *committer) do(fn func(tx *bolt.Tx) error) error {
	w := &write{fn: fn}
	c.enqueue(w)
	<-w.done
	return w.err
}

func (c *committer) run() {
	defer c.wg.Done()
	defer close(c.notify)
	var last time.Time // when the previous commit started
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
		if wait := c.interval - time.Since(last); wait > 0 && len(c.queue) < gatherBelow && !c.closed {
			// Commits are coming close together with few writes each: let
			// this one gather what arrives until interval after the
			// previous one, or until gatherBelow writes wait, so that
			// moderate load pays for fewer fsyncs. A write after a quiet
			// spell, or a queue that already shares its fsync well,
			// commits at once.
			c.gather(wait)
		}
		n := min(len(c.queue), c.maxBatch)
		batch := c.queue[:n:n]
		c.queue = c.queue[n:]
		if len(c.queue) == 0 {
			c.queue = nil
		}
		c.mu.Unlock()

		start := time.Now()
		last = start
		err := c.db.Update(func(tx *bolt.Tx) error {
			for _, w := range batch {
				w.err = w.fn(tx)
			}
			return nil
		})
		if c.observe != nil {
			c.observe(len(batch), time.Since(start))
		}
		for _, w := range batch {
			if err != nil {
				w.err = err
			}
			if w.durable != nil {
				w.durable(w.err)
			}
			close(w.done)
		}
		c.notify <- batch
	}
}

// gather waits, with mu held (and released while it waits), until
// gatherBelow writes are queued, the committer closes, or wait is over.
func (c *committer) gather(wait time.Duration) {
	t := time.NewTimer(wait)
	defer t.Stop()
	for len(c.queue) < gatherBelow && !c.closed {
		c.mu.Unlock()
		select {
		case <-c.wake:
		case <-t.C:
			c.mu.Lock()
			return
		}
		c.mu.Lock()
	}
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
			delete(docs, d)
		}
		order = order[:0]
	}
	for batch := range c.notify {
		for _, w := range batch {
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
