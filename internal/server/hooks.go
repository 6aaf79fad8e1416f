package server

// Webhooks and event streams (docs/WEBHOOKS.md): the REST side of package
// hooks. Who may do what:
//
//   - A workspace's owners manage its endpoints, which receive its
//     documents' events: its edit link (or the API token, with the
//     workspace's link, handle or id), whose endpoints receive edit links
//     (audience hooks.Edit); and an owner token of the workspace, which
//     sees and manages only the endpoints created with a token, whose
//     events name documents by handle and carry no link (hooks.Token).
//     The edit link manages those too. A view link, or a view or edit
//     token, may not.
//   - The API token manages the server-wide endpoints (/api/admin/hooks),
//     which receive every document's events with internal ids.
//   - Streams (streams.go): a document's link or token follows that
//     document, a workspace's link or token its documents, the API token
//     everything (/api/admin/events); a view link's stream never carries
//     an edit link, a token's no link at all.
//   - A rotation of a workspace's links disables the endpoints its old
//     edit link created or last changed (hooks.Endpoint.ByLink), and ends
//     the old links' streams.

import (
	"fmt"
	"net/http"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/hooks"
)

// hookView is an endpoint on the wire; Secret only in the answer to its
// creation.
type hookView struct {
	ID             string        `json:"id"`
	URL            string        `json:"url"`
	Types          []string      `json:"types"`
	Description    string        `json:"description,omitempty"`
	Enabled        bool          `json:"enabled"`
	DisabledReason string        `json:"disabledReason,omitempty"`
	Created        string        `json:"created"`
	Updated        string        `json:"updated"`
	Secret         string        `json:"secret,omitempty"`
	Audience       string        `json:"audience"`          // how its events name documents: "links", "handles" or "admin"
	Pending        *deliveryView `json:"pending,omitempty"` // the event under way, once attempted
}

