package server

import (
	"cmp"
	"encoding/json"
	"fmt"
	"golang.org/x/time/rate"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/collab-editor/collab/internal/access"
	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/presence"
)

// handleListAll enumerates every document (administrators only).
func (s *Server) handleListAll(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	limit, err := limitParam(r, 100, 1000)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	metas, err := s.docs.Store().ListAll(r.URL.Query().Get("after"), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]docView, len(metas))
	for i, m := range metas {
		out[i] = s.viewFor(m, grant{doc: m.ID, mode: docs.ModeEdit, admin: true})
	}
	body := map[string]any{"docs": out}
	if len(metas) == limit {
		body["next"] = metas[len(metas)-1].ID
	}
	writeJSON(w, http.StatusOK, body)
}

// handleRotate replaces a document's links; sessions opened with the old
// ones are closed with 4003.
func (s *Server) handleRotate(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	g, ok := s.access(w, r, true)
	if !ok {
		return
	}
	oldEdit, oldView, edit, view, err := s.docs.RotateLinks("doc", g.doc)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	s.closeLinks(g.doc, oldEdit, oldView)
	s.endStreams(oldEdit, oldView)
	s.tellRotated(g.doc, oldEdit, oldView)
	writeJSON(w, http.StatusOK, map[string]any{"links": linksView{Edit: edit, View: view}})
}

