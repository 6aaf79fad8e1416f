package server

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/collab-editor/collab/internal/access"
	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/presence"
)

// Credentials. A request to a document's or workspace's route is granted
// by the first of:
//
//   - the administrator's API token (Authorization: Bearer <API token>):
//     everything; the {id} may then be a link, a handle or an internal id;
//   - a token (a JWT, see access) in Authorization: Bearer, or else in
//     ?token=: its role on the document or workspace it names, which the
//     {id} (or {ws}) must name by its handle;
//   - the capability link that is the {id} (or {ws}): a document's edit or
//     view link, a workspace's edit or view link.
//
// A bearer that is neither the API token nor shaped like a JWT is no
// credential here (administrative routes refuse it).
//
// What each grants of a document: view reads; edit writes too; owner (an
// owner token, the API token, and a workspace's edit link on the
// workspace's file routes) renames, moves and deletes too. A document's
// own edit link renames it too, as it always has, but does not delete it.

// A grant is what a request may do with one document.
//
// The internal id is shown to administrators only: a document's first edit
// link is its id.
type grant struct {
	doc    string    // the document's internal id
	mode   docs.Mode // edit or view
	owner  bool      // may rename, move and delete it (an owner token)
	link   string    // the link used, "" for the API token or a token
	handle string    // the {id} used with a token: the document's handle
	admin  bool
	name   string // user name forced by a token
	// subject names the user of a token (its subject, or else its user
	// name): the author of the session's edits (see authors.go).
	subject string
	data    map[string]json.RawMessage // app data keys fixed by a token (a null: the key stays absent)
	exp     time.Time                  // token expiry; zero for none
}

func (g grant) canEdit() bool { return g.mode == docs.ModeEdit }

// canManage reports whether g may rename, move and delete the document.
func (g grant) canManage() bool { return g.owner || g.admin }

// byToken reports whether g comes from a token.
func (g grant) byToken() bool { return g.handle != "" }

// fixesData returns a key of change, a change of app data, that the
// grant's token sets to another value.
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

// A credential is what a request presents besides a link in its URL.
type credential struct {
	admin bool
	token *access.Claims             // a verified token
	data  map[string]json.RawMessage // the token's app data, parsed
}

// isAdmin reports whether the request carries the configured API token.
func (s *Server) isAdmin(r *http.Request) bool {
	return access.TokenEqual(access.Bearer(r.Header.Get("Authorization")), s.cfg.APIToken)
}

// credentialOf reads the request's API token or token. A token that does
// not verify is answered here (401) and ok is false.
func (s *Server) credentialOf(w http.ResponseWriter, r *http.Request) (c credential, ok bool) {
	bearer := access.Bearer(r.Header.Get("Authorization"))
	if access.TokenEqual(bearer, s.cfg.APIToken) {
		return credential{admin: true}, true
	}
	tok := r.URL.Query().Get("token")
	if access.IsJWT(bearer) {
		tok = bearer
	}
	if tok == "" {
		return c, true
	}
	claims, err := s.tokens.Verify(r.Context(), tok)
	if err == nil {
		c.data, err = s.checkClaims(claims)
	}
	if err != nil {
		s.tokenRefused(w, r, err)
		return c, false
	}
	c.token = &claims
	return c, true
}

// checkClaims checks what a token's signer may have got wrong that a
// session would refuse: the name and the app data. It returns the data.
func (s *Server) checkClaims(c access.Claims) (map[string]json.RawMessage, error) {
	if c.Name != "" {
		if err := presence.CheckProfile(c.Name, palette[0]); err != nil {
			return nil, fmt.Errorf(`%w: "name": %v`, access.ErrInvalid, err)
		}
	}
	if len(c.Data) == 0 {
		return nil, nil
	}
	data, err := presence.ParseData(c.Data, s.cfg.MaxUserDataBytes)
	if err != nil {
		return nil, fmt.Errorf(`%w: "data": %v`, access.ErrInvalid, err)
	}
	return data, nil
}

// tokenErrorCode is the problem code of a token that does not verify:
// token_expired, token_not_yet_valid, or else invalid_token.
func tokenErrorCode(err error) string {
	switch {
	case errors.Is(err, access.ErrExpired):
		return "token_expired"
	case errors.Is(err, access.ErrNotYetValid):
		return "token_not_yet_valid"
	}
	return "invalid_token"
}

