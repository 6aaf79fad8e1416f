package server

// Webhooks and event streams (docs/WEBHOOKS.md): the REST side of package
// hooks. Who may do what:
//
//   - A workspace's edit link (or the API token, with the workspace's
//     link or id) manages the workspace's endpoints, which receive its
//     documents' events with their edit links. A view link may not.
//   - The API token manages the server-wide endpoints (/api/admin/hooks),
//     which receive every document's events with internal ids.
//   - Streams: a document's link follows that document, a workspace's
//     link its documents, the API token everything (/api/admin/events);
//     a view link's stream never carries an edit link.

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
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
		Created: stamp(in.Created), Updated: stamp(in.Updated), Secret: in.Secret}
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

// hookScope resolves whose endpoints a hooks route manages: a workspace's
// (its internal id), with its edit link or the API token, or the
// server's ("") on /api/admin/hooks, with the API token.
func (s *Server) hookScope(w http.ResponseWriter, r *http.Request) (string, bool) {
	if r.PathValue("ws") == "" {
		return "", s.requireAdmin(w, r)
	}
	wg, ok := s.workspaceAccess(w, r, r.PathValue("ws"))
	switch {
	case !ok:
		return "", false
	case wg.token != nil:
		// Its endpoints receive edit links, which a token never shows.
		s.problem(w, r, http.StatusForbidden, "forbidden", "webhooks are managed with the workspace's edit link or the API token, not a token")
		return "", false
	case wg.mode != docs.ModeEdit:
		s.problem(w, r, http.StatusForbidden, "forbidden", "this workspace link is view-only: webhooks are managed with its edit link")
		return "", false
	}
	return wg.ws, true
}

// hookParams is the body of a create or an update.
type hookParams struct {
	URL         *string   `json:"url"`
	Types       *[]string `json:"types"`
	Description *string   `json:"description"`
	Enabled     *bool     `json:"enabled"`
}

func (p hookParams) params() hooks.Params {
	return hooks.Params{URL: p.URL, Types: p.Types, Description: p.Description, Enabled: p.Enabled}
}

func (s *Server) handleCreateHook(w http.ResponseWriter, r *http.Request) {
	scope, ok := s.hookScope(w, r)
	if !ok {
		return
	}
	var p hookParams
	if !s.decodeJSON(w, r, &p) {
		return
	}
	ep, err := s.hooks.Create(scope, p.params())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", r.URL.Path+"/"+ep.ID)
	writeJSON(w, http.StatusCreated, viewHook(hooks.Info{Endpoint: ep}))
}

func (s *Server) handleListHooks(w http.ResponseWriter, r *http.Request) {
	scope, ok := s.hookScope(w, r)
	if !ok {
		return
	}
	list := s.hooks.List(scope)
	out := make([]hookView, len(list))
	for i, in := range list {
		out[i] = viewHook(in)
	}
	writeJSON(w, http.StatusOK, map[string]any{"hooks": out})
}

func (s *Server) handleGetHook(w http.ResponseWriter, r *http.Request) {
	scope, ok := s.hookScope(w, r)
	if !ok {
		return
	}
	in, err := s.hooks.Get(scope, r.PathValue("hook"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewHook(in))
}

func (s *Server) handlePatchHook(w http.ResponseWriter, r *http.Request) {
	scope, ok := s.hookScope(w, r)
	if !ok {
		return
	}
	var p hookParams
	if !s.decodeJSON(w, r, &p) {
		return
	}
	in, err := s.hooks.Update(scope, r.PathValue("hook"), p.params())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewHook(in))
}

