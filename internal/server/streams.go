package server

// Event streams (docs/WEBHOOKS.md, "Event streams"): the events of package
// hooks as Server-Sent Events, for a document, a workspace or the whole
// server, to whoever may see them (see hooks.go for who sees what). A
// stream ends when its credential does: a rotation of the link it was
// opened with ends it at once (endStreams, as closeLinks closes sessions),
// a token's expiry on the server's clock (Config.AfterFunc) ends it then.

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
	// over reports whether the stream must end because its link was
	// rotated, its token expired or its grant no longer holds, and then
	// says why.
	over := func() bool {
		select {
		case <-rotated:
			revoked()
			return true
		case <-expired:
			expire()
			return true
		default:
		}
		if !g.still() {
			revoked()
			return true
		}
		return false
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
			if over() {
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
		case <-expired:
		case <-changed:
			continue
		case <-beat:
			arm()
			if over() || !write([]byte(": ping "+strconv.FormatInt(s.cfg.Now().Unix(), 10)+"\n\n")) {
				return
			}
			continue
		}
		over() // rotated or expired: it says which
		return
	}
}