// tokenRefused answers a request whose token does not verify: 401 with
// invalid_token, token_expired or token_not_yet_valid.
func (s *Server) tokenRefused(w http.ResponseWriter, r *http.Request, err error) {
	code := tokenErrorCode(err)
	detail := strings.TrimPrefix(err.Error(), "access: ")
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="collab", error="invalid_token", error_description=%q`, strings.ReplaceAll(detail, `"`, "'")))
	s.problem(w, r, http.StatusUnauthorized, code, detail)
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

// adminWorkspace resolves the {ws} of an administrative route, answering
// the request itself unless it carries the API token and names a
// workspace.
func (s *Server) adminWorkspace(w http.ResponseWriter, r *http.Request) (wsGrant, bool) {
	if !s.requireAdmin(w, r) {
		return wsGrant{}, false
	}
	return s.workspaceAccess(w, r, r.PathValue("ws"))
}

// access resolves the {id} of a document route into a grant, answering
// the request itself when there is none. With edit set, a view-only grant
// is refused with 403.
func (s *Server) access(w http.ResponseWriter, r *http.Request, edit bool) (grant, bool) {
	id := r.PathValue("id")
	cred, ok := s.credentialOf(w, r)
	if !ok {
		return grant{}, false
	}
	var g grant
	switch {
	case cred.admin:
		g = grant{doc: id, mode: docs.ModeEdit, admin: true}
		if l, err := s.docs.ResolveLink(id); err == nil && l.Kind == "doc" {
			g.doc = l.Target
		} else if doc, ok := s.handles.OpenDoc(id); ok {
			g.doc = doc
		}
		if !s.live(w, r, g) {
			return g, false
		}
	case cred.token != nil:
		if g, ok = s.tokenGrant(w, r, cred, id); !ok {
			return g, false
		}
	default:
		l, err := s.docs.ResolveLink(id) // in a cluster, caught up on a miss
		if err != nil || l.Kind != "doc" {
			s.problem(w, r, http.StatusNotFound, "not_found", "no such document, or the link was rotated")
			return g, false
		}
		g = grant{doc: l.Target, mode: l.Mode, link: id}
	}
	if edit && !g.canEdit() {
		what := "this link is view-only"
		if g.byToken() {
			what = `the token's role is "view"`
		}
		s.problem(w, r, http.StatusForbidden, "forbidden", what)
		return g, false
	}
	return g, true
}

// tokenGrant is what a token grants on the document whose handle is id.
func (s *Server) tokenGrant(w http.ResponseWriter, r *http.Request, cred credential, id string) (grant, bool) {
	c := cred.token
	doc, ok := s.handles.OpenDoc(id)
	if !ok {
		s.problem(w, r, http.StatusForbidden, "forbidden", "with a token, name the document by its handle (d-…), not by a link or id")
		return grant{}, false
	}
	if c.Doc != "" {
		if tokDoc, ok := s.handles.OpenDoc(c.Doc); !ok || tokDoc != doc {
			s.problem(w, r, http.StatusForbidden, "forbidden", "the token grants another document")
			return grant{}, false
		}
		if !s.live(w, r, grant{doc: doc, handle: id}) {
			return grant{}, false
		}
	} else {
		ws, ok := s.handles.OpenWorkspace(c.Workspace)
		meta, err := s.docs.Store().Meta(doc)
		if err != nil {
			s.failFor(w, r, grant{doc: doc, handle: id}, err)
			return grant{}, false
		}
		if !ok || meta.Workspace != ws {
			s.problem(w, r, http.StatusForbidden, "forbidden", "the token grants another workspace")
			return grant{}, false
		}
	}
	// The session ends when the token stops verifying: at exp, give or
	// take the leeway.
	return grant{doc: doc, mode: roleMode(c.Role), owner: c.Role == access.RoleOwner, handle: id,
		name: c.Name, subject: cmp.Or(c.Subject, c.Name), data: cred.data, exp: c.Expires.Add(s.cfg.JWTLeeway)}, true
}

// live answers 404 unless g's document exists and is not deleted: a
// deleted document's links resolve to nothing, and its handle and
// internal id must not either (its history stays in the store; see
// trash.go).
func (s *Server) live(w http.ResponseWriter, r *http.Request, g grant) bool {
	if _, err := s.docs.Store().Meta(g.doc); err != nil { // in a cluster, caught up on a miss
		s.failFor(w, r, g, err)
		return false
	}
	return true
}

// roleMode is the mode of a token's role: edit for editors and owners.
func roleMode(r access.Role) docs.Mode {
	if r == access.RoleView {
		return docs.ModeView
	}
	return docs.ModeEdit
}

// A wsGrant is what a request may do with one workspace.
type wsGrant struct {
	ws    string    // the workspace's internal id
	mode  docs.Mode // edit: add files to it
	owner bool      // rename, move and delete its files
	admin bool
	token *credential // the token it comes from, if any
	exp   time.Time   // the token's expiry, with the leeway; zero for none
}

// wsAuthor is the author of what wg's caller writes over REST: the
// token's, else the caller's X-Collab-Author, or "api".
func (s *Server) wsAuthor(r *http.Request, wg wsGrant) string {
	if sub := wg.subject(); sub != "" {
		return s.authorID("token", sub)
	}
	return authorOf(r)
}

func (wg wsGrant) subject() string {
	if wg.token == nil {
		return ""
	}
	return cmp.Or(wg.token.token.Subject, wg.token.token.Name)
}

// workspaceAccess resolves id, a workspace's link (or, with a token, its
// handle), into a grant, answering the request itself when there is none.
func (s *Server) workspaceAccess(w http.ResponseWriter, r *http.Request, id string) (wsGrant, bool) {
	cred, ok := s.credentialOf(w, r)
	if !ok {
		return wsGrant{}, false
	}
	switch {
	case cred.admin:
		if l, err := s.docs.ResolveLink(id); err == nil && l.Kind == "workspace" {
			id = l.Target
		} else if ws, ok := s.handles.OpenWorkspace(id); ok {
			id = ws
		} else if _, err := s.docs.GetWorkspace(id); err != nil {
			s.problem(w, r, http.StatusNotFound, "not_found", "no such workspace")
			return wsGrant{}, false
		}
		return wsGrant{ws: id, mode: docs.ModeEdit, owner: true, admin: true}, true
	case cred.token != nil:
		c := cred.token
		ws, ok := s.handles.OpenWorkspace(id)
		switch {
		case !ok:
			s.problem(w, r, http.StatusForbidden, "forbidden", "with a token, name the workspace by its handle (w-…), not by a link or id")
			return wsGrant{}, false
		case c.Workspace == "":
			s.problem(w, r, http.StatusForbidden, "forbidden", "the token grants one document, not its workspace")
			return wsGrant{}, false
		}
		if tokWS, ok := s.handles.OpenWorkspace(c.Workspace); !ok || tokWS != ws {
			s.problem(w, r, http.StatusForbidden, "forbidden", "the token grants another workspace")
			return wsGrant{}, false
		}
		return wsGrant{ws: ws, mode: roleMode(c.Role), owner: c.Role == access.RoleOwner, token: &cred, exp: c.Expires.Add(s.cfg.JWTLeeway)}, true
	}
	l, err := s.docs.ResolveLink(id)
	if err != nil || l.Kind != "workspace" {
		s.problem(w, r, http.StatusNotFound, "not_found", "no such workspace, or the link was rotated")
		return wsGrant{}, false
	}
	return wsGrant{ws: l.Target, mode: l.Mode, owner: l.Mode == docs.ModeEdit}, true
}

// fileGrant is what wg grants on m, a document of its workspace, named as
// the caller may see it: by its handle for a token, else by its edit link
// (or view link, for a view-only grant).
func (s *Server) fileGrant(wg wsGrant, m docs.Meta) grant {
	g := grant{doc: m.ID, mode: wg.mode, owner: wg.owner}
	switch {
	case wg.token != nil:
		g.handle = s.handles.Doc(m.ID)
	case wg.mode == docs.ModeEdit:
		g.link = m.EditLink
	default:
		g.link = m.ViewLink
	}
	return g
}

// newEmbedKey makes the server's key, kept in the database: tokens it
// signs and handles survive a restart.
func newEmbedKey() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}
