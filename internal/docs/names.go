package docs

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/collab-editor/collab/internal/kv"
)

// A document's names: every change of its path (a rename or a move, its
// deletion, which leaves it without one, and its restoration) is kept
// with the time it was made, the revision the document was at, and who
// made it, written in the transaction that makes the change. So the path a
// document had at any moment of its history can be told, and a view of
// the history made of what was then (the workspace as a git repository)
// never changes when a document is renamed or deleted later.
//
//	doc/<id>/names   seq (8 bytes big-endian, 1, 2, ...) -> NameChange (JSON)
//
// A document records nothing until its path first changes: the first
// change records the path it had until then first (at revision 0, its
// creation time), so that the list always starts with the path the
// document began with. A document renamed before names were kept starts
// with the name it had when they began to be.

var subNames = []byte("names")

// NameChange is one change of a document's path.
type NameChange struct {
	Time time.Time `json:"time"`
	// Rev is the document's revision when the change was made: the
	// change comes after that revision and before the next.
	Rev uint64 `json:"rev"`
	// Name is the path from then on; "" while the document is deleted.
	Name   string `json:"name"`
	Author string `json:"author,omitempty"`
	// OpID is the change's id, when its maker gave one (a git push names
	// its commit), so that a change sent again is recognised.
	OpID string `json:"opId,omitempty"`
}

// By is who makes a change of a document's path, and its id (both may be
// empty).
type By struct {
	Author string
	OpID   string
}

// appendName records, in tx, that meta's path becomes name (its
// path until now is meta.Name, or none if it is deleted), and counts it
// in meta.Names; the caller writes meta.
func appendName(tx *kv.Tx, meta *Meta, name string, now time.Time, by By) error {
	doc, err := docBucket(tx, meta.ID)
	if err != nil {
		return err
	}
	b, err := doc.CreateBucketIfNotExists(subNames)
	if err != nil {
		return err
	}
	b.SetFillPercent(appendFill)
	put := func(c NameChange) error {
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		v, err := json.Marshal(c)
		if err != nil {
			return err
		}
		meta.Names = seq
		return b.Put(revKey(seq), v)
	}
	if meta.Names == 0 {
		if err := put(NameChange{Time: meta.Created.UTC(), Name: meta.Name}); err != nil {
			return err
		}
	}
	return put(NameChange{Time: now.UTC(), Rev: meta.Rev, Name: name, Author: by.Author, OpID: by.OpID})
}

// Names returns the changes of document id's path, oldest first, after
// the first after ones (0 for all): the first of all is the path it was
// created with (at revision 0). A document whose path never changed
// has that one only. Deleted documents have theirs too, their deletion
// last.
func (s *Store) Names(id string, after uint64) (out []NameChange, err error) {
	err = s.view("", func(v *view) error {
		meta, err := getMetaAny(v.tx, id)
		if err != nil {
			return err
		}
		if meta.Names == 0 {
			if after == 0 {
				out = []NameChange{{Time: meta.Created.UTC(), Name: meta.Name}}
			}
			return nil
		}
		doc, err := docBucket(v.tx, id)
		if err != nil {
			return err
		}
		b := doc.Bucket(subNames)
		if b == nil {
			return fmt.Errorf("docs: the names of %q are missing", id)
		}
		c := b.Cursor()
		for k, val := c.Seek(revKey(after + 1)); k != nil; k, val = c.Next() {
			var nc NameChange
			if err := json.Unmarshal(val, &nc); err != nil {
				return fmt.Errorf("docs: corrupt name change %d of %q: %w", binary.BigEndian.Uint64(k), id, err)
			}
			out = append(out, nc)
		}
		return nil
	})
	return out, err
}