// deliveryView is a delivery log record on the wire.
type deliveryView struct {
	Event        string          `json:"event"`
	Type         string          `json:"type"`
	Status       string          `json:"status"`
	Attempts     int             `json:"attempts"`
	FirstAttempt string          `json:"firstAttempt,omitempty"`
	NextAttempt  string          `json:"nextAttempt,omitempty"`
	Log          []hooks.Attempt `json:"log"`
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

func viewHook(in hooks.Info) hookView {
	v := hookView{ID: in.ID, URL: in.URL, Types: in.Types, Description: in.Description, Enabled: in.Enabled, DisabledReason: in.DisabledReason,
		Created: stamp(in.Created), Updated: stamp(in.Updated), Secret: in.Secret, Audience: audienceNames[in.Audience()]}
	if v.Types == nil {
		v.Types = []string{}
	}
	if in.Pending != nil {
		d := viewDelivery(*in.Pending)
		v.Pending = &d
	}
	return v
}

func viewDelivery(d hooks.Delivery) deliveryView {
	v := deliveryView{Event: d.Event, Type: d.Type, Status: d.Status, Attempts: d.Attempts, FirstAttempt: stamp(d.FirstAttempt), NextAttempt: stamp(d.NextAttempt), Log: d.Log}
	if v.Log == nil {
		v.Log = []hooks.Attempt{}
	}
	return v
}

// audienceNames are the audiences of endpoints on the wire.
var audienceNames = map[hooks.Audience]string{hooks.Edit: "links", hooks.Token: "handles", hooks.Admin: "admin"}

// A hookCaller is who calls a hooks route, and on whose endpoints.
type hookCaller struct {
	scope string // the workspace's internal id; "" for the server-wide endpoints
	token bool   // an owner token: it sees and manages the endpoints of the Token audience only
	link  bool   // the workspace's edit link (see hooks.Endpoint.ByLink)
}

// audience is what the caller's new endpoints' events show: what the
// caller may see itself.
func (c hookCaller) audience() hooks.Audience {
	switch {
	case c.scope == "":
		return hooks.Admin
	case c.token:
		return hooks.Token
	}
	return hooks.Edit
}

// hookCaller resolves who calls a hooks route: a workspace's owner (its
// edit link, an owner token of it, or the API token), or on
// /api/admin/hooks the API token.
func (s *Server) hookCaller(w http.ResponseWriter, r *http.Request) (hookCaller, bool) {
	if r.PathValue("ws") == "" {
		return hookCaller{}, s.requireAdmin(w, r)
	}
	wg, ok := s.workspaceAccess(w, r, r.PathValue("ws"))
	switch {
	case !ok:
		return hookCaller{}, false
	case wg.token != nil && !wg.owner:
		s.problem(w, r, http.StatusForbidden, "forbidden", `webhooks are managed by the workspace's owners: the token's role is not "owner"`)
		return hookCaller{}, false
	case wg.mode != docs.ModeEdit:
		s.problem(w, r, http.StatusForbidden, "forbidden", "this workspace link is view-only: webhooks are managed with its edit link")
		return hookCaller{}, false
	}
	return hookCaller{scope: wg.ws, token: wg.token != nil, link: !wg.admin && wg.token == nil}, true
}

// hookOf resolves the route's {hook} for c: a token sees only the
// endpoints made with a token (the others' events carry links, and so may
// their URLs), and any other is not found for it.
func (s *Server) hookOf(w http.ResponseWriter, r *http.Request) (hookCaller, hooks.Info, bool) {
	c, ok := s.hookCaller(w, r)
	if !ok {
		return c, hooks.Info{}, false
	}
	in, err := s.hooks.Get(c.scope, r.PathValue("hook"))
	if err == nil && c.token && in.Audience() != hooks.Token {
		err = fmt.Errorf("%w: no endpoint %q made with a token here", hooks.ErrNotFound, r.PathValue("hook"))
	}
	if err != nil {
		s.fail(w, r, err)
		return c, in, false
	}
	return c, in, true
}

// hookParams is the body of a create or an update.
type hookParams struct {
	URL         *string   `json:"url"`
	Types       *[]string `json:"types"`
	Description *string   `json:"description"`
	Enabled     *bool     `json:"enabled"`
}

func (p hookParams) params(c hookCaller) hooks.Params {
	return hooks.Params{URL: p.URL, Types: p.Types, Description: p.Description, Enabled: p.Enabled, ByLink: c.link}
}

func (s *Server) handleCreateHook(w http.ResponseWriter, r *http.Request) {
	c, ok := s.hookCaller(w, r)
	if !ok {
		return
	}
	var p hookParams
	if !s.decodeJSON(w, r, &p) {
		return
	}
	ep, err := s.hooks.Create(c.scope, c.audience(), p.params(c))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", r.URL.Path+"/"+ep.ID)
	writeJSON(w, http.StatusCreated, viewHook(hooks.Info{Endpoint: ep}))
}

func (s *Server) handleListHooks(w http.ResponseWriter, r *http.Request) {
	c, ok := s.hookCaller(w, r)
	if !ok {
		return
	}
	out := []hookView{}
	for _, in := range s.hooks.List(c.scope) {
		if !c.token || in.Audience() == hooks.Token {
			out = append(out, viewHook(in))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"hooks": out})
}

func (s *Server) handleGetHook(w http.ResponseWriter, r *http.Request) {
	if _, in, ok := s.hookOf(w, r); ok {
		writeJSON(w, http.StatusOK, viewHook(in))
	}
}

func (s *Server) handlePatchHook(w http.ResponseWriter, r *http.Request) {
	c, _, ok := s.hookOf(w, r)
	if !ok {
		return
	}
	var p hookParams
	if !s.decodeJSON(w, r, &p) {
		return
	}
	in, err := s.hooks.Update(c.scope, r.PathValue("hook"), p.params(c))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewHook(in))
}

func (s *Server) handleDeleteHook(w http.ResponseWriter, r *http.Request) {
	c, _, ok := s.hookOf(w, r)
	if !ok {
		return
	}
	if err := s.hooks.Delete(c.scope, r.PathValue("hook")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleHookDeliveries(w http.ResponseWriter, r *http.Request) {
	c, _, ok := s.hookOf(w, r)
	if !ok {
		return
	}
	scope := c.scope
	limit, err := limitParam(r, 100, 1000)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var before uint64
	if b := r.URL.Query().Get("before"); b != "" {
		if before, err = s.hooks.ParseEventID(b); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	ds, err := s.hooks.Deliveries(scope, r.PathValue("hook"), before, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]deliveryView, len(ds))
	for i, d := range ds {
		out[i] = viewDelivery(d)
	}
	body := map[string]any{"deliveries": out}
	if len(ds) == limit {
		body["next"] = ds[len(ds)-1].Event
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handleRedeliver(w http.ResponseWriter, r *http.Request) {
	c, _, ok := s.hookOf(w, r)
	if !ok {
		return
	}
	d, err := s.hooks.Redeliver(c.scope, r.PathValue("hook"), r.PathValue("event"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, viewDelivery(d))
}
