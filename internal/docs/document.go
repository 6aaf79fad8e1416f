package docs

import (
	"errors"
	"fmt"
	"sync"

	"github.com/collab-editor/collab/internal/ot"
	"github.com/collab-editor/collab/internal/rope"
)

// Edit is an operation a client made against revision Base.
type Edit struct {
	Base   uint64
	Op     ot.Operation
	Author string
	// OpID names the edit for exactly-once delivery: a client id and a
	// sequence number, for example "c7f3…:42". Empty disables the check.
	OpID string
}

// Result says what became of an Edit.
type Result struct {
	Rev       uint64       // the revision the edit became
	Op        ot.Operation // the edit as applied at Rev (transformed)
	Duplicate bool         // the op id was applied before, at Rev; nothing was applied now
	Depth     int          // how many newer revisions the edit was transformed over
}

// Event is what a document tells its subscribers, in commit order.
// Exactly one field is set.
type Event struct {
	Revisions []Revision // durable edits, consecutive, oldest first
	Text      rope.Rope  // with Revisions: the text after the last of them
	Meta      *Meta      // new metadata (rename, language)
	Closed    error      // the document was deleted, reset or shut down: no more events
}

// JoinState is a consistent view for a new subscriber: every event after it
// is delivered to the subscriber, none before.
type JoinState struct {
	Meta Meta
	Rev  uint64
	Text rope.Rope // the text at Rev; empty when Missed is set
	// Missed holds the revisions after the requested one, when the
	// subscriber asked to resume and the document still keeps them in
	// memory; Text is then not filled in.
	Missed  []Revision
	Resumed bool
}

// Document is a live document: its text, its head revision and its recent
// history. Get one from Manager.Open and give it back with Release.
//
// Concurrency: one mutex per document, mu, serialises edits. Submit holds
// it while it transforms and applies an edit and queues the write, never
// while the write commits: edits keep being transformed while earlier ones
// are on their way to disk, and a slow commit of one document never holds
// another document's lock. Subscribers are called without the lock, from
// the committer's delivery goroutine, in revision order.
type Document struct {
	id string
	m  *Manager

	mu     sync.Mutex // guards the fields below
	meta   Meta
	text   rope.Rope             // text at head, including edits not yet durable
	head   uint64                // newest revision, durable or not
	hist   []Revision            // the newest revisions, consecutive, ending at head
	opids  map[string]uint64     // op ids other than <client>:<seq> in hist
	marks  map[string]clientMark // newest op of each client seen since loading
	durRev uint64                // newest durable revision
	durTxt rope.Rope             // text at durRev
	subs   map[int]subscriber
	nextID int
	writes map[uint64]*write // revisions on their way to disk
	err    error             // set when the document is closed; every call fails with it
	// snapRev, snapLog and snapSize follow the head record's snapshot
	// bookkeeping (the last snapshot's revision, log bytes since, the
	// text's bytes at it), so that a snapshot is encoded before its commit
	// (see Manager.appendWrite).
	snapRev, snapLog, snapSize uint64
}

func (d *Document) ID() string { return d.id }

// histStart is the revision of hist[0] (head+1 when hist is empty).
func (d *Document) histStart() uint64 { return d.head + 1 - uint64(len(d.hist)) }

// Submit transforms e over every revision newer than e.Base, applies it as
// revision head+1, and returns once that revision is durable. A resent op
// id returns its original revision and applies nothing. Errors: a base in
// the future (ErrFutureRevision), an operation that does not fit
// (ErrBadOperation), a document that would exceed the cap (ErrTooLarge);
// in each case the document is unchanged.
func (d *Document) Submit(e Edit) (Result, error) { return d.submit(e, false) }

// submitIf is Submit that fails with ErrConflict unless e.Base is the head.
func (d *Document) submitIf(e Edit) (Result, error) { return d.submit(e, true) }

