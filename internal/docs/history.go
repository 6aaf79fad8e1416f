package docs

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/collab-editor/collab/internal/ot"
	"github.com/collab-editor/collab/internal/rope"
	"github.com/pmezard/go-difflib/difflib"
	"github.com/sergi/go-diff/diffmatchpatch"
	bolt "go.etcd.io/bbolt"
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
	var meta Meta
	var text rope.Rope
	err := m.store.view(func(tx *bolt.Tx) error {
		var err error
		if meta, err = getMeta(tx, id); err != nil {
			return err
		}
		text, err = m.store.textAt(tx, id, meta.Rev)
		return err
	})
	return meta, text, err
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

// Diff returns a minimal operation that turns a into b (a character-level
// diff, sped up line by line for long texts).
func Diff(a, b string) ot.Operation {
	dmp := diffmatchpatch.New()
	return diffOp(dmp.DiffMain(a, b, len(a)+len(b) > 10_000))
}

// DiffLines returns an operation that turns a into b, replacing whole lines
// (difflib's sequence matcher over lines): fast however far apart the
// texts are, and what a history diff shows.
func DiffLines(a, b string) ot.Operation {
	la, lb := difflib.SplitLines(a), difflib.SplitLines(b)
	// SplitLines ends every line with "\n", adding one to the last line.
	la[len(la)-1] = strings.TrimSuffix(la[len(la)-1], "\n")
	lb[len(lb)-1] = strings.TrimSuffix(lb[len(lb)-1], "\n")
	count := func(lines []string) int {
		n := 0
		for _, l := range lines {
			n += utf8.RuneCountInString(l)
		}
		return n
	}
	var op ot.Operation
	for _, c := range difflib.NewMatcher(la, lb).GetOpCodes() {
		switch c.Tag {
		case 'e':
			op.Retain(count(la[c.I1:c.I2]))
		case 'd', 'r', 'i':
			op.Delete(count(la[c.I1:c.I2]))
			op.Insert(strings.Join(lb[c.J1:c.J2], ""))
		}
	}
	return op
}

func diffOp(diffs []diffmatchpatch.Diff) ot.Operation {
	var op ot.Operation
	for _, d := range diffs {
		switch d.Type {
		case diffmatchpatch.DiffEqual:
			op.Retain(utf8.RuneCountInString(d.Text))
		case diffmatchpatch.DiffInsert:
			op.Insert(d.Text)
		case diffmatchpatch.DiffDelete:
			op.Delete(utf8.RuneCountInString(d.Text))
		}
	}
	return op
}

// Restore appends a revision that brings the text back to what it was at
// revision rev; history is never rewritten.
func (m *Manager) Restore(id string, rev uint64, author, opID string) (Result, error) {
	old, err := m.store.TextAt(id, rev)
	if err != nil {
		return Result{}, err
	}
	return m.Put(id, old.String(), author, opID, nil)
}

// Put replaces a document's text with text through the edit path: the
// change is diffed against the current text and submitted as an edit by
// author, transformed over concurrent edits like any other. With ifRev
// set, it fails with ErrConflict unless the document is at that revision.
func (m *Manager) Put(id, text, author, opID string, ifRev *uint64) (Result, error) {
	if !utf8.ValidString(text) {
		return Result{}, fmt.Errorf("%w: text is not valid UTF-8", ErrInvalid)
	}
	d, err := m.Open(id)
	if err != nil {
		return Result{}, err
	}
	defer d.Release()
	cur, rev, _ := d.Text()
	if ifRev != nil && *ifRev != rev {
		return Result{}, fmt.Errorf("%w: document is at revision %d, not %d", ErrConflict, rev, *ifRev)
	}
	op := Diff(cur.String(), text)
	if op.IsNoop() {
		return Result{Rev: rev, Op: op}, nil
	}
	e := Edit{Base: rev, Op: op, Author: author, OpID: opID}
	if ifRev != nil {
		return d.submitIf(e)
	}
	return d.Submit(e)
}
