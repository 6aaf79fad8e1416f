package server

// App events (docs/PROTOCOL.md, "event"): an application's own messages,
// a name and a small JSON payload, sent by a session, by the app's backend
// over REST to one document's sessions, or by the administrator to every
// session of the server. They are ephemeral: not in the history, not kept,
// and a session that is far behind skips them (see sendUnlessBehind).
//
// Every event, whatever its source, is an appEvent given to room.emit.
//
// App data, each client's JSON object, lives in presence with its name
// and colour (presence.User.Data), and reaches everyone in the same user
// messages: in a cluster mode it crosses nodes with the rest of presence,
// as events cross them through emit.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"unicode/utf8"
)

// Senders of events that are not sessions (appEvent.From).
const (
	fromAPI   = "api"   // POST /api/docs/{id}/events with an edit link or an edit token
	fromAdmin = "admin" // the API token
)

// appEvent is one app event on its way to a document's sessions. It names
// its sender and receivers by public user ids, never by client ids, so it
// can be shown to anyone and carried anywhere as it is.
type appEvent struct {
	name string
	data json.RawMessage // compact JSON
	from string          // the sender's user id, fromAPI or fromAdmin
	to   map[string]bool // user ids; nil for every session
}

// eventMsg is an event as its receivers get it.
type eventMsg struct {
	Type string          `json:"type"`
	Name string          `json:"name"`
	Data json.RawMessage `json:"data"`
	From string          `json:"from"`
}

// newEvent checks an event's fields as a client or the API sent them.
func (s *Server) newEvent(name *string, data json.RawMessage, to []string, from string) (appEvent, error) {
	if name == nil || !validEventName(*name) {
		return appEvent{}, fmt.Errorf("%w: an event's name must be 1-64 characters of A-Z a-z 0-9 _ - . : /", errInvalid)
	}
	e := appEvent{name: *name, data: json.RawMessage("null"), from: from}
	if data != nil {
		var b bytes.Buffer
		if !utf8.Valid(data) || json.Compact(&b, data) != nil {
			return appEvent{}, fmt.Errorf("%w: an event's data must be JSON in UTF-8", errInvalid)
		}
		if b.Len() > s.cfg.MaxEventBytes {
			return appEvent{}, fmt.Errorf("%w: the event's data takes %d bytes of JSON, more than %d", errInvalid, b.Len(), s.cfg.MaxEventBytes)
		}
		e.data = b.Bytes()
	}
	if to != nil {
		if len(to) == 0 || len(to) > s.cfg.MaxSessionsPerDoc {
			return appEvent{}, fmt.Errorf("%w: to must list 1-%d user ids; leave it out to send to everyone", errInvalid, s.cfg.MaxSessionsPerDoc)
		}
		e.to = make(map[string]bool, len(to))
		for _, u := range to {
			if !validID(u) {
				return appEvent{}, fmt.Errorf("%w: to must list user ids (as in joined.user and users[].id)", errInvalid)
			}
			e.to[u] = true
		}
	}
	return e, nil
}

// validEventName accepts 1-64 of [A-Za-z0-9_-.:/].
func validEventName(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-' || b == '.' || b == ':' || b == '/') {
			return false
		}
	}
	return true
}

// emit queues e for the room's sessions it is addressed to, except skip,
// and returns how many sessions it was queued for: those of e.to's users,
// or every session. A session far behind skips it (sendUnlessBehind) and
// is not counted. Receivers get one sender's events in the order it sent
// them: a session's messages are handled one at a time, and each emit
// queues to every receiver under mu.
//
// emit is the one way an app event reaches sessions, from a session or
// from the document's REST route: in a cluster it publishes e to the
// document's rooms on the other nodes, and each of them gives it to its
// own sessions with emitHere (see bus.go). The count is this node's
// sessions only. An appEvent names users by their public ids and holds
// no pointer but skip, which is always local (the sending session, on
// this node).
func (r *room) emit(e appEvent, skip *session) int {
	return r.deliverEvent(e, skip, true)
}

// emitHere is emit to this node's sessions only: an event another node
// published, or one of the administrator's, which goes to every node on
// its own.
func (r *room) emitHere(e appEvent, skip *session) int {
	return r.deliverEvent(e, skip, false)
}

// deliverEvent is emit, publishing e to the other nodes when publish is
// set, and counting it as an event sent (an event from another node was
// counted there).
func (r *room) deliverEvent(e appEvent, skip *session, publish bool) int {
	msg := mustJSON(eventMsg{Type: "event", Name: e.name, Data: e.data, From: e.from})
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0
	}
	if publish && r.peers != nil {
		r.publishBus(busMsg{Kind: kindEvent, Event: e.wire()})
	}
	n := 0
	for c := range r.clients {
		if c == skip || e.to != nil && !e.to[c.user] {
			continue
		}
		if c.sendUnlessBehind(msg) {
			n++
		}
	}
	if publish || r.peers == nil {
		r.srv.metrics.events.Inc()
	}
	r.srv.metrics.eventDeliveries.Add(float64(n))
	return n
}

