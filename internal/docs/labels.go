package docs

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/collab-editor/collab/internal/kv"
)

// Labels name versions of a document ("v1.2 sent to review"): a label is
// a name on one revision. A revision may have several; names need not be
// unique. They are kept in doc/<id>/labels under the revision and the
// label's id, so they list in revision order.

// Limits of labels.
const (
	MaxLabels    = 1000 // per document
	MaxLabelName = 200  // bytes
)

var subLabels = []byte("labels")

// Label is a named revision.
type Label struct {
	ID      string    `json:"id"` // 16 characters of A-Z a-z 0-9 _ -
	Rev     uint64    `json:"rev"`
	Name    string    `json:"name"`
	Author  string    `json:"author,omitempty"` // who made it
	Created time.Time `json:"created"`
}

func labelKey(rev uint64, id string) []byte { return append(revKey(rev), id...) }

// AddLabel names revision rev of a document (at most its newest durable
// revision) and returns the new label.
func (m *Manager) AddLabel(id string, rev uint64, name, author string) (Label, error) {
	if name == "" || len(name) > MaxLabelName || !utf8.ValidString(name) {
		return Label{}, fmt.Errorf("%w: a label's name is 1-%d bytes of UTF-8", ErrInvalid, MaxLabelName)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return Label{}, fmt.Errorf("%w: a label's name has a control character", ErrInvalid)
		}
	}
	var b [12]byte
	rand.Read(b[:])
	l := Label{ID: base64.RawURLEncoding.EncodeToString(b[:]), Rev: rev, Name: name, Author: author, Created: m.cfg.Now().UTC()}
	v, err := json.Marshal(l)
	if err != nil {
		return Label{}, err
	}
	err = m.commit.do("the label", func(tx *kv.Tx) error {
		b, log, err := buckets(tx, id)
		if err != nil {
			return err
		}
		// Every revision durable before this write is in bbolt by now
		// (see Store.withPending).
		if h, _ := readHead(log); rev > h.rev {
			return fmt.Errorf("%w: revision %d of %q (head is %d)", ErrNotFound, rev, id, h.rev)
		}
		labels, err := b.CreateBucketIfNotExists(subLabels)
		if err != nil {
			return err
		}
		if labels.Stats().KeyN >= MaxLabels {
			return fmt.Errorf("%w: a document has at most %d labels", ErrTooLarge, MaxLabels)
		}
		return labels.Put(labelKey(rev, l.ID), v)
	})
	if err != nil {
		return Label{}, err
	}
	return l, nil
}

// Labels returns a document's labels in revision order (then in the order
// they were made).
func (m *Manager) Labels(id string) (out []Label, err error) {
	err = m.store.view("", func(v *view) error {
		b, err := docBucket(v.tx, id)
		if err != nil {
			return err
		}
		out, err = readLabels(b)
		return err
	})
	return out, err
}

// readLabels reads the labels of a document bucket.
func readLabels(b *kv.Bucket) ([]Label, error) {
	out := []Label{}
	labels := b.Bucket(subLabels)
	if labels == nil {
		return out, nil
	}
	err := labels.ForEach(func(k, v []byte) error {
		var l Label
		if err := json.Unmarshal(v, &l); err != nil {
			return fmt.Errorf("docs: corrupt label %q: %w", k, err)
		}
		out = append(out, l)
		return nil
	})
	// The keys order one revision's labels by id: by time reads better.
	slices.SortStableFunc(out, func(a, b Label) int {
		return cmp.Or(cmp.Compare(a.Rev, b.Rev), a.Created.Compare(b.Created))
	})
	return out, err
}

// DeleteLabel removes a document's label.
func (m *Manager) DeleteLabel(id, label string) error {
	return m.commit.do("the label's removal", func(tx *kv.Tx) error {
		b, err := docBucket(tx, id)
		if err != nil {
			return err
		}
		if labels := b.Bucket(subLabels); labels != nil {
			c := labels.Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				if len(k) > 8 && bytes.Equal(k[8:], []byte(label)) {
					return labels.Delete(k)
				}
			}
		}
		return fmt.Errorf("%w: label %q of document %q", ErrNotFound, label, id)
	})
}