func (d *Document) submit(e Edit, strict bool) (Result, error) {
	if err := e.Op.Validate(); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrBadOperation, err)
	}
	d.mu.Lock()
	if d.err != nil {
		d.mu.Unlock()
		return Result{}, d.err
	}
	if e.OpID != "" {
		rev, dup, err := d.applied(e.OpID)
		if err != nil {
			d.mu.Unlock()
			return Result{}, err
		}
		if dup {
			d.mu.Unlock()
			return d.duplicate(rev)
		}
	}
	if strict && e.Base != d.head {
		d.mu.Unlock()
		return Result{}, fmt.Errorf("%w: document is at revision %d, not %d", ErrConflict, d.head, e.Base)
	}
	if e.Base > d.head {
		d.mu.Unlock()
		return Result{}, fmt.Errorf("%w: base %d, head %d", ErrFutureRevision, e.Base, d.head)
	}
	op := e.Op
	depth := int(d.head - e.Base)
	if depth > 0 {
		var err error
		if op, err = d.transform(op, e.Base); err != nil {
			d.mu.Unlock()
			return Result{}, err
		}
	}
	if op.BaseLen() != d.text.Len() {
		d.mu.Unlock()
		return Result{}, fmt.Errorf("%w: the operation expects %d code points, the text at revision %d has %d", ErrBadOperation, e.Op.BaseLen(), e.Base, e.Op.BaseLen()-op.BaseLen()+d.text.Len())
	}
	text, err := op.ApplyRope(d.text)
	if err != nil {
		d.mu.Unlock()
		return Result{}, fmt.Errorf("%w: %w", ErrBadOperation, err)
	}
	if n := text.ByteLen(); n > d.m.cfg.MaxBytes && n > d.text.ByteLen() {
		d.mu.Unlock()
		return Result{}, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, n, d.m.cfg.MaxBytes)
	}
	r := Revision{Rev: d.head + 1, Op: op, Author: e.Author, OpID: e.OpID, Time: d.m.cfg.Now().UTC()}
	d.text, d.head = text, r.Rev
	d.hist = append(d.hist, r)
	if client, seq, ok := parseOpID(r.OpID); ok {
		d.marks[client] = clientMark{seq: seq, rev: r.Rev}
	} else if r.OpID != "" {
		d.opids[r.OpID] = r.Rev
	}
	w := d.m.appendWrite(d, r, text)
	d.writes[r.Rev] = w
	d.mu.Unlock()

	<-w.done
	if w.err != nil {
		return Result{}, w.err
	}
	return Result{Rev: r.Rev, Op: op, Depth: depth}, nil
}

// applied reports whether op id was applied before, and at which revision
// (see opid.go); for a keyed op id, it fails with ErrKeyReused when the key
// was applied to another request. Called with mu held.
func (d *Document) applied(opID string) (uint64, bool, error) {
	if _, _, keyed := splitKeyed(opID); keyed {
		return d.appliedKey(opID)
	}
	client, seq, ok := parseOpID(opID)
	if !ok {
		if rev, ok := d.opids[opID]; ok {
			return rev, true, nil
		}
		return d.m.store.LookupOpID(d.id, opID)
	}
	m, known := d.marks[client]
	if !known {
		var err error
		if m, known, err = d.m.store.clientMark(d.id, client); err != nil {
			return 0, false, err
		}
		if known {
			d.marks[client] = m
		}
	}
	switch {
	case !known || seq > m.seq:
		return 0, false, nil
	case seq == m.seq:
		return m.rev, true, nil
	}
	return 0, false, fmt.Errorf("%w: op %s is older than this client's newest applied op (%d); resync", ErrStaleOp, opID, m.seq)
}

// transform brings op from revision base to head. Called with mu held.
func (d *Document) transform(op ot.Operation, base uint64) (ot.Operation, error) {
	start := d.histStart()
	if base+1 < start {
		// Older than what is kept in memory: read the gap from disk.
		// Everything before histStart is durable.
		older, err := d.m.store.Revisions(d.id, base, int(start-1-base))
		if err != nil {
			return op, err
		}
		if len(older) != int(start-1-base) {
			return op, fmt.Errorf("docs: history of %q has a gap before %d", d.id, start)
		}
		for _, r := range older {
			if op, err = transformOver(op, r); err != nil {
				return op, err
			}
		}
		base = start - 1
	}
	for _, r := range d.hist[base+1-start:] {
		var err error
		if op, err = transformOver(op, r); err != nil {
			return op, err
		}
	}
	return op, nil
}

func transformOver(op ot.Operation, r Revision) (ot.Operation, error) {
	op, _, err := ot.Transform(op, r.Op)
	if err != nil {
		return op, fmt.Errorf("%w: against revision %d: %w", ErrBadOperation, r.Rev, err)
	}
	return op, nil
}

// duplicate answers a resent op id with its revision, once durable.
func (d *Document) duplicate(rev uint64) (Result, error) {
	d.mu.Lock()
	if w := d.writes[rev]; w != nil {
		// Still on its way to disk: wait for the commit that holds it.
		d.mu.Unlock()
		<-w.done
		if w.err != nil {
			return Result{}, w.err
		}
		d.mu.Lock()
	}
	err := d.err
	var op ot.Operation
	if i := int(rev) - int(d.histStart()); i >= 0 && i < len(d.hist) {
		op = d.hist[i].Op
	}
	d.mu.Unlock()
	if err != nil {
		return Result{}, err
	}
	return Result{Rev: rev, Op: op, Duplicate: true}, nil
}

// durable runs, in revision order, as soon as revision r is durable (err
// nil) or failed to commit. It only updates bookkeeping; publish tells the
// subscribers.
func (d *Document) durable(r Revision, text rope.Rope, err error) {
	d.mu.Lock()
	if d.err != nil {
		d.mu.Unlock()
		return
	}
	if err != nil {
		d.mu.Unlock()
		d.m.drop(d)
		d.close(fmt.Errorf("%w: commit of revision %d failed: %w", ErrClosed, r.Rev, err))
		return
	}
	d.durRev, d.durTxt = r.Rev, text
	delete(d.writes, r.Rev)
	d.trim()
	d.mu.Unlock()
}

