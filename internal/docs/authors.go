package docs

import (
	"bytes"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
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

var bucketAuthors = []byte("authors")

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
	return m.commit.do("the author's name", func(tx *bolt.Tx) error {
		meta, err := getMeta(tx, id)
		if err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bucketAuthors)
		if err != nil {
			return err
		}
		return b.Put(append(authorScope(meta), author...), v)
	})
}

// deleteAuthors removes the profiles of a document of its own (no
// workspace), with the document.
func deleteAuthors(tx *bolt.Tx, m Meta) error {
	b := tx.Bucket(bucketAuthors)
	if b == nil || m.Workspace != "" {
		return nil
	}
	scope := authorScope(m)
	c := b.Cursor()
	for k, _ := c.Seek(scope); k != nil && bytes.HasPrefix(k, scope); k, _ = c.Seek(scope) {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