// eventFlood is how many bursts of events in a row a session may have
// refused, none let through, before it is closed with closeRateLimited
// like a session flooding operations: it ignores the rate_limited errors.
// A client only a little too fast gets events through as the limit
// refills, which starts the count again, and is never closed; a flood is
// cut off after a few milliseconds' worth instead of costing the server
// a refusal per message for as long as it lasts.
const eventFlood = 10

// event handles a session's event message: checked, limited, emitted, and
// acknowledged with the count of sessions it reached when it has an id.
func (s *Server) event(c *session, m inMsg) {
	if m.ID != "" && !validID(m.ID) {
		// Not echoed: the id could be any string, an op id too.
		c.sendError("invalid", "an event's id must be 1-64 characters of A-Z a-z 0-9 _ -", "")
		return
	}
	if !c.eventLimit.AllowN(s.cfg.Now(), 1) {
		s.metrics.eventsRefused.Inc()
		c.eventsRefused++
		if c.eventsRefused > eventFlood*c.eventLimit.Burst() {
			s.metrics.dropped.WithLabelValues(dropRateLimited).Inc()
			c.sendError("rate_limited", fmt.Sprintf("%d events in a row beyond %g per second: the session is closed", c.eventsRefused, s.cfg.EventsPerSecond), m.ID)
			c.closeWith(closeRateLimited, "rate limit exceeded: slow down and resume")
			return
		}
		// An event with an id is answered; of the others, the first
		// refused of a run says so.
		if m.ID != "" || !c.eventWarned {
			c.eventWarned = c.eventWarned || m.ID == ""
			c.sendError("rate_limited", fmt.Sprintf("more than %g events per second: this one was refused", s.cfg.EventsPerSecond), m.ID)
		}
		return
	}
	c.eventsRefused, c.eventWarned = 0, false
	r := c.room
	if c.readOnly && !r.viewerEvents.Load() {
		s.metrics.eventsRefused.Inc()
		c.sendError("read_only", "view-only sessions may not send events to this document (its setting viewerEvents is off)", m.ID)
		return
	}
	e, err := s.newEvent(m.Name, m.Data, m.To, c.user)
	if err != nil {
		s.metrics.eventsRefused.Inc()
		c.sendError("invalid", err.Error(), m.ID)
		return
	}
	var skip *session
	if m.ExcludeSelf {
		skip = c
	}
	n := r.emit(e, skip)
	if m.ID != "" {
		c.send(mustJSON(eventAckMsg{Type: "eventAck", ID: m.ID, Delivered: n}))
	}
}

type eventAckMsg struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	Delivered int    `json:"delivered"`
}

// eventRequest is the body of the REST routes that send events.
type eventRequest struct {
	Name *string         `json:"name"`
	Data json.RawMessage `json:"data"`
	To   []string        `json:"to"`
}

// handleDocEvents sends an event to a document's sessions (POST
// /api/docs/{id}/events): with the edit link or an edit token,
// limited per document like a session; with the API token, unlimited.
func (s *Server) handleDocEvents(w http.ResponseWriter, r *http.Request) {
	g, ok := s.access(w, r, true)
	if !ok {
		return
	}
	var p eventRequest
	if !s.decodeJSON(w, r, &p) {
		return
	}
	from := fromAPI
	if g.admin {
		from = fromAdmin
	}
	e, err := s.newEvent(p.Name, p.Data, p.To, from)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	if _, err := s.docs.Store().Meta(g.doc); err != nil {
		s.failFor(w, r, g, err)
		return
	}
	s.mu.Lock()
	room := s.rooms[g.doc]
	s.mu.Unlock()
	n := 0
	if room != nil {
		if !g.admin && !room.apiEvents.AllowN(s.cfg.Now(), 1) {
			s.metrics.eventsRefused.Inc()
			w.Header().Set("Retry-After", "1")
			s.failFor(w, r, g, fmt.Errorf("%w: more than %g events per second to this document", errRateLimited, s.cfg.EventsPerSecond))
			return
		}
		n = room.emit(e, nil)
	} else if s.cfg.Bus != nil && s.emitElsewhere(g.doc, e, !g.admin) {
		s.metrics.eventsRefused.Inc()
		w.Header().Set("Retry-After", "1")
		s.failFor(w, r, g, fmt.Errorf("%w: more than %g events per second to this document", errRateLimited, s.cfg.EventsPerSecond))
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"delivered": n})
}

// handleAdminEvents sends an event to every session of the server (of
// every node, in a cluster), or to the sessions of chosen users wherever
// they are (POST /api/admin/events, API token): an announcement. The
// counts are this node's.
func (s *Server) handleAdminEvents(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	var p eventRequest
	if !s.decodeJSON(w, r, &p) {
		return
	}
	e, err := s.newEvent(p.Name, p.Data, p.To, fromAdmin)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.cfg.Bus != nil {
		s.publishBus(busAll, busMsg{Kind: kindEvent, Event: e.wire()})
		s.metrics.events.Inc()
	}
	n, docs := 0, 0
	for _, room := range s.liveRooms() {
		if k := room.emitHere(e, nil); k > 0 {
			n += k
			docs++
		}
	}
	writeJSON(w, http.StatusOK, map[string]int{"delivered": n, "documents": docs})
}
