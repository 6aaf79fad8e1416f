package docs

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/collab-editor/collab/internal/kv"
)

// Mode is what a link grants.
type Mode string

// The modes.
const (
	ModeEdit Mode = "edit"
	ModeView Mode = "view"
)

// Link is what a capability link points at: a document or a workspace, in
// a mode. Links are random (at least 122 bits), stored in the links bucket,
// and independent of each other: no link can be derived from another.
type Link struct {
	Kind   string `json:"kind"` // "doc" or "workspace"
	Target string `json:"target"`
	Mode   Mode   `json:"mode"`
	// Deleted marks a link of a deleted document, which grants nothing
	// (ResolveLink does not find it) until the document is restored.
	Deleted bool `json:"deleted,omitempty"`
}

// Workspace groups documents edited together.
type Workspace struct {
	ID       string    `json:"id"`
	EditLink string    `json:"editLink"`
	ViewLink string    `json:"viewLink"`
	Created  time.Time `json:"created"`
}

var (
	bucketLinks      = []byte("links")
	bucketWorkspaces = []byte("workspaces")
)

// NewLinkKey returns a fresh link: 128 random bits, base64url.
func NewLinkKey() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func putLink(tx *kv.Tx, key string, l Link) error {
	v, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketLinks).Put([]byte(key), v)
}

// putDocLinks writes the links of document m: granting, or marked
// deleted with it.
func putDocLinks(tx *kv.Tx, m Meta) error {
	del := !m.Deleted.IsZero()
	if err := putLink(tx, m.EditLink, Link{Kind: "doc", Target: m.ID, Mode: ModeEdit, Deleted: del}); err != nil {
		return err
	}
	return putLink(tx, m.ViewLink, Link{Kind: "doc", Target: m.ID, Mode: ModeView, Deleted: del})
}

// ResolveLink returns what a link grants. The links of a deleted document
// are not found.
func (m *Manager) ResolveLink(key string) (Link, error) {
	l, err := m.resolve(key)
	if err == nil && l.Deleted {
		return Link{}, fmt.Errorf("%w: no such link", ErrNotFound)
	}
	return l, err
}

// ResolveDeletedLink returns the document a link of a deleted document
// names (its Deleted set); any other link is not found.
func (m *Manager) ResolveDeletedLink(key string) (Link, error) {
	l, err := m.resolve(key)
	if err == nil && !l.Deleted {
		return Link{}, fmt.Errorf("%w: no deleted document has this link", ErrNotFound)
	}
	return l, err
}

func (m *Manager) resolve(key string) (l Link, err error) {
	err = m.store.missed(func() error { return m.resolveHere(key, &l) })
	return l, err
}

// resolveHere is resolve of what this node has.
func (m *Manager) resolveHere(key string, l *Link) error {
	return m.store.view("", func(v *view) error {
		b := v.tx.Bucket(bucketLinks).Get([]byte(key))
		if b == nil {
			return fmt.Errorf("%w: no such link", ErrNotFound)
		}
		return json.Unmarshal(b, l)
	})
}

func getWorkspace(tx *kv.Tx, id string) (Workspace, bool, error) {
	var w Workspace
	v := tx.Bucket(bucketWorkspaces).Get([]byte(id))
	if v == nil {
		return w, false, nil
	}
	err := json.Unmarshal(v, &w)
	return w, true, err
}

// ensureWorkspace creates workspace id (its edit link is its id) unless it
// exists.
func ensureWorkspace(tx *kv.Tx, id string, now time.Time) error {
	if _, ok, err := getWorkspace(tx, id); ok || err != nil {
		return err
	}
	w := Workspace{ID: id, EditLink: id, ViewLink: NewLinkKey(), Created: now}
	v, err := json.Marshal(w)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketWorkspaces).Put([]byte(id), v); err != nil {
		return err
	}
	if err := putLink(tx, w.EditLink, Link{Kind: "workspace", Target: id, Mode: ModeEdit}); err != nil {
		return err
	}
	return putLink(tx, w.ViewLink, Link{Kind: "workspace", Target: id, Mode: ModeView})
}

// GetWorkspace returns a workspace.
func (m *Manager) GetWorkspace(id string) (w Workspace, err error) {
	err = m.store.missed(func() error {
		return m.store.view("", func(v *view) error {
			var ok bool
			w, ok, err = getWorkspace(v.tx, id)
			if err == nil && !ok {
				err = fmt.Errorf("%w: workspace %q", ErrNotFound, id)
			}
			return err
		})
	})
	return w, err
}

// RotateLinks replaces a document's or workspace's edit and view links
// with new ones; the old ones stop working. kind is "doc" or "workspace".
// It returns the old links.
func (m *Manager) RotateLinks(kind, id string) (oldEdit, oldView, newEdit, newView string, err error) {
	newEdit, newView = NewLinkKey(), NewLinkKey()
	err = m.commit.do("the new links", func(tx *kv.Tx) error {
		links := tx.Bucket(bucketLinks)
		switch kind {
		case "doc":
			meta, err := getMeta(tx, id)
			if err != nil {
				return err
			}
			oldEdit, oldView = meta.EditLink, meta.ViewLink
			meta.EditLink, meta.ViewLink = newEdit, newView
			if err := putMeta(tx, meta); err != nil {
				return err
			}
		case "workspace":
			w, ok, err := getWorkspace(tx, id)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%w: workspace %q", ErrNotFound, id)
			}
			oldEdit, oldView = w.EditLink, w.ViewLink
			w.EditLink, w.ViewLink = newEdit, newView
			v, err := json.Marshal(w)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketWorkspaces).Put([]byte(id), v); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: kind %q", ErrInvalid, kind)
		}
		for _, old := range []string{oldEdit, oldView} {
			if err := links.Delete([]byte(old)); err != nil {
				return err
			}
		}
		if err := putLink(tx, newEdit, Link{Kind: kind, Target: id, Mode: ModeEdit}); err != nil {
			return err
		}
		return putLink(tx, newView, Link{Kind: kind, Target: id, Mode: ModeView})
	})
	return oldEdit, oldView, newEdit, newView, err
}

// settingKey is where setting name is kept, in the links bucket (no link
// starts with a NUL byte).
func settingKey(name string) []byte { return []byte("\x00setting:" + name) }

// Setting returns a server-wide secret setting, creating it with make the
// first time (for example the key that signs embed tokens).
func (m *Manager) Setting(name string, make func() []byte) (v []byte, err error) {
	err = m.store.view("", func(vw *view) error {
		if b := vw.tx.Bucket(bucketLinks).Get(settingKey(name)); b != nil {
			v = append([]byte(nil), b...)
		}
		return nil
	})
	if err != nil || v != nil {
		return v, err
	}
	fresh := make()
	err = m.commit.do("the setting", func(tx *kv.Tx) error {
		b := tx.Bucket(bucketLinks)
		key := settingKey(name)
		if old := b.Get(key); old != nil {
			v = append([]byte(nil), old...)
			return nil
		}
		v = fresh
		return b.Put(key, fresh)
	})
	return v, err
}

// CreateWorkspace makes an empty workspace.
func (m *Manager) CreateWorkspace() (Workspace, error) {
	id := uuid.NewString()
	now := m.cfg.Now().UTC()
	if err := m.commit.do("the new workspace", func(tx *kv.Tx) error { return ensureWorkspace(tx, id, now) }); err != nil {
		return Workspace{}, err
	}
	return m.GetWorkspace(id)
}
