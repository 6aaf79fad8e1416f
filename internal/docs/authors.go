package docs

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/collab-editor/collab/internal/kv"
)

// Author profiles: the name and colour of each author of a workspace's
// revisions (a revision's Author is a public id; see the server), kept so
// that history shows names for people long gone. They are looked up when
// history is read, so a new name relabels an author's past revisions.
// One workspace's documents share them; a document without a workspace
// has its own.
//
//	authors   scope \x00 author id -> AuthorProfile (JSON)
//
// where the scope is "w:" and the workspace id, or "d:" and the
// document's id.
//
// The names an author took are kept too, each with the time it was
// taken, so that a view of the history made of what was then (the
// workspace as a git repository) can show each author by the name they
// had at the time, and never changes when they rename themselves:
//
//	author-names   scope \x00 author id \x00 time (8 bytes, Unix ms) seq (8 bytes) -> name
//
// An author named before names were kept has the name they had then, from
// the beginning of time.

var (
	bucketAuthors     = []byte("authors")
	bucketAuthorNames = []byte("author-names")
)

// AuthorName is a name an author took, and when.
type AuthorName struct {
	Time time.Time
	Name string
}

// AuthorProfile is what an author is shown as.
type AuthorProfile struct {
	Name  string `json:"name"`
	Color string `json:"color,omitempty"`
}

func authorScope(m Meta) []byte {
	if m.Workspace != "" {
		return []byte("w:" + m.Workspace + "\x00")
	}
	return []byte("d:" + m.ID + "\x00")
}

// Authors returns the profiles of the given authors of a document's
// revisions; those without one are left out.
func (m *Manager) Authors(id string, authors []string) (map[string]AuthorProfile, error) {
	out := make(map[string]AuthorProfile, len(authors))
	err := m.store.view("", func(v *view) error {
		meta, err := getMeta(v.tx, id)
		if err != nil {
			return err
		}
		b := v.tx.Bucket(bucketAuthors)
		if b == nil {
			return nil
		}
		scope := authorScope(meta)
		for _, a := range authors {
			if _, done := out[a]; done {
				continue
			}
			raw := b.Get(append(scope[:len(scope):len(scope)], a...))
			if raw == nil {
				continue
			}
			var p AuthorProfile
			if err := json.Unmarshal(raw, &p); err != nil {
				return fmt.Errorf("docs: corrupt profile of author %q: %w", a, err)
			}
			out[a] = p
		}
		return nil
	})
	return out, err
}

// SetAuthor keeps an author's profile for a document (and the rest of its
// workspace). It writes only when the profile changes.
func (m *Manager) SetAuthor(id, author string, p AuthorProfile) error {
	if author == "" {
		return fmt.Errorf("%w: an author needs an id", ErrInvalid)
	}
	if old, err := m.Authors(id, []string{author}); err != nil {
		return err
	} else if cur, ok := old[author]; ok && cur == p {
		return nil
	}
	v, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return m.commit.do("the author's name", func(tx *kv.Tx) error {
		meta, err := getMeta(tx, id)
		if err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bucketAuthors)
		if err != nil {
			return err
		}
		key := append(authorScope(meta), author...)
		var old AuthorProfile
		if raw := b.Get(key); raw != nil {
			if err := json.Unmarshal(raw, &old); err != nil {
				return fmt.Errorf("docs: corrupt profile of author %q: %w", author, err)
			}
		}
		if old.Name != p.Name {
			if err := appendAuthorName(tx, key, old.Name, p.Name, m.cfg.Now()); err != nil {
				return err
			}
		}
		return b.Put(key, v)
	})
}

// appendAuthorName records that the author whose profile is at key in the
// authors bucket takes the name name at now; their name until then was
// old, which is recorded first, from the beginning of time, if nothing is
// yet.
func appendAuthorName(tx *kv.Tx, key []byte, old, name string, now time.Time) error {
	b, err := tx.CreateBucketIfNotExists(bucketAuthorNames)
	if err != nil {
		return err
	}
	prefix := append(slices.Clip(key), 0)
	if k, _ := b.Cursor().Seek(prefix); (k == nil || !bytes.HasPrefix(k, prefix)) && old != "" {
		if err := putAuthorName(b, prefix, old, 0); err != nil {
			return err
		}
	}
	return putAuthorName(b, prefix, name, now.UnixMilli())
}

func putAuthorName(b *kv.Bucket, prefix []byte, name string, ms int64) error {
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	k := binary.BigEndian.AppendUint64(slices.Clip(prefix), uint64(ms))
	return b.Put(binary.BigEndian.AppendUint64(k, seq), []byte(name))
}

// AuthorNames returns the names every author of workspace ws took, each
// author's oldest first (an author named before names were kept has
// that name from time zero). An author with a profile and no name has
// none.
func (m *Manager) AuthorNames(ws string) (map[string][]AuthorName, error) {
	out := map[string][]AuthorName{}
	scope := authorScope(Meta{Workspace: ws})
	err := m.store.view("", func(v *view) error {
		if b := v.tx.Bucket(bucketAuthorNames); b != nil {
			c := b.Cursor()
			for k, val := c.Seek(scope); k != nil && bytes.HasPrefix(k, scope); k, val = c.Next() {
				rest := k[len(scope):]
				if len(rest) < 17 || rest[len(rest)-17] != 0 {
					return fmt.Errorf("docs: corrupt author name key %q", k)
				}
				id := string(rest[:len(rest)-17])
				ms := int64(binary.BigEndian.Uint64(rest[len(rest)-16:]))
				out[id] = append(out[id], AuthorName{Time: time.UnixMilli(ms).UTC(), Name: string(val)})
			}
		}
		b := v.tx.Bucket(bucketAuthors)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, raw := c.Seek(scope); k != nil && bytes.HasPrefix(k, scope); k, raw = c.Next() {
			id := string(k[len(scope):])
			if _, ok := out[id]; ok {
				continue
			}
			var p AuthorProfile
			if err := json.Unmarshal(raw, &p); err != nil {
				return fmt.Errorf("docs: corrupt profile of author %q: %w", id, err)
			}
			if p.Name != "" {
				out[id] = []AuthorName{{Time: time.UnixMilli(0).UTC(), Name: p.Name}}
			}
		}
		return nil
	})
	return out, err
}

// deleteAuthors removes the profiles and names of a document of its own
// (no workspace), with the document.
func deleteAuthors(tx *kv.Tx, m Meta) error {
	if m.Workspace != "" {
		return nil
	}
	scope := authorScope(m)
	for _, name := range [][]byte{bucketAuthors, bucketAuthorNames} {
		b := tx.Bucket(name)
		if b == nil {
			continue
		}
		c := b.Cursor()
		for k, _ := c.Seek(scope); k != nil && bytes.HasPrefix(k, scope); k, _ = c.Seek(scope) {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
	}
	return nil
}