// handleRotateWorkspace replaces a workspace's links.
func (s *Server) handleRotateWorkspace(w http.ResponseWriter, r *http.Request) {
	wg, ok := s.adminWorkspace(w, r)
	if !ok {
		return
	}
	oldEdit, oldView, edit, view, err := s.docs.RotateLinks("workspace", wg.ws)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// What the old links opened ends with them: their event streams, and
	// the webhook endpoints the old edit link made or last changed
	// (disabled until the new link's holder enables them again).
	s.endStreams(oldEdit, oldView)
	s.tellRotated("", oldEdit, oldView)
	if _, err := s.hooks.DisableByLink(wg.ws, "the workspace's links were rotated: check this endpoint, then enable it with the new edit link"); err != nil {
		s.fail(w, r, fmt.Errorf("the links were rotated, but the old edit link's webhook endpoints could not be disabled (rotate again): %w", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"links": linksView{Edit: edit, View: view}})
}

// closeLinks closes the sessions of a document opened with any of links.
func (s *Server) closeLinks(doc string, links ...string) {
	s.mu.Lock()
	r := s.rooms[doc]
	s.mu.Unlock()
	if r == nil {
		return
	}
	r.mu.Lock()
	var victims []*session
	for c := range r.clients {
		for _, l := range links {
			if c.grant.link == l {
				victims = append(victims, c)
			}
		}
	}
	r.mu.Unlock()
	for _, c := range victims {
		c.closeWith(closeForbidden, "the link was rotated")
	}
}

// handleEmbedToken mints a token for one document (administrators only:
// a host's server calls this when it has no secret of its own to sign
// tokens with).
func (s *Server) handleEmbedToken(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	g, ok := s.access(w, r, true)
	if !ok {
		return
	}
	if _, err := s.docs.Store().Meta(g.doc); err != nil {
		s.failFor(w, r, g, err)
		return
	}
	h := s.handles.Doc(g.doc)
	s.mintToken(w, r, access.Claims{Doc: h}, h)
}

// handleWorkspaceToken mints a token for every document of a workspace
// (administrators only).
func (s *Server) handleWorkspaceToken(w http.ResponseWriter, r *http.Request) {
	wg, ok := s.adminWorkspace(w, r)
	if !ok {
		return
	}
	if _, err := s.docs.GetWorkspace(wg.ws); err != nil {
		s.fail(w, r, err)
		return
	}
	s.mintToken(w, r, access.Claims{Workspace: s.handles.Workspace(wg.ws)}, "")
}

// mintToken reads a token request's body into c, a token's scope, and
// answers with the token; with a document's handle, with its embed URL
// too.
func (s *Server) mintToken(w http.ResponseWriter, r *http.Request, c access.Claims, doc string) {
	var p struct {
		Role       string          `json:"role"`
		Mode       string          `json:"mode"` // the older name of role
		Name       string          `json:"name"`
		Subject    string          `json:"subject"`
		Data       json.RawMessage `json:"data"`
		TTLSeconds int             `json:"ttlSeconds"`
	}
	if !s.decodeJSON(w, r, &p) {
		return
	}
	if p.Role != "" && p.Mode != "" && p.Role != p.Mode {
		s.problem(w, r, http.StatusBadRequest, "invalid", `give "role" (or its older name "mode"), not both`)
		return
	}
	c.Role = access.Role(cmp.Or(p.Role, p.Mode))
	switch c.Role {
	case access.RoleView, access.RoleEdit, access.RoleOwner:
	default:
		s.problem(w, r, http.StatusBadRequest, "invalid", `role must be "view", "edit" or "owner"`)
		return
	}
	if p.TTLSeconds == 0 {
		p.TTLSeconds = 3600
	}
	if p.TTLSeconds < 0 || p.TTLSeconds > 7*24*3600 {
		s.problem(w, r, http.StatusBadRequest, "invalid", "ttlSeconds must be 1 to 604800 (one week)")
		return
	}
	// A name no session could join with is refused now, not at every join.
	if p.Name != "" {
		if err := presence.CheckProfile(p.Name, palette[0]); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if len(p.Subject) > access.MaxSubject || !utf8.ValidString(p.Subject) {
		s.problem(w, r, http.StatusBadRequest, "invalid", fmt.Sprintf("subject must be at most %d bytes of UTF-8", access.MaxSubject))
		return
	}
	c.Name, c.Subject = p.Name, p.Subject
	if p.Data != nil {
		// The keys the session will show and cannot change; kept compact.
		data, err := presence.ParseData(p.Data, s.cfg.MaxUserDataBytes)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		c.Data = mustJSON(data)
	}
	now := s.cfg.Now()
	c.IssuedAt, c.Expires = now, now.Add(time.Duration(p.TTLSeconds)*time.Second)
	tok, err := s.tokens.Mint(c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := map[string]any{"token": tok, "expires": c.Expires.UTC().Format(timeLayout), "handle": cmp.Or(c.Doc, c.Workspace)}
	if doc != "" {
		// The URL names the document by its handle: its internal id would
		// be its first edit link, and its view link would outlive the token.
		out["url"] = "/embed/" + doc + "?token=" + tok
	}
	writeJSON(w, http.StatusCreated, out)
}

// admitAddr counts a new WebSocket connection against its client address,
// refusing it (429) beyond MaxConnsPerAddr open at once or beyond
// ConnsPerSecond new ones: every limit of a session starts afresh with a
// new connection, so one that reconnects as fast as it can would escape
// them.
func (s *Server) admitAddr(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.MaxConnsPerAddr <= 0 {
		return true
	}
	host := s.clientAddr(r)
	s.mu.Lock()
	n := s.conns[host]
	if n >= s.cfg.MaxConnsPerAddr {
		s.mu.Unlock()
		s.problem(w, r, http.StatusTooManyRequests, "too_many_connections", fmt.Sprintf("at most %d connections per client address", s.cfg.MaxConnsPerAddr))
		return false
	}
	lim := s.connRate[host]
	if lim == nil {
		if len(s.connRate) >= 4096 {
			s.forgetIdleRates()
		}
		lim = rate.NewLimiter(rate.Limit(s.cfg.ConnsPerSecond), connBurst(s.cfg.ConnsPerSecond))
		s.connRate[host] = lim
	}
	if !lim.Allow() {
		s.mu.Unlock()
		w.Header().Set("Retry-After", "1")
		s.problem(w, r, http.StatusTooManyRequests, "too_many_connections", fmt.Sprintf("more than %g new connections per second from one client address", s.cfg.ConnsPerSecond))
		return false
	}
	s.conns[host] = n + 1
	s.mu.Unlock()
	return true
}

// connBurst is the burst of new connections an address may open at once:
// ten seconds' worth, so that a classroom behind one address can open
// the page together.
func connBurst(perSecond float64) int { return max(1, int(10*perSecond)) }

// forgetIdleRates drops the connection-rate limiters that are full again:
// a new one would be the same. Called with mu held.
func (s *Server) forgetIdleRates() {
	for host, lim := range s.connRate {
		if lim.Tokens() >= float64(lim.Burst()) {
			delete(s.connRate, host)
		}
	}
}

// releaseAddr undoes admitAddr when a session ends.
func (s *Server) releaseAddr(r *http.Request) {
	if s.cfg.MaxConnsPerAddr <= 0 || r == nil {
		return
	}
	host := s.clientAddr(r)
	s.mu.Lock()
	if s.conns[host]--; s.conns[host] <= 0 {
		delete(s.conns, host)
	}
	s.mu.Unlock()
}
