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
//   - Streams: a document's link or token follows that document, a
//     workspace's link or token its documents, the API token everything
//     (/api/admin/events); a view link's stream never carries an edit
//     link, a token's no link at all.
//   - A rotation of links ends the streams opened with the old ones at
//     once, and disables the endpoints the workspace's old edit link
//     created or last changed (hooks.Endpoint.ByLink); a token's streams
//     end at its expiry.

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
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
	case g.byToken():
		q.Audience = hooks.Token
	case g.canEdit():
		q.Audience = hooks.Edit
	}
	// The link still grants what it did (a rotation ends the stream at
	// once, and this is checked again before each write). A deleted
	// document's link still shows its events, up to its deletion, which
	// ends the stream.
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
	s.stream(w, r, q, streamGrant{link: g.link, exp: g.exp, still: still})
}

func (s *Server) handleWorkspaceStream(w http.ResponseWriter, r *http.Request) {
	wg, ok := s.workspaceAccess(w, r, r.PathValue("ws"))
	if !ok {
		return
	}
	q := hooks.Query{Workspace: wg.ws, Audience: hooks.View}
	var link string
	switch {
	case wg.admin:
		q.Audience = hooks.Admin
	case wg.token != nil:
		q.Audience = hooks.Token
	case wg.mode == docs.ModeEdit:
		q.Audience, link = hooks.Edit, r.PathValue("ws")
	default:
		link = r.PathValue("ws")
	}
	still := func() bool {
		if link == "" {
			return true
		}
		l, err := s.docs.ResolveLink(link)
		return err == nil && l.Kind == "workspace" && l.Target == wg.ws && l.Mode == wg.mode
	}
	s.stream(w, r, q, streamGrant{link: link, exp: wg.exp, still: still})
}

func (s *Server) handleAdminStream(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	s.stream(w, r, hooks.Query{Audience: hooks.Admin}, streamGrant{still: func() bool { return true }})
}

// A streamGrant is what lets a stream go on.
type streamGrant struct {
	link  string      // the link it was opened with: its rotation ends the stream; "" for none
	exp   time.Time   // the token's expiry (with the leeway): the stream ends then; zero for none
	still func() bool // whether the credential still grants the stream, asked before each write
}

// A liveStream is a stream opened with a link, which a rotation ends.
type liveStream struct {
	ended chan struct{} // closed by end
	once  sync.Once
}

func (ls *liveStream) end() { ls.once.Do(func() { close(ls.ended) }) }

// watchLink registers a stream opened with link until the returned func
// is called; its channel is closed if the link is rotated meanwhile.
func (s *Server) watchLink(link string) (<-chan struct{}, func()) {
	ls := &liveStream{ended: make(chan struct{})}
	s.smu.Lock()
	if s.linkStreams == nil {
		s.linkStreams = map[string]map[*liveStream]bool{}
	}
	if s.linkStreams[link] == nil {
		s.linkStreams[link] = map[*liveStream]bool{}
	}
	s.linkStreams[link][ls] = true
	s.smu.Unlock()
	return ls.ended, func() {
		s.smu.Lock()
		delete(s.linkStreams[link], ls)
		if len(s.linkStreams[link]) == 0 {
			delete(s.linkStreams, link)
		}
		s.smu.Unlock()
	}
}

// endStreams ends the event streams opened with any of links, as a
// rotation closes the sessions opened with them (4003).
func (s *Server) endStreams(links ...string) {
	var ended []*liveStream
	s.smu.Lock()
	for _, l := range links {
		for ls := range s.linkStreams[l] {
			ended = append(ended, ls)
		}
		delete(s.linkStreams, l)
	}
	s.smu.Unlock()
	for _, ls := range ended {
		ls.end()
	}
}

// closedMsg is a stream's last message when its credential ends it: an
// event named "closed" without an id (Last-Event-ID stays the last
// event's), whose data says why, as a WebSocket's close code does (4003).
func closedMsg(code, detail string) []byte {
	return []byte("event: closed\ndata: " + string(mustJSON(map[string]string{"code": code, "detail": detail})) + "\n\n")
}

// stream serves the events q selects as Server-Sent Events: those after
// the Last-Event-ID header (or ?lastEventId=, for clients that cannot set
// it), or, without one, those from now on; each with its id, so a client
// that reconnects with the last id it saw misses nothing and gets nothing
// twice. A comment every EventsHeartbeat keeps proxies from closing an
// idle stream. The stream ends, with a closed message, when its grant
// does: at once when its link is rotated, at a token's expiry (on the
// server's clock), or when still says so before a write; a document's
// stream ends after its deletion. No lock is held while writing.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, q hooks.Query, g streamGrant) {
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
	var rotated <-chan struct{}
	if g.link != "" {
		var unwatch func()
		rotated, unwatch = s.watchLink(g.link)
		defer unwatch()
		// A rotation between the access check and watchLink did not
		// see this stream: it is seen here.
		if !g.still() {
			s.problem(w, r, http.StatusNotFound, "not_found", "no such link: it was rotated")
			return
		}
	}
	var expired <-chan struct{}
	if !g.exp.IsZero() {
		ch := make(chan struct{})
		stop := s.cfg.AfterFunc(g.exp.Sub(s.cfg.Now()), func() { close(ch) })
		defer stop()
		expired = ch
	}
	// The heartbeat: a timer on the server's clock, armed again as it
	// fires.
	var beat chan struct{}
	var stopBeat func() bool
	arm := func() {
		ch := make(chan struct{})
		beat, stopBeat = ch, s.cfg.AfterFunc(s.cfg.EventsHeartbeat, func() { close(ch) })
	}
	arm() // before the answer starts: a client that has it can move a test clock
	defer func() { stopBeat() }()
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
	revoked := func() { write(closedMsg("forbidden", "the link no longer grants this stream: it was rotated")) }
	expire := func() {
		write(closedMsg("token_expired", "the token expired: resume with a new one and the last event's id"))
	}
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
			select {
			case <-rotated:
				revoked()
				return
			case <-expired:
				expire()
				return
			default:
			}
			if !g.still() {
				revoked()
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
		case <-rotated:
			revoked()
			return
		case <-expired:
			expire()
			return
		case <-changed:
		case <-beat:
			arm()
			if !g.still() {
				revoked()
				return
			}
			if !write([]byte(": ping " + strconv.FormatInt(s.cfg.Now().Unix(), 10) + "\n\n")) {
				return
			}
		}
	}
}
