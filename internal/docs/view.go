package docs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/collab-editor/collab/internal/kv"
	"github.com/collab-editor/collab/internal/rope"
)

// Every read of the store goes through a view (Store.view): one bbolt read
// transaction, plus the revisions pending in the revision log (durable
// and acknowledged, not yet checkpointed into bbolt; see wal.go) of the
// document it reads, added where bbolt's log of it ends. No read
// checkpoints, waits for a checkpoint or fails with one: while the disk
// refuses writes, reads are served as before, with every acknowledged
// revision.
//
// Reads of what revisions do not change (links, workspaces, settings,
// chat, presence) take a view of no document: bbolt holds every such
// write, which commits there, after the revisions pending before it.

// A view is one read of the store: a bbolt read transaction, and the
// revisions that were pending in the log when it began.
type view struct {
	s  *Store
	tx *kv.Tx
	// The pending revisions, in order: document id's (ws), or, with every
	// set, each document's (all).
	id    string
	ws    []*write
	every bool
	all   map[string][]*write
}

// view runs fn with a view of document id ("" for none). The document's
// pending revisions are taken before the transaction begins: a checkpoint
// that commits in between is then in bbolt as the transaction sees it,
// and the revisions it copied, still among those taken, are dropped as
// bbolt has them (see overlay); taken after, they could be in neither.
func (s *Store) view(id string, fn func(v *view) error) error {
	v := &view{s: s, id: id}
	if id != "" {
		v.ws = s.pendingOf(id)
	}
	return viewDB(s.db, func(tx *kv.Tx) error {
		v.tx = tx
		return fn(v)
	})
}

// viewAll is view of every document, for listings.
func (s *Store) viewAll(fn func(v *view) error) error {
	v := &view{s: s, every: true, all: s.pendingDocs()}
	return viewDB(s.db, func(tx *kv.Tx) error {
		v.tx = tx
		return fn(v)
	})
}

// pending returns document id's revisions pending when v began.
func (v *view) pending(id string) []*write {
	switch {
	case v.every:
		return v.all[id]
	case id != "" && id == v.id:
		return v.ws
	}
	// A document the view did not take the pending revisions of would be
	// read without them: a bug in this package.
	panic(fmt.Sprintf("docs: a view of document %q reads document %q", v.id, id))
}

// docView is a document as a view sees it: its log bucket and head record
// in bbolt, and the pending revisions bbolt does not have, which follow
// its head.
type docView struct {
	v   *view
	id  string
	log *kv.Bucket
	h   head     // bbolt's head record
	ov  []*write // the pending revisions after h.rev, consecutive
}

// doc returns document id as v sees it.
func (v *view) doc(id string) (docView, error) {
	log, err := logBucket(v.tx, id)
	if err != nil {
		return docView{}, err
	}
	h, _ := readHead(log)
	return docView{v: v, id: id, log: log, h: h, ov: overlay(v.pending(id), h)}, nil
}

// overlay returns what of a document's pending revisions ws (taken before
// the transaction that read h) bbolt does not have: those after its head
// h, if they follow it. A checkpoint may have copied some of ws since.
func overlay(ws []*write, h head) []*write {
	for len(ws) > 0 && ws[0].rev.Rev <= h.rev {
		ws = ws[1:]
	}
	if len(ws) > 0 && ws[0].rev.Rev != h.rev+1 {
		return nil
	}
	return ws
}

// meta returns document id's metadata as v sees it: bbolt's, moved over
// the pending revisions as their checkpoint will move it; and the
// document.
func (v *view) meta(id string) (Meta, docView, error) { return v.metaOf(id, false) }

// metaOf is meta, of a deleted document too with deleted set.
func (v *view) metaOf(id string, deleted bool) (Meta, docView, error) {
	get := getMeta
	if deleted {
		get = getMetaAny
	}
	m, err := get(v.tx, id)
	if err != nil {
		return m, docView{}, err
	}
	d, err := v.doc(id)
	if err != nil || len(d.ov) == 0 {
		return m, d, err
	}
	h := d.h
	for _, w := range d.ov {
		v.s.advance(&h, w)
	}
	m.Rev, m.Updated = h.rev, time.UnixMilli(int64(h.updatedMs)).UTC()
	m.SnapRev, m.SnapBytes, m.SnapSize = h.snapRev, int(h.snapBytes), int(h.snapSize)
	return m, d, nil
}

// head is the document's newest durable revision.
func (d docView) head() uint64 { return d.h.rev + uint64(len(d.ov)) }

// pendingAt returns revision rev if it is one of d.ov.
func (d docView) pendingAt(rev uint64) (*write, bool) {
	if len(d.ov) == 0 || rev < d.ov[0].rev.Rev || rev > d.head() {
		return nil, false
	}
	return d.ov[rev-d.ov[0].rev.Rev], true
}

// durableRev is a pending revision as it reads back from disk.
func durableRev(w *write) Revision {
	r := w.rev
	r.Time = time.UnixMilli(r.Time.UnixMilli()).UTC()
	return r
}