func (s *Server) handleDeleteHook(w http.ResponseWriter, r *http.Request) {
	scope, ok := s.hookScope(w, r)
	if !ok {
		return
	}
	if err := s.hooks.Delete(scope, r.PathValue("hook")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleHookDeliveries(w http.ResponseWriter, r *http.Request) {
	scope, ok := s.hookScope(w, r)
	if !ok {
		return
	}
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
	scope, ok := s.hookScope(w, r)
	if !ok {
		return
	}
	d, err := s.hooks.Redeliver(scope, r.PathValue("hook"), r.PathValue("event"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, viewDelivery(d))
}

// Event streams.

func (s *Server) handleDocStream(w http.ResponseWriter, r *http.Request) {
	g, ok := s.access(w, r, false)
	if !ok {
		return
	}
	q := hooks.Query{Doc: g.doc, Audience: hooks.View}
	switch {
	case g.admin:
		q.Audience = hooks.Admin
	case g.link == "":
		s.problem(w, r, http.StatusForbidden, "forbidden", "an event stream needs the document's link or the API token")
		return
	case g.canEdit():
		q.Audience = hooks.Edit
	}
	// The link still grants what it did: a rotation ends the stream.
	// A deleted document's link still shows its events, up to its
	// deletion, which ends the stream.
	still := func() bool {
		if g.link == "" {
			return true
		}
		l, err := s.docs.ResolveLink(g.link)
		if errors.Is(err, docs.ErrNotFound) {
			_, err := s.docs.Store().Meta(g.doc)
			return errors.Is(err, docs.ErrNotFound)
		}
		return err == nil && l.Kind == "doc" && l.Target == g.doc && l.Mode == g.mode
	}
	s.stream(w, r, q, still)
}

func (s *Server) handleWorkspaceStream(w http.ResponseWriter, r *http.Request) {
	wg, ok := s.workspaceAccess(w, r, r.PathValue("ws"))
	if !ok {
		return
	}
	q := hooks.Query{Workspace: wg.ws, Audience: hooks.View}
	switch {
	case wg.admin:
		q.Audience = hooks.Admin
	case wg.token != nil:
		s.problem(w, r, http.StatusForbidden, "forbidden", "an event stream needs the workspace's link or the API token")
		return
	case wg.mode == docs.ModeEdit:
		q.Audience = hooks.Edit
	}
	link := r.PathValue("ws")
	still := func() bool {
		if wg.admin {
			return true
		}
		l, err := s.docs.ResolveLink(link)
		return err == nil && l.Kind == "workspace" && l.Target == wg.ws && l.Mode == wg.mode
	}
	s.stream(w, r, q, still)
}

func (s *Server) handleAdminStream(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	s.stream(w, r, hooks.Query{Audience: hooks.Admin}, func() bool { return true })
}

// stream serves the events q selects as Server-Sent Events: those after
// the Last-Event-ID header (or ?lastEventId=, for clients that cannot set
// it), or, without one, those from now on; each with its id, so a client
// that reconnects with the last id it saw misses nothing and gets nothing
// twice. A comment every EventsHeartbeat keeps proxies from closing an
// idle stream. still is asked before each write whether the credential
// still grants the stream; a document's stream ends after its deletion.
// No lock is held while writing.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, q hooks.Query, still func() bool) {
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("lastEventId")
	}
	var err error
	if last != "" {
		if q.After, err = s.hooks.ParseEventID(last); err == nil {
			err = s.hooks.Resumable(q.After)
		}
	} else {
		q.After, err = s.hooks.Head()
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	// The server's read timeout is for requests, not for a stream.
	rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	write := func(b []byte) bool {
		rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteWait))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write([]byte("retry: 2000\n: collab events\n\n")) {
		return
	}
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()
	beat := time.NewTicker(s.cfg.EventsHeartbeat)
	defer beat.Stop()
	var buf bytes.Buffer
	for {
		changed := s.hooks.Changed()
		q.Limit = 100
		evs, err := s.hooks.Events(q)
		if err != nil {
			s.log.Warn("event stream: reading the journal", "err", err)
			return
		}
		if len(evs) > 0 {
			if !still() {
				return
			}
			buf.Reset()
			for _, ev := range evs {
				fmt.Fprintf(&buf, "id: %s\nevent: %s\ndata: %s\n\n", ev.ID, ev.Type, ev.Body)
			}
			if !write(buf.Bytes()) {
				return
			}
			q.After = evs[len(evs)-1].Seq
			if q.Doc != "" && evs[len(evs)-1].Type == hooks.TypeDeleted {
				return
			}
			continue
		}
		select {
		case <-r.Context().Done():
			return
		case <-s.streamsDone:
			return
		case <-changed:
		case <-beat.C:
			if !still() || !write([]byte(": ping "+strconv.FormatInt(time.Now().Unix(), 10)+"\n\n")) {
				return
			}
		}
	}
}
