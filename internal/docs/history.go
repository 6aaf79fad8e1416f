package docs

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/aymanbagabas/go-udiff"
	"github.com/collab-editor/collab/internal/ot"
	"github.com/collab-editor/collab/internal/rope"
)

// History reads go straight to the store: they see durable revisions only,
// and never take a live document's lock.

// Revisions returns up to limit revisions after revision after.
func (m *Manager) Revisions(id string, after uint64, limit int) ([]Revision, error) {
	return m.store.Revisions(id, after, limit)
}

// Revision returns one revision.
func (m *Manager) Revision(id string, rev uint64) (Revision, error) {
	rs, err := m.store.Revisions(id, rev-1, 1)
	if err != nil {
		return Revision{}, err
	}
	if rev == 0 || len(rs) == 0 || rs[0].Rev != rev {
		return Revision{}, fmt.Errorf("%w: revision %d of %q", ErrNotFound, rev, id)
	}
	return rs[0], nil
}

// TextAt returns the text at revision rev; it replays at most one snapshot
// interval of log.
func (m *Manager) TextAt(id string, rev uint64) (rope.Rope, error) {
	return m.store.TextAt(id, rev)
}

// Head returns the durable metadata and text.
func (m *Manager) Head(id string) (Meta, rope.Rope, error) {
	if d := m.loaded(id); d != nil {
		text, _, meta := d.Text()
		return meta, text, nil
	}
	return m.store.head(id)
}

// Changes returns one operation that turns the text at revision from into
// the text at revision to. Within one snapshot interval it is the
// composition of the revisions between; further apart, or backwards, it is
// computed from the two texts with a diff, which makes the same change.
func (m *Manager) Changes(id string, from, to uint64) (ot.Operation, error) {
	if from < to && to-from <= uint64(m.cfg.SnapshotEvery) {
		revs, err := m.store.Revisions(id, from, int(to-from))
		if err != nil {
			return ot.Operation{}, err
		}
		if len(revs) != int(to-from) {
			return ot.Operation{}, fmt.Errorf("%w: revision %d of %q", ErrNotFound, to, id)
		}
		op := revs[0].Op
		for _, r := range revs[1:] {
			if op, err = ot.Compose(op, r.Op); err != nil {
				return ot.Operation{}, err
			}
		}
		return op, nil
	}
	a, err := m.store.TextAt(id, from)
	if err != nil {
		return ot.Operation{}, err
	}
	b, err := m.store.TextAt(id, to)
	if err != nil {
		return ot.Operation{}, err
	}
	return DiffLines(a.String(), b.String()), nil
}

// The diffs of this package all come from one library, go-udiff (the Go
// tools' diff): its edits are byte ranges of the old text, which edits
// turns into an operation counting code points.

// Diff returns an operation that turns a into b, as a few small edits
// (Myers' diff of the code points, bounded in effort: for texts far apart
// it may replace more than it must, never less).
func Diff(a, b string) ot.Operation {
	return edits(a, udiff.Strings(a, b))
}

// DiffLines returns an operation that turns a into b, replacing whole lines:
// what a history diff shows. A last line without a newline is a line.
func DiffLines(a, b string) ot.Operation {
	return edits(a, udiff.Lines(a, b))
}

// edits turns go-udiff's edits of a (sorted, not overlapping, at code
// point boundaries) into an operation.
func edits(a string, es []udiff.Edit) ot.Operation {
	var op ot.Operation
	at := 0
	for _, e := range es {
		op.Retain(utf8.RuneCountInString(a[at:e.Start]))
		op.Delete(utf8.RuneCountInString(a[e.Start:e.End]))
		op.Insert(e.New)
		at = e.End
	}
	op.Retain(utf8.RuneCountInString(a[at:]))
	return op
}

// Unified returns the unified diff ("diff -u", three lines of context) that
// turns a into b, with the file names fromName and toName; "" when a and b
// are equal. A side whose last line has no newline gets "\ No newline at
// end of file", as diff writes it, so that patch makes b exactly.
func Unified(fromName, toName, a, b string) (string, error) {
	return UnifiedContext(fromName, toName, a, b, udiff.DefaultContextLines)
}

