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
	Text rope.Rope // the text at Rev
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
	durPos uint64                // in cluster mode, the Log position of durRev's run (0: not known)
	writer string                // in cluster mode, the node that wrote durRev, if another ("": this one, or not known)
	subs   map[int]subscriber
	nextID int
	writes map[uint64]*write // revisions on their way to disk
	err    error             // set when the document is closed; every call fails with it
	// halted is set while the document is being deleted or purged (see
	// Manager.withoutEdits): edits are refused.
	halted int
	// snapRev, snapLog and snapSize follow the head record's snapshot
	// bookkeeping (the last snapshot's revision, log bytes since, the
	// text's bytes at it), so that a snapshot is encoded before its commit
	// (see Manager.appendWrite).
	snapRev, snapLog, snapSize uint64
	// advanced, in cluster mode, is closed (and replaced) whenever
	// revisions of another node are applied (see Manager.catchUpTo);
	// catching is closed when the catch-up under way ends, catchBegun and
	// catchDone count those begun and ended (catchUp).
	advanced              chan struct{}
	catching              chan struct{}
	catchBegun, catchDone uint64
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
func (d *Document) Submit(e Edit) (Result, error) { return d.submit(e, submitAny) }

// submitIf is Submit that fails with ErrConflict unless e.Base is the head.
func (d *Document) submitIf(e Edit) (Result, error) { return d.submit(e, submitStrict) }

// How submit may go about an edit: any way (transformed, and in a
// cluster handed to another node if need be), strictly at the head, or
// here, on this node, for another that handed it over.
type submitMode int

const (
	submitAny submitMode = iota
	submitStrict
	submitHere
)

// forwardAfter is how many races for its document an edit loses to
// another node before it is handed to that node (see Config.Forward);
// maxForwards bounds the hand-overs one Submit tries (a node that does not
// answer costs a timeout each).
const (
	forwardAfter = 3
	maxForwards  = 2
)

func (d *Document) submit(e Edit, mode submitMode) (Result, error) {
	strict := mode == submitStrict
	if err := e.Op.Validate(); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrBadOperation, err)
	}
	// What the edit needs from disk is read without mu: the committer
	// takes mu to publish every document's revisions, so a disk read
	// under it would hold up everyone. A lookup that misses memory sets
	// rd.need and gives up; the read fills rd, and the edit starts over.
	var rd diskReads
	forwards := 0
	for tries := 0; ; {
		d.mu.Lock()
		r, w, dup, err := d.apply(e, strict, &rd)
		if read := rd.need; read != nil {
			rd.need = nil
			d.mu.Unlock()
			if testHookRead != nil {
				testHookRead()
			}
			if err := read(); err != nil {
				return Result{}, err
			}
			continue
		}
		d.mu.Unlock()
		switch {
		case err != nil:
			return Result{}, err
		case dup:
			res, err := d.duplicate(r.Rev, e.OpID)
			if (errors.Is(err, errNotThere) || errors.Is(err, ErrConflict) && d.m.cl != nil) && tries < catchUpTries {
				// A resend of an edit whose first copy, still on its way,
				// lost a race: that copy was rolled back, so this one is
				// the edit now (whichever is applied first, the other
				// finds it a duplicate). The first copy's error is not
				// this edit's fate.
				tries++
				rd = diskReads{}
				continue
			}
			return res, err
		}
		<-w.done
		if w.err != nil && errors.Is(w.err, ErrConflict) && d.m.cl != nil && tries < catchUpTries {
			// Another node wrote first: take what it wrote, and transform
			// the edit over it (or find it was this one, sent before).
			tries++
			if err := d.m.catchUpTo(d, w.err); err != nil {
				return Result{}, err
			}
			if tries >= forwardAfter && mode == submitAny && forwards < maxForwards {
				forwards++
				if res, settled, err := d.forward(e); settled {
					return res, err
				}
			}
			rd = diskReads{}
			continue
		}
		if w.err != nil {
			return Result{}, w.err
		}
		return Result{Rev: r.Rev, Op: r.Op, Depth: int(r.Rev - 1 - e.Base)}, nil
	}
}

