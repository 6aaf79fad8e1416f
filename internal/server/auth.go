package server

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/collab-editor/collab/internal/access"
	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/presence"
)

// A grant is what a request may do with one document. Access comes from,
// in order: the administrator's API token (Authorization: Bearer), an
// embed token (?token=), or the capability link in the URL, which is the
// {id} of /api/docs/{id}: a document's edit link, or its view link.
//
// The internal id is shown to administrators only: a document's first edit
// link is its id.
type grant struct {
	doc    string    // the document's internal id
	mode   docs.Mode // edit or view
	link   string    // the link used, "" for the API or embed token
	handle string    // the {id} used with an embed token
	admin  bool
	name   string // user name forced by an embed token
	// subject names the user of an embed token (its subject, or else its
	// user name): the author of the session's edits (see authors.go).
	subject string
	data    map[string]json.RawMessage // app data keys fixed by an embed token (a null: the key stays absent)
	exp     time.Time                  // embed token expiry; zero for none
}

func (g grant) canEdit() bool { return g.mode == docs.ModeEdit }

// fixesData returns a key of change, a change of app data, that the
// grant's embed token sets to another value.
func (g grant) fixesData(change map[string]json.RawMessage) (string, bool) {
	for k, v := range change {
		if fixed, ok := g.data[k]; ok && !bytes.Equal(fixed, v) {
			return k, true
		}
	}
	return "", false
}

// publicID is the id the caller knows the document by.
func (g grant) publicID() string {
	switch {
	case g.link != "":
		return g.link
	case g.handle != "":
		return g.handle
	}
	return g.doc
}

var errForbidden = errors.New("forbidden")

// isAdmin reports whether the request carries the configured API token.
func (s *Server) isAdmin(r *http.Request) bool {
	return access.TokenEqual(access.Bearer(r.Header.Get("Authorization")), s.cfg.APIToken)
}

// requireAdmin answers 403/401 unless the request carries the API token.
// Without a configured token, administrative routes are refused, never open.
func (s *Server) requireAdmin(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.APIToken == "" {
		s.problem(w, r, http.StatusForbidden, "forbidden", "administrative routes are disabled: no API token is configured (COLLAB_API_TOKEN)")
		return false
	}
	if !s.isAdmin(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="collab"`)
		s.problem(w, r, http.StatusUnauthorized, "unauthorized", "this route needs Authorization: Bearer <API token>")
		return false
	}
	return true
}

// access resolves the {id} of a document route into a grant, answering
// the request itself when there is none. With edit set, a view-only grant
// is refused with 403.
func (s *Server) access(w http.ResponseWriter, r *http.Request, edit bool) (grant, bool) {
	id := r.PathValue("id")
	var g grant
	switch {
	case s.isAdmin(r):
		g = grant{doc: id, mode: docs.ModeEdit, admin: true}
		if l, err := s.docs.ResolveLink(id); err == nil && l.Kind == "doc" {
			g.doc = l.Target
		}
	case r.URL.Query().Get("token") != "":
		// The token names its document; the {id} must name the same one,
		// by the handle in the token's URL.
		c, err := access.Verify(s.embedKey, r.URL.Query().Get("token"), s.cfg.Now())
		if err != nil || id != access.Handle(s.embedKey, c.Doc) {
			msg := "the embed token is invalid for this document"
			if errors.Is(err, access.ErrExpired) {
				msg = "the embed token has expired"
			}
			s.problem(w, r, http.StatusForbidden, "forbidden", msg)
			return g, false
		}
		g = grant{doc: c.Doc, mode: docs.Mode(c.Mode), handle: id, name: c.Name, subject: cmp.Or(c.Sub, c.Name), exp: c.Expires()}
		if len(c.Data) > 0 {
			// Checked when it was minted: no limit but the token's own.
			if g.data, err = presence.ParseData(c.Data, len(c.Data)); err != nil {
				s.problem(w, r, http.StatusForbidden, "forbidden", "the embed token is invalid for this document")
				return g, false
			}
		}
	default:
		l, err := s.docs.ResolveLink(id)
		if err != nil || l.Kind != "doc" {
			s.problem(w, r, http.StatusNotFound, "not_found", "no such document, or the link was rotated")
			return g, false
		}
		g = grant{doc: l.Target, mode: l.Mode, link: id}
	}
	if edit && !g.canEdit() {
		s.problem(w, r, http.StatusForbidden, "forbidden", "this link is view-only")
		return g, false
	}
	return g, true
}

// workspaceAccess resolves the {ws} of a workspace route.
func (s *Server) workspaceAccess(w http.ResponseWriter, r *http.Request) (ws string, mode docs.Mode, ok bool) {
	id := r.PathValue("ws")
	if s.isAdmin(r) {
		if l, err := s.docs.ResolveLink(id); err == nil && l.Kind == "workspace" {
			id = l.Target
		}
		return id, docs.ModeEdit, true
	}
	l, err := s.docs.ResolveLink(id)
	if err != nil || l.Kind != "workspace" {
		s.problem(w, r, http.StatusNotFound, "not_found", "no such workspace, or the link was rotated")
		return "", "", false
	}
	return l.Target, l.Mode, true
}

// newEmbedKey makes the key that signs embed tokens (kept in the database
// so tokens survive a restart).
func newEmbedKey() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}