// revision returns revision rev, if the document has it.
func (d docView) revision(rev uint64) (Revision, bool, error) {
	if w, ok := d.pendingAt(rev); ok {
		return durableRev(w), true, nil
	}
	v := d.log.Get(revKey(rev))
	if v == nil || rev == 0 {
		return Revision{}, false, nil
	}
	r, err := decodeRecord(rev, v)
	return r, err == nil, err
}

// each calls fn with each revision after after up to to, in order, while
// fn returns true.
func (d docView) each(after, to uint64, fn func(Revision) bool) error {
	if after < d.h.rev {
		c := d.log.Cursor()
		for k, v := c.Seek(revKey(after + 1)); isRev(k); k, v = c.Next() {
			rev := binary.BigEndian.Uint64(k)
			if rev > to {
				return nil
			}
			r, err := decodeRecord(rev, v)
			if err != nil {
				return err
			}
			if !fn(r) {
				return nil
			}
		}
	}
	for _, w := range d.ov {
		switch {
		case w.rev.Rev > to:
			return nil
		case w.rev.Rev > after && !fn(durableRev(w)):
			return nil
		}
	}
	return nil
}

// text returns the text at revision rev, at most the head: a pending
// revision's from memory, any other rebuilt from bbolt.
func (d docView) text(rev uint64) (rope.Rope, error) {
	if w, ok := d.pendingAt(rev); ok {
		return w.text, nil
	}
	return d.v.s.textAt(d.v.tx, d.id, rev)
}

// Meta returns a document's metadata.
func (s *Store) Meta(id string) (m Meta, err error) {
	err = s.missed(func() error {
		return s.view(id, func(v *view) error {
			m, _, err = v.meta(id)
			return err
		})
	})
	return m, err
}

// Revisions returns up to limit revisions after rev after, in order.
func (s *Store) Revisions(id string, after uint64, limit int) (out []Revision, err error) {
	err = s.view(id, func(v *view) error {
		d, err := v.doc(id)
		if err != nil || limit <= 0 {
			return err
		}
		out = make([]Revision, 0, min(limit, 64))
		return d.each(after, d.head(), func(r Revision) bool {
			out = append(out, r)
			return len(out) < limit
		})
	})
	return out, err
}

// TextAt returns the document's text at revision rev.
func (s *Store) TextAt(id string, rev uint64) (text rope.Rope, err error) {
	err = s.view(id, func(v *view) error {
		d, err := v.doc(id)
		if err != nil {
			return err
		}
		if rev > d.head() {
			return fmt.Errorf("%w: revision %d of %q (head is %d)", ErrNotFound, rev, id, d.head())
		}
		text, err = d.text(rev)
		return err
	})
	return text, err
}

// head returns a document's metadata and text at its head.
func (s *Store) head(id string) (m Meta, text rope.Rope, err error) {
	err = s.view(id, func(v *view) error {
		var d docView
		if m, d, err = v.meta(id); err != nil {
			return err
		}
		text, err = d.text(m.Rev)
		return err
	})
	return m, text, err
}

// load reads what a live document needs: metadata, the head text, the
// last window revisions, and those of its revisions that are still
// pending in the log (which hold op ids bbolt does not know yet).
func (s *Store) load(id string, window int) (m Meta, text rope.Rope, recent []Revision, pending []*write, err error) {
	err = s.view(id, func(v *view) error {
		var d docView
		if m, d, err = v.meta(id); err != nil {
			return err
		}
		pending = d.ov
		if text, err = d.text(m.Rev); err != nil {
			return err
		}
		after := uint64(0)
		if m.Rev > uint64(window) {
			after = m.Rev - uint64(window)
		}
		recent = make([]Revision, 0, m.Rev-after)
		return d.each(after, m.Rev, func(r Revision) bool {
			recent = append(recent, r)
			return true
		})
	})
	return m, text, recent, pending, err
}

// List returns documents of a workspace whose names start with prefix,
// ordered by name, starting after the name after.
func (s *Store) List(workspace, prefix, after string, limit int) (out []Meta, err error) {
	err = s.viewAll(func(v *view) error {
		c := v.tx.Bucket(bucketFiles).Cursor()
		base := fileKey(workspace, prefix)
		start := base
		if after != "" && after >= prefix {
			start = append(fileKey(workspace, after), 0)
		}
		for k, id := c.Seek(start); k != nil && bytes.HasPrefix(k, base) && len(out) < limit; k, id = c.Next() {
			m, _, err := v.meta(string(id))
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// ListAll returns every live document's metadata ordered by id, after id
// after (deleted documents are in their workspaces' trash).
func (s *Store) ListAll(after string, limit int) (out []Meta, err error) {
	err = s.viewAll(func(v *view) error {
		c := v.tx.Bucket(bucketMeta).Cursor()
		k, _ := c.First()
		if after != "" {
			k, _ = c.Seek(append([]byte(after), 0))
		}
		for ; k != nil && len(out) < limit; k, _ = c.Next() {
			m, _, err := v.metaOf(string(k), true)
			if err != nil {
				return err
			}
			if m.Deleted.IsZero() {
				out = append(out, m)
			}
		}
		return nil
	})
	return out, err
}