// errNotThere is duplicate's finding that the revision an op id was found
// at no longer holds it (rolled back since).
var errNotThere = errors.New("docs: the op id's revision was rolled back")

// testHookRead, when set by a test, runs before each of submit's disk
// reads, without the lock.
var testHookRead func()

// diskReads is what one edit read from disk, without the document's lock,
// because memory no longer held it (see submit). need is the read to do
// next, set by a lookup under the lock that found neither.
type diskReads struct {
	need func() error

	mark      *clientMark // the edit's client's newest op, when markRead
	markRead  bool
	idRev     uint64 // the revision of a plain op id, when idFound
	idFound   bool
	idRead    bool
	key       Revision // the newest revision of a keyed op id's key, when keyFound
	keyFound  bool
	keyRead   bool
	older     []Revision // revisions after the edit's base, read from disk
	olderRead int        // how many times older was read
}

// apply transforms e to the head, applies it and queues its write; or
// reports a duplicate (its revision in r); or fails; or, with rd.need set,
// asks for a disk read first. Called with mu held.
func (d *Document) apply(e Edit, strict bool, rd *diskReads) (r Revision, w *write, dup bool, err error) {
	if d.err != nil {
		return r, nil, false, d.err
	}
	if d.halted > 0 {
		return r, nil, false, fmt.Errorf("%w: document %q is being deleted", ErrClosed, d.id)
	}
	if e.OpID != "" {
		rev, dup, err := d.applied(e.OpID, rd)
		if err != nil || rd.need != nil {
			return r, nil, false, err
		}
		if dup {
			return Revision{Rev: rev}, nil, true, nil
		}
	}
	if strict && e.Base != d.head {
		return r, nil, false, fmt.Errorf("%w: document is at revision %d, not %d", ErrConflict, d.head, e.Base)
	}
	if e.Base > d.head {
		return r, nil, false, fmt.Errorf("%w: base %d, head %d", ErrFutureRevision, e.Base, d.head)
	}
	op := e.Op
	if e.Base < d.head {
		if op, err = d.transform(op, e.Base, rd); err != nil || rd.need != nil {
			return r, nil, false, err
		}
	}
	if op.BaseLen() != d.text.Len() {
		return r, nil, false, fmt.Errorf("%w: the operation expects %d code points, the text at revision %d has %d", ErrBadOperation, e.Op.BaseLen(), e.Base, e.Op.BaseLen()-op.BaseLen()+d.text.Len())
	}
	text, err := op.ApplyRope(d.text)
	if err != nil {
		return r, nil, false, fmt.Errorf("%w: %w", ErrBadOperation, err)
	}
	if n := text.ByteLen(); n > d.m.cfg.MaxBytes && n > d.text.ByteLen() {
		return r, nil, false, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, n, d.m.cfg.MaxBytes)
	}
	r = Revision{Rev: d.head + 1, Op: op, Author: e.Author, OpID: e.OpID, Time: d.m.cfg.Now().UTC()}
	rec, at := encodeRecord(r)
	if err := d.m.fitsLog("the edit", len(rec)); err != nil {
		return Revision{}, nil, false, err
	}
	d.text, d.head = text, r.Rev
	d.hist = append(d.hist, r)
	if client, seq, ok := parseOpID(r.OpID); ok {
		d.marks[client] = clientMark{seq: seq, rev: r.Rev}
	} else if r.OpID != "" {
		d.opids[r.OpID] = r.Rev
	}
	w = d.m.appendWrite(d, r, text, rec, at)
	d.writes[r.Rev] = w
	return r, w, false, nil
}