// publish tells the subscribers of durable revisions revs (consecutive,
// in order, text after the last), each only of those after the revision
// it joined at.
func (d *Document) publish(revs []Revision, text rope.Rope) {
	type target struct {
		fn   func(Event)
		from uint64
	}
	d.mu.Lock()
	subs := make([]target, 0, len(d.subs))
	for _, s := range d.subs {
		subs = append(subs, target(s))
	}
	d.mu.Unlock()
	last := revs[len(revs)-1].Rev
	for _, s := range subs {
		switch {
		case s.from >= last:
		case s.from < revs[0].Rev:
			s.fn(Event{Revisions: revs, Text: text})
		default:
			s.fn(Event{Revisions: revs[s.from+1-revs[0].Rev:], Text: text})
		}
	}
}

// Revisions returns the durable revisions after from up to and including
// to, from memory; ok is false when they are no longer kept there.
func (d *Document) Revisions(from, to uint64) (revs []Revision, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	start := d.histStart()
	if from+1 < start || to > d.durRev || from > to {
		return nil, false
	}
	return append([]Revision(nil), d.hist[from+1-start:to+1-start]...), true
}

// trim drops durable revisions beyond the history window. Called with mu held.
func (d *Document) trim() {
	window := d.m.cfg.Window
	if len(d.hist) < 2*window {
		return
	}
	cut := len(d.hist) - window
	for cut > 0 && d.hist[cut-1].Rev > d.durRev {
		cut--
	}
	for _, r := range d.hist[:cut] {
		if r.OpID != "" {
			delete(d.opids, r.OpID)
		}
	}
	d.hist = append([]Revision(nil), d.hist[cut:]...)
}

// subscriber is a Join callback and the revision it joined at: it hears
// only of later revisions.
type subscriber struct {
	fn   func(Event)
	from uint64
}

func (d *Document) subscribers() []func(Event) {
	subs := make([]func(Event), 0, len(d.subs))
	for _, s := range d.subs {
		subs = append(subs, s.fn)
	}
	return subs
}

// Join subscribes fn to the document's events and returns the state they
// start from. With resume set, a subscriber that knows revision from gets
// only the revisions after it (Missed), when the document keeps them in
// memory; otherwise it gets the whole text. fn is called in order from one
// goroutine and must not block. Call cancel to unsubscribe.
func (d *Document) Join(fn func(Event), resume bool, from uint64) (JoinState, func(), error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return JoinState{}, nil, d.err
	}
	st := JoinState{Meta: d.meta, Rev: d.durRev}
	st.Meta.Rev = d.durRev
	start := d.histStart()
	if resume && from <= d.durRev && from+1 < start && int(start-1-from) <= d.m.cfg.MaxResume {
		// Older than memory: read the gap from disk (all durable).
		older, err := d.m.store.Revisions(d.id, from, int(start-1-from))
		if err == nil && len(older) == int(start-1-from) {
			st.Missed, from = older, start-1
		}
	}
	if resume && from <= d.durRev && from+1 >= start {
		st.Resumed = true
		for _, r := range d.hist[from+1-start:] {
			if r.Rev > d.durRev {
				break
			}
			st.Missed = append(st.Missed, r)
		}
	} else {
		st.Missed = nil
		st.Text = d.durTxt
	}
	id := d.nextID
	d.nextID++
	d.subs[id] = subscriber{fn: fn, from: d.durRev}
	return st, func() {
		d.mu.Lock()
		delete(d.subs, id)
		d.mu.Unlock()
	}, nil
}

// Text returns the durable text, its revision and the metadata.
func (d *Document) Text() (rope.Rope, uint64, Meta) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.meta
	m.Rev = d.durRev
	return d.durTxt, d.durRev, m
}

// Subscribers is the number of subscribers.
func (d *Document) Subscribers() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.subs)
}

// idle reports whether nothing is on its way to disk and no one listens.
func (d *Document) idle() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.durRev == d.head && len(d.subs) == 0
}

// setMeta records new metadata and tells subscribers.
func (d *Document) setMeta(m Meta) {
	d.mu.Lock()
	if d.err != nil {
		d.mu.Unlock()
		return
	}
	d.meta = m
	subs := d.subscribers()
	m.Rev = d.durRev
	d.mu.Unlock()
	for _, fn := range subs {
		fn(Event{Meta: &m})
	}
}

// close ends the document: later calls fail with err, and subscribers get
// a Closed event.
func (d *Document) close(err error) {
	d.mu.Lock()
	if d.err != nil {
		d.mu.Unlock()
		return
	}
	d.err = err
	subs := d.subscribers()
	d.subs = nil
	d.mu.Unlock()
	for _, fn := range subs {
		fn(Event{Closed: err})
	}
}

// Release gives back a document got from Manager.Open.
func (d *Document) Release() { d.m.release(d) }

var errDeleted = errors.New("document deleted")

// ErrDeleted is the Closed error of a deleted document.
var ErrDeleted = fmt.Errorf("%w: %w", ErrClosed, errDeleted)