// UnifiedContext is Unified with context lines of context around each
// change (0 or more): with as many as the texts have lines, one hunk shows
// the whole text.
func UnifiedContext(fromName, toName, a, b string, context int) (string, error) {
	return udiff.ToUnified(fromName, toName, a, udiff.Lines(a, b), context)
}

// Restore appends a revision that brings the text back to what it was at
// revision rev; history is never rewritten.
func (m *Manager) Restore(id string, rev uint64, author string) (Result, error) {
	old, err := m.store.TextAt(id, rev)
	if err != nil {
		return Result{}, err
	}
	return m.Put(id, old.String(), author, Key{}, nil)
}

// Put replaces a document's text with text through the edit path: the
// change is diffed against the current text and submitted as an edit by
// author, transformed over concurrent edits like any other. With ifRev
// set, it fails with ErrConflict unless the document is at that revision.
//
// With a key (see Key and KeyTTL), a retry of the same request — the same
// text and ifRev — answers as the first did, with its revision and
// operation and Duplicate set, however the document moved on since (and
// before ifRev is checked); the same key with another request fails with
// ErrKeyReused. A retry that arrives while the first is on its way to disk
// waits for it. A keyed Put that changes nothing still appends a revision
// (an operation that retains everything), so that its key is recorded.
func (m *Manager) Put(id, text, author string, key Key, ifRev *uint64) (Result, error) {
	if !utf8.ValidString(text) {
		return Result{}, fmt.Errorf("%w: text is not valid UTF-8", ErrInvalid)
	}
	opID := ""
	if key != (Key{}) {
		if err := key.check(); err != nil {
			return Result{}, err
		}
		opID = key.opID(putFingerprint(text, ifRev))
	}
	d, err := m.Open(id)
	if err != nil {
		return Result{}, err
	}
	defer d.Release()
	cur, rev, _ := d.Text()
	if opID != "" {
		// After reading the text: a write under this key that is durable
		// at rev is in d.opids or the store by now; one still on its way
		// is found again by submit, which waits for it.
		at, dup, err := d.lookup(opID)
		if err != nil {
			return Result{}, err
		}
		if dup {
			res, err := m.replay(d, at, opID)
			if !errors.Is(err, errNotThere) {
				return res, err
			}
			// Rolled back since it was found: submitted below, again.
		}
	}
	if ifRev != nil && *ifRev != rev {
		return Result{}, fmt.Errorf("%w: document is at revision %d, not %d", ErrConflict, rev, *ifRev)
	}
	op := Diff(cur.String(), text)
	if op.IsNoop() && opID == "" {
		return Result{Rev: rev, Op: op}, nil
	}
	e := Edit{Base: rev, Op: op, Author: author, OpID: opID}
	var res Result
	if ifRev != nil {
		res, err = d.submitIf(e)
	} else {
		res, err = d.Submit(e)
	}
	if err == nil && res.Duplicate {
		return m.replay(d, res.Rev, opID)
	}
	return res, err
}

// replay answers a keyed Put with the revision rev its key was applied at:
// once that is durable, with its operation, from memory or from the log.
func (m *Manager) replay(d *Document, rev uint64, opID string) (Result, error) {
	res, err := d.duplicate(rev, opID)
	if err != nil {
		return Result{}, err
	}
	r, err := m.Revision(d.id, rev)
	if err != nil {
		return Result{}, err
	}
	res.Op = r.Op
	return res, nil
}

// putFingerprint names a Put's request for its key: a hash of its text and
// its condition.
func putFingerprint(text string, ifRev *uint64) string {
	h := sha256.New()
	if ifRev != nil {
		fmt.Fprintf(h, "if-match %d\n", *ifRev)
	} else {
		io.WriteString(h, "unconditional\n")
	}
	io.WriteString(h, text)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}