// applied reports whether op id was applied before, and at which revision
// (see opid.go); for a keyed op id, it fails with ErrKeyReused when the key
// was applied to another request. What memory does not hold it takes from
// rd, or asks for (rd.need). Called with mu held.
func (d *Document) applied(opID string, rd *diskReads) (uint64, bool, error) {
	if _, _, keyed := splitKeyed(opID); keyed {
		return d.appliedKey(opID, rd)
	}
	client, seq, ok := parseOpID(opID)
	if !ok {
		if rev, ok := d.opids[opID]; ok {
			return rev, true, nil
		}
		if !rd.idRead {
			rd.need = func() (err error) {
				rd.idRev, rd.idFound, err = d.m.store.LookupOpID(d.id, opID)
				rd.idRead = true
				return err
			}
			return 0, false, nil
		}
		return rd.idRev, rd.idFound, nil
	}
	m, known := d.marks[client]
	if !known {
		// Read from disk, the mark still holds: any newer op of this
		// client applied meanwhile would be in marks.
		if !rd.markRead {
			rd.need = func() error {
				m, known, err := d.m.store.clientMark(d.id, client)
				if known {
					rd.mark = &m
				}
				rd.markRead = true
				return err
			}
			return 0, false, nil
		}
		if rd.mark != nil {
			m, known = *rd.mark, true
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

// lookup is applied for a caller without the lock, reading what it needs
// from disk without it.
func (d *Document) lookup(opID string) (uint64, bool, error) {
	var rd diskReads
	for {
		d.mu.Lock()
		rev, dup, err := d.applied(opID, &rd)
		read := rd.need
		rd.need = nil
		d.mu.Unlock()
		if read == nil {
			return rev, dup, err
		}
		if err := read(); err != nil {
			return 0, false, err
		}
	}
}

// transform brings op from revision base to head, over the revisions kept
// in memory and, before them, those in rd.older (or asks for them with
// rd.need). Called with mu held.
func (d *Document) transform(op ot.Operation, base uint64, rd *diskReads) (ot.Operation, error) {
	start := d.histStart()
	if base+1 < start {
		// Older than what is kept in memory: from disk. Everything
		// before histStart is durable. Memory may have let more go
		// while the lock was down: read again, and after a few tries
		// under the lock, so that an edit always ends.
		n := int(start - 1 - base)
		if len(rd.older) < n {
			read := func() error {
				older, err := d.m.store.Revisions(d.id, base, n)
				if err != nil {
					return err
				}
				if len(older) != n {
					return fmt.Errorf("docs: history of %q has a gap before %d", d.id, start)
				}
				rd.older = older
				rd.olderRead++
				return nil
			}
			if rd.olderRead < 3 {
				rd.need = read
				return op, nil
			}
			if err := read(); err != nil {
				return op, err
			}
		}
		for _, r := range rd.older[:n] {
			var err error
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
//
// The lookup that found the op id ran under the lock submit has since let
// go: if meanwhile the revision holding it was rolled back (its commit
// refused, or in a cluster another node's revision came first), another
// edit may hold that revision now, and the op id is not applied at all:
// errNotThere, and submit tries the edit again.
func (d *Document) duplicate(rev uint64, opID string) (Result, error) {
	d.mu.Lock()
	if w := d.writes[rev]; w != nil {
		if w.rev.OpID != opID {
			d.mu.Unlock()
			return Result{}, errNotThere
		}
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
		if d.hist[i].OpID != opID {
			d.mu.Unlock()
			return Result{}, errNotThere
		}
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
func (d *Document) durable(r Revision, text rope.Rope, pos uint64, err error) {
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
	if pos != 0 {
		d.durPos = pos
	}
	d.writer = ""
	delete(d.writes, r.Rev)
	d.trim()
	d.mu.Unlock()
}

// durableRev is the newest durable revision.
func (d *Document) durableRev() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.durRev
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
// start from: the durable text and its revision. fn is called in order
// from one goroutine and must not block. Call cancel to unsubscribe. (A
// client catching up from an older revision reads the revisions between
// with Revisions, and from disk through the Manager, without any lock.)
func (d *Document) Join(fn func(Event)) (JoinState, func(), error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return JoinState{}, nil, d.err
	}
	st := JoinState{Meta: d.meta, Rev: d.durRev, Text: d.durTxt}
	st.Meta.Rev = d.durRev
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
