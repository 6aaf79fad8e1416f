package server

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/presence"
	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/olahol/melody"
	"golang.org/x/time/rate"
)

const keyClient = "client"

// clientOf returns a melody session's session. melody's Get takes a lock
// the sent-message handler would take once per message and receiver;
// reading Keys directly is safe because handleWS fills the map before
// melody starts the session's goroutines and nothing writes it after.
func clientOf(ms *melody.Session) *session {
	c, _ := ms.Keys[keyClient].(*session)
	return c
}

// handleWS upgrades GET /api/docs/{id}/ws to the collaboration protocol.
func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	c := s.wsSession(w, r)
	if c == nil {
		return
	}
	if err := s.ws.HandleRequestWithKeys(w, r, map[string]any{keyClient: c}); err != nil {
		s.log.Debug("websocket upgrade failed", "err", err)
		if c.s == nil {
			// Never connected, so onDisconnect will not give the slot back.
			s.releaseAddr(r)
		}
	}
}

// wsSession checks a WebSocket request (the server is up, the credential
// grants the document, the address has a slot) and returns its session,
// or nil once it has answered the request itself. It is not inlined, and
// neither is newSession: handleWS's frame stays on the stack for as long
// as the connection lives, and a bigger one keeps an idle connection's
// stack from shrinking back to 8 KB (the runtime halves a stack only
// while less than a quarter of it is used).
//
//go:noinline
func (s *Server) wsSession(w http.ResponseWriter, r *http.Request) *session {
	if !s.ready() {
		s.problem(w, r, http.StatusServiceUnavailable, "unavailable", "the server is shutting down")
		return nil
	}
	g, ok := s.access(w, r, false)
	if !ok {
		return nil
	}
	if _, err := s.docs.Store().Meta(g.doc); err != nil { // in a cluster, caught up on a miss
		s.fail(w, r, err)
		return nil
	}
	if readOnlyFrom(r) {
		g.mode = docs.ModeView
	}
	if !s.admitAddr(w, r) {
		return nil
	}
	return s.newSession(g)
}

// upgradeRefused answers a request the WebSocket handshake refuses (not a
// handshake, or a foreign origin) with a problem, as the API answers every
// refusal.
func (s *Server) upgradeRefused(w http.ResponseWriter, r *http.Request, status int, reason error) {
	code := "bad_request"
	switch status {
	case http.StatusForbidden:
		code = "forbidden"
	case http.StatusInternalServerError:
		code = "internal"
	}
	s.problem(w, r, status, code, reason.Error())
}

// newSession is the session of a connection being upgraded (not inlined:
// see wsSession).
//
//go:noinline
func (s *Server) newSession(g grant) *session {
	return &session{
		srv: s, readOnly: !g.canEdit(), grant: g,
		opLimit:      rate.NewLimiter(rate.Limit(s.cfg.OpsPerSecond), int(2*s.cfg.OpsPerSecond)),
		cursorLimit:  rate.NewLimiter(rate.Limit(s.cfg.CursorsPerSecond), int(2*s.cfg.CursorsPerSecond)),
		chatLimit:    rate.NewLimiter(rate.Limit(s.cfg.ChatPerSecond), chatBurst),
		profileLimit: rate.NewLimiter(rate.Limit(s.cfg.ProfilesPerSecond), profileBurst),
		eventLimit:   rate.NewLimiter(rate.Limit(s.cfg.EventsPerSecond), int(2*s.cfg.EventsPerSecond)),
		docID:        g.doc,
	}
}

// onConnect runs before melody starts the session's goroutines: c.s is
// set before anything reads it.
func (s *Server) onConnect(ms *melody.Session) {
	clientOf(ms).s = ms
	s.open.Add(1)
}

func (s *Server) onDisconnect(ms *melody.Session) {
	c := clientOf(ms)
	if c == nil {
		return
	}
	s.open.Add(-1)
	c.mu.Lock()
	c.closed = true
	if c.expiry != nil {
		c.expiry()
	}
	c.mu.Unlock()
	s.releaseAddr(ms.Request)
	if r := c.room; r != nil {
		s.leave(r, c)
	}
}

func (s *Server) onError(ms *melody.Session, err error) {
	if errors.Is(err, melody.ErrMessageBufferFull) {
		// Not expected: client.send keeps melody's queue short. Never drop
		// silently: treat it as a slow consumer.
		if c := clientOf(ms); c != nil {
			c.dropSlow()
		}
		return
	}
	var ne net.Error
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		s.metrics.dropped.WithLabelValues(dropTooBig).Inc()
	case errors.As(err, &ne) && ne.Timeout():
		// melody's read deadline is the pong wait: the peer went silent.
		s.metrics.dropped.WithLabelValues(dropHeartbeat).Inc()
	}
	s.log.Debug("websocket error", "err", err)
}

// pongMsg answers a ping, shared by every session as a broadcast is (a
// queued message is never modified).
var pongMsg = []byte(`{"type":"pong"}`)

// sendError tells the client what went wrong with one of its messages.
func (c *session) sendError(code, msg, id string) {
	c.send(mustJSON(errorMsg{Type: "error", Code: code, Message: msg, ID: id}))
}

func (s *Server) onMessage(ms *melody.Session, data []byte) {
	c := clientOf(ms)
	if c == nil || c.ending.Load() {
		// Closing: what the client sent after the reason it is closed for
		// (a flood, say) costs nothing more.
		return
	}
	s.metrics.messagesIn.Inc()
	var m inMsg
	if err := decodeInMsg(data, &m); err != nil {
		code, msg := "bad_message", "message is not valid JSON of the protocol: "+err.Error()
		var ue *json.UnmarshalTypeError
		if errors.As(err, &ue) {
			msg = fmt.Sprintf("field %q has the wrong type", ue.Field)
		}
		c.sendError(code, msg, idOf(data))
		return
	}
	if m.Type != "join" && c.room == nil {
		c.sendError("not_joined", "send a join message first", m.ID)
		return
	}
	switch m.Type {
	case "join":
		s.join(c, m)
	case "op":
		s.submit(c, m)
	case "cursor":
		s.cursor(c, m)
	case "profile":
		s.profile(c, m)
	case "chat":
		s.chat(c, m)
	case "event":
		s.event(c, m)
	case "ping":
		// The client's own heartbeat (docs/PROTOCOL.md, ping): the answer
		// comes behind whatever is queued for it, so a pong says the
		// whole way back is moving.
		c.send(pongMsg)
	default:
		c.sendError("unknown_type", fmt.Sprintf("unknown message type %q", m.Type), m.ID)
	}
}

// idOf finds the id of a message the protocol's decoder refused, so that
// an op refused as a bad message names the op the client waits on. It
// reads the message as plain JSON, ignoring every other field.
func idOf(data []byte) string {
	var m struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(data, &m) != nil || len(m.ID) > 128 || !utf8.ValidString(m.ID) {
		return ""
	}
	return m.ID
}

// validID accepts ids clients choose: 1-64 of [A-Za-z0-9_-].
func validID(id string) bool { return docs.ValidID(id, 64) }

// validSeq accepts a decimal sequence number of 1-19 digits.
func validSeq(s string) bool {
	if len(s) == 0 || len(s) > 19 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

var palette = []string{"#e06c75", "#61afef", "#98c379", "#c678dd", "#d19a66", "#56b6c2", "#e5c07b", "#be5046"}

func (s *Server) join(c *session, m inMsg) {
	if c.room != nil {
		c.sendError("already_joined", "this session has joined already", "")
		return
	}
	clientID := m.Client
	if clientID == "" {
		clientID = strings.ReplaceAll(uuid.NewString(), "-", "")
	} else if !validID(clientID) {
		c.sendError("invalid", "client must be 1-64 characters of A-Z a-z 0-9 _ -", "")
		return
	}
	if m.Author != "" && !validID(m.Author) {
		c.sendError("invalid", "author must be 1-64 characters of A-Z a-z 0-9 _ -", "")
		return
	}
	user := s.userID(clientID)
	author := s.authorOfJoin(c.grant, m.Author, user)
	// What the join leaves out, the author's stored profile gives (read
	// without any lock); then a colour of the client's own.
	name, color := "Anonymous", palette[int(hashString(clientID)%uint32(len(palette)))]
	stored, known := s.storedAuthor(c.docID, author)
	if known {
		name, color = cmp.Or(stored.Name, name), cmp.Or(stored.Color, color)
	} else if author != user {
		color = palette[int(hashString(author)%uint32(len(palette)))]
	}
	if m.Name != nil {
		name = *m.Name
	}
	if m.Color != nil {
		color = *m.Color
	}
	if c.grant.name != "" {
		name = c.grant.name // set by the token
	}
	if err := presence.CheckProfile(name, color); err != nil {
		c.sendError("invalid", err.Error(), "")
		return
	}
	var data map[string]json.RawMessage
	if m.Data != nil {
		var err error
		if data, err = presence.ParseData(m.Data, s.cfg.MaxUserDataBytes); err != nil {
			c.sendError("invalid", err.Error(), "")
			return
		}
	}
	data = presence.MergeData(data, c.grant.data) // the token's keys win
	if n := presence.DataSize(data); n > s.cfg.MaxUserDataBytes {
		c.sendError("invalid", fmt.Sprintf("data with the token's takes %d bytes of JSON, more than %d", n, s.cfg.MaxUserDataBytes), "")
		return
	}
	prof := presence.User{Name: name, Color: color, Data: data}
	c.clientID, c.user, c.author = clientID, user, author
	if !c.grant.exp.IsZero() {
		c.mu.Lock()
		if !c.closed {
			// On the server's clock, which decided the token was valid.
			c.expiry = s.cfg.AfterFunc(c.grant.exp.Sub(s.cfg.Now()), func() {
				c.closeWith(closeForbidden, "the token expired")
			})
		}
		c.mu.Unlock()
	}
	if !c.readOnly && (m.Name != nil || m.Color != nil || c.grant.name != "") {
		// An editor says who it is: kept (see authors.go) before it
		// joins, so that history read once it is there shows it. (A
		// viewer's edits are none: a page read by thousands is not
		// thousands of writes.)
		s.saveAuthor(c.docID, author, name, color)
	}
	for {
		r, err := s.room(c.docID)
		if err != nil {
			code, _ := errorCode(err)
			c.sendError(code, err.Error(), "")
			c.closeAfter(closeNotFound, "document not found")
			return
		}
		ok, err := r.join(c, m, prof)
		if err != nil {
			code, _ := errorCode(err)
			c.sendError(code, err.Error(), "")
			return
		}
		if ok {
			s.savePresence(r)
			return
		}
		// The room closed as we arrived: get a new one.
	}
}

// userID is the public id of a client id: what others see of the session
// (presence, authors, op ids). The client id is the session's secret: an
// op id must start with it, and a resend after a reconnect proves itself
// with it, so it is never shown to anyone else; a keyed hash keeps the
// user id from being turned back into it.
func (s *Server) userID(clientID string) string {
	mac := hmac.New(sha256.New, s.userKey)
	mac.Write([]byte(clientID))
	return "u" + hex.EncodeToString(mac.Sum(nil)[:10])
}

func hashString(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// room returns the live room of a document, creating it. A document is
// loaded (read from disk) outside s.mu: other documents' joins and leaves
// do not wait for it; joins of the same document wait for the one load.
func (s *Server) room(id string) (*room, error) {
	for {
		s.mu.Lock()
		if s.draining {
			s.mu.Unlock()
			return nil, docs.ErrClosed
		}
		if r := s.rooms[id]; r != nil {
			s.mu.Unlock()
			return r, nil
		}
		if l := s.loading[id]; l != nil {
			s.mu.Unlock()
			<-l.done
			if l.err != nil {
				return nil, l.err
			}
			continue
		}
		l := &roomLoad{done: make(chan struct{})}
		s.loading[id] = l
		s.mu.Unlock()

		r, err := s.openRoom(id)
		if err == nil && s.cfg.Bus != nil {
			s.attach(r)
		}
		s.mu.Lock()
		delete(s.loading, id)
		if err == nil {
			r.mu.Lock()
			if !r.closed { // closed already if the document went as it loaded
				s.rooms[id] = r
			}
			r.mu.Unlock()
		}
		s.mu.Unlock()
		l.err = err
		close(l.done)
		if err != nil {
			return nil, err
		}
	}
}

// awaitPublished catches the room's document up with the cluster
// (docs.Manager.Open does) and, if it has revision rev, waits until the
// room has published it, or closed, for at most WriteWait.
func (r *room) awaitPublished(rev uint64) {
	d, err := r.srv.openDoc(r.id)
	if err != nil {
		return
	}
	_, head, _ := d.Text()
	d.Release()
	if head < rev {
		return
	}
	timeout := false
	t := time.AfterFunc(r.srv.cfg.WriteWait, func() {
		r.mu.Lock()
		timeout = true
		r.published.Broadcast()
		r.mu.Unlock()
	})
	defer t.Stop()
	r.mu.Lock()
	for r.pubRev < rev && !r.closed && !timeout {
		r.published.Wait()
	}
	r.mu.Unlock()
}

// roomLoad is a room being opened: joins of its document wait for done.
type roomLoad struct {
	done chan struct{}
	err  error // set before done is closed
}

// openRoom loads a document and subscribes a new room to it.
func (s *Server) openRoom(id string) (*room, error) {
	d, err := s.openDoc(id)
	if err != nil {
		return nil, err
	}
	r := &room{id: id, srv: s, doc: d, clients: map[*session]struct{}{}, users: presence.NewSet(), userIDs: map[string]string{},
		apiEvents: rate.NewLimiter(rate.Limit(s.cfg.EventsPerSecond), int(2*s.cfg.EventsPerSecond))}
	r.published.L = &r.mu
	r.mu.Lock() // events wait until the room is set up
	defer r.mu.Unlock()
	st, unsub, err := d.Join(r.event)
	if err != nil {
		d.Release()
		return nil, err
	}
	r.text, r.pubRev, r.unsub = st.Text, st.Rev, unsub
	r.viewerEvents.Store(st.Meta.Settings.ViewerEvents)
	return r, nil
}

// join adds c to the room, with the name, colour and data of prof, and
// sends it the joined message. It returns false if the room closed
// meanwhile.
//
// A client resuming from rev gets the revisions after it, from memory or
// (read without the room's lock) from disk, unless they are more than
// MaxResume revisions or MaxResumeBytes of operations: then it gets the
// text.
func (r *room) join(c *session, m inMsg, prof presence.User) (bool, error) {
	var disk []docs.Revision // read from disk for the resume: after *m.Rev
	caughtUp := false
	for tries := 0; ; tries++ {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return false, nil
		}
		if m.Rev != nil && *m.Rev > r.pubRev && !caughtUp && r.srv.cfg.Bus != nil {
			// A node of a cluster may lag behind the one the client
			// comes from: catch the document up with the cluster and,
			// if it has the revision, wait for the room to publish it.
			r.mu.Unlock()
			caughtUp = true
			r.awaitPublished(*m.Rev)
			continue
		}
		if m.Rev != nil && *m.Rev > r.pubRev {
			r.mu.Unlock()
			return true, fmt.Errorf("%w: you resume from revision %d, the document's newest is %d: join without rev", docs.ErrFutureRevision, *m.Rev, r.pubRev)
		}
		ops, ok, read := r.resume(c, m.Rev, disk)
		if read && tries < 3 {
			from, to := *m.Rev, r.pubRev
			r.mu.Unlock()
			disk = r.srv.readResume(r.id, from, to)
			continue
		}
		if !ok {
			ops = nil
		}
		r.admit(c, ops, ok, prof)
		r.mu.Unlock()
		return true, nil
	}
}

// resume returns the revisions after rev up to pubRev as c may see them,
// from memory, or from disk (revisions read after rev). read asks for disk
// to be read up to pubRev first. Called with mu held.
func (r *room) resume(c *session, rev *uint64, disk []docs.Revision) (ops []revView, ok, read bool) {
	if rev == nil {
		return nil, false, false
	}
	cfg := r.srv.cfg
	if n := r.pubRev - *rev; n > uint64(cfg.MaxResume) {
		return nil, false, false
	}
	revs, ok := r.doc.Revisions(*rev, r.pubRev)
	if !ok {
		// Beyond memory: what was read from disk, and memory after it.
		last := *rev + uint64(len(disk))
		if len(disk) == 0 || last > r.pubRev {
			return nil, false, disk == nil
		}
		if opBytes(disk) > cfg.MaxResumeBytes {
			return nil, false, false
		}
		rest, ok := r.doc.Revisions(last, r.pubRev)
		if !ok {
			return nil, false, true
		}
		revs = append(disk, rest...)
	}
	size := 0
	ops = make([]revView, len(revs))
	users := map[string]string{}
	for i, rv := range revs {
		if size += len(rv.OpJSON()); size > cfg.MaxResumeBytes {
			return nil, false, false
		}
		ops[i] = revView{Rev: rv.Rev, Op: rv.Op, Author: rv.Author, ID: c.opIDFor(rv, users)}
	}
	return ops, true, false
}

// readResume reads the revisions after from up to to from disk, stopping
// once they exceed MaxResumeBytes of operations (the client then gets the
// text). It returns nil if they could not be read.
func (s *Server) readResume(id string, from, to uint64) []docs.Revision {
	const chunk = 256
	var out []docs.Revision
	size := 0
	for after := from; after < to; {
		revs, err := s.docs.Revisions(id, after, int(min(to-after, chunk)))
		if err != nil || len(revs) == 0 {
			if err != nil {
				s.log.Warn("reading revisions to resume a client", "doc", id, "err", err)
			}
			return nil
		}
		size += opBytes(revs)
		out = append(out, revs...)
		after = revs[len(revs)-1].Rev
		if size > s.cfg.MaxResumeBytes {
			break
		}
	}
	if out == nil {
		out = []docs.Revision{}
	}
	return out
}

// opBytes is the size of revs' operations in JSON.
func opBytes(revs []docs.Revision) int {
	n := 0
	for _, rv := range revs {
		n += len(rv.OpJSON())
	}
	return n
}

// opIDFor is the id c sees of revision rv's op: the op id for ops of c's
// own client id, the public op id for everyone else's (users: see
// publicOpID).
func (c *session) opIDFor(rv docs.Revision, users map[string]string) string {
	if c.mayOwn(rv.OpID) {
		return rv.OpID
	}
	return c.srv.publicOpID(rv, users)
}

// admit sends c the joined message (ops when resumed, the text otherwise)
// and adds it to the room. Called with mu held.
func (r *room) admit(c *session, ops []revView, resumed bool, prof presence.User) {
	if len(r.clients) >= r.srv.cfg.MaxSessionsPerDoc {
		c.sendError("too_many_sessions", fmt.Sprintf("the document has %d sessions, the limit", len(r.clients)), "")
		c.closeAfter(closeTooMany, "too many sessions on this document")
		return
	}
	_, _, meta := r.doc.Text()
	meta.Rev = r.pubRev
	msg := joinedMsg{
		Type: "joined", User: c.user, Author: c.author, ReadOnly: c.readOnly, Doc: r.srv.viewFor(meta, c.grant), Rev: r.pubRev,
		Resumed: resumed, Ops: ops,
		Limits: limitsView{MaxMessageBytes: r.srv.cfg.MaxMessageBytes, MaxDocBytes: r.srv.docs.MaxBytes(), OpsPerSecond: r.srv.cfg.OpsPerSecond,
			EventsPerSecond: r.srv.cfg.EventsPerSecond, MaxEventBytes: r.srv.cfg.MaxEventBytes, MaxUserDataBytes: r.srv.cfg.MaxUserDataBytes},
	}
	if msg.Ops == nil {
		msg.Ops = []revView{}
	}
	if !resumed {
		text := r.text.String()
		msg.Text = &text
	}
	now := r.srv.cfg.Now()
	before, _ := r.users.Get(c.user)
	first := r.users.Join(presence.User{ID: c.user, Author: c.author, Name: prof.Name, Color: prof.Color, ReadOnly: c.readOnly, Data: prof.Data, LastSeen: now}, now)
	msg.Users = r.userList()
	c.send(mustJSON(msg))
	r.clients[c] = struct{}{}
	c.room = r
	// A second session of a user sets its profile too (the last to join
	// wins): the others hear of it when it changed.
	if u, _ := r.users.Get(c.user); first || !presence.SameProfile(before, u) {
		r.broadcast(mustJSON(map[string]any{"type": "user", "user": u}), c)
		if r.peers != nil {
			r.publishBus(busMsg{Kind: kindUser, User: &u})
		}
	}
}

func (s *Server) leave(r *room, c *session) {
	r.mu.Lock()
	if _, ok := r.clients[c]; !ok {
		r.mu.Unlock()
		return
	}
	delete(r.clients, c)
	if r.users.Leave(c.user) {
		if r.peers == nil {
			r.broadcast(mustJSON(map[string]string{"type": "leave", "user": c.user}), nil)
		} else {
			r.leaveUnlessPresent(c.user) // unless the user is on another node too
			r.publishBus(busMsg{Kind: kindLeave, ID: c.user})
		}
	}
	empty := len(r.clients) == 0
	r.mu.Unlock()
	if empty {
		s.dropRoomIfEmpty(r)
	}
}

// dropRoomIfEmpty closes a room nobody is in, releasing its document.
func (s *Server) dropRoomIfEmpty(r *room) {
	s.mu.Lock()
	r.mu.Lock()
	if r.closed || len(r.clients) > 0 {
		r.mu.Unlock()
		s.mu.Unlock()
		return
	}
	r.closed = true
	r.published.Broadcast()
	if s.rooms[r.id] == r {
		delete(s.rooms, r.id)
	}
	r.mu.Unlock()
	s.mu.Unlock()
	r.unsub()
	r.detach()
	r.doc.Release()
}

// closeRoom ends a room whose document is gone (deleted, reset, shut down):
// every session is closed with a reason.
func (s *Server) closeRoom(r *room, cause error) {
	s.mu.Lock()
	if s.rooms[r.id] == r {
		delete(s.rooms, r.id)
	}
	s.mu.Unlock()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.published.Broadcast()
	clients := make([]*session, 0, len(r.clients))
	for c := range r.clients {
		clients = append(clients, c)
	}
	r.mu.Unlock()
	code, reason := closeReset, "the document was reset: rejoin"
	switch {
	case errors.Is(cause, docs.ErrDeleted):
		code, reason = closeDeleted, "the document was deleted"
	case errors.Is(cause, docs.ErrClosed):
		code, reason = websocket.CloseGoingAway, "server shutting down"
	}
	for _, c := range clients {
		c.closeWith(code, reason)
	}
	r.detach()
	r.doc.Release()
}

func (s *Server) submit(c *session, m inMsg) {
	if c.readOnly {
		c.sendError("read_only", "this session may not edit the document", m.ID)
		return
	}
	if !c.opLimit.Allow() {
		c.sendError("rate_limited", fmt.Sprintf("more than %g operations per second", s.cfg.OpsPerSecond), m.ID)
		s.metrics.dropped.WithLabelValues(dropRateLimited).Inc()
		c.closeWith(closeRateLimited, "rate limit exceeded: slow down and resume")
		return
	}
	if m.Rev == nil || m.Op == nil {
		c.sendError("invalid", "an op message needs rev, id and op", m.ID)
		return
	}
	if !c.mayOwn(m.ID) || !validSeq(m.ID[len(c.clientID)+1:]) {
		c.sendError("invalid", "id must be \"<client>:<sequence>\": this session's client id and a decimal sequence number", m.ID)
		return
	}
	r := c.room
	c.mine.Store(m.ID, time.Now())
	res, err := r.doc.Submit(docs.Edit{Base: *m.Rev, Op: *m.Op, Author: c.author, OpID: m.ID})
	if err != nil {
		c.mine.Delete(m.ID)
		code, _ := errorCode(err)
		c.sendError(code, err.Error(), m.ID)
		return
	}
	if res.Duplicate {
		r.mu.Lock()
		if _, pending := c.mine.LoadAndDelete(m.ID); pending && res.Rev <= r.pubRev {
			// Published before this session could claim it: ack it here.
			c.send(appendAckMsg(nil, res.Rev, m.ID, true))
		}
		r.mu.Unlock()
		return
	}
	s.metrics.transformDepth.Observe(float64(res.Depth))
}

func (s *Server) cursor(c *session, m inMsg) {
	if !c.cursorLimit.Allow() {
		// The update is dropped (the next one carries the position); say
		// so once per burst, not once per dropped update.
		if !c.cursorWarned {
			c.cursorWarned = true
			c.sendError("rate_limited", fmt.Sprintf("more than %g cursor updates per second: updates are dropped until the rate falls", s.cfg.CursorsPerSecond), "")
		}
		return
	}
	c.cursorWarned = false
	if m.Rev == nil {
		c.sendError("invalid", "a cursor message needs rev and ranges", "")
		return
	}
	r := c.room
	r.mu.Lock()
	ranges, err := r.rangesAt(m.Ranges, *m.Rev)
	if err != nil {
		r.mu.Unlock()
		c.sendError("invalid", err.Error(), "")
		return
	}
	u, ok := r.users.Update(c.user, ranges, s.cfg.Now())
	if ok {
		r.broadcast(mustJSON(map[string]any{"type": "cursor", "rev": r.pubRev, "user": u.ID, "ranges": u.Ranges}), c)
		if r.peers != nil {
			r.publishBus(busMsg{Kind: kindCursor, ID: u.ID, Rev: r.pubRev, Ranges: u.Ranges})
		}
	}
	r.mu.Unlock()
	s.savePresence(r)
}

// rangesAt brings ranges given at revision rev to pubRev. Called with mu held.
func (r *room) rangesAt(ranges []presence.Range, rev uint64) ([]presence.Range, error) {
	if rev > r.pubRev {
		return nil, fmt.Errorf("cursor revision %d is ahead of the document (%d)", rev, r.pubRev)
	}
	revs, ok := r.doc.Revisions(rev, r.pubRev)
	if !ok {
		return nil, fmt.Errorf("cursor revision %d is too old", rev)
	}
	n := r.text.Len()
	if len(revs) > 0 {
		n = revs[0].Op.BaseLen()
	}
	if err := presence.CheckRanges(ranges, n); err != nil {
		return nil, err
	}
	for _, rv := range revs {
		ranges = presence.Transform(ranges, rv.Op)
	}
	if ranges == nil {
		ranges = []presence.Range{}
	}
	return ranges, nil
}

func (s *Server) profile(c *session, m inMsg) {
	if !c.allow(c.profileLimit, "profile changes", s.cfg.ProfilesPerSecond) {
		return
	}
	var change map[string]json.RawMessage
	if m.Data != nil {
		var err error
		if change, err = presence.ParseData(m.Data, s.cfg.MaxUserDataBytes); err != nil {
			c.sendError("invalid", err.Error(), "")
			return
		}
		if k, ok := c.grant.fixesData(change); ok {
			c.sendError("invalid", fmt.Sprintf("the data key %q is set by the token", k), "")
			return
		}
	}
	r := c.room
	if !c.readOnly && (m.Name != nil || m.Color != nil) {
		// A new name relabels the author's history: kept before anyone
		// hears of it, so that history read on the news shows it (an
		// invalid change is refused below, and not kept).
		r.mu.Lock()
		u, _ := r.users.Get(c.user)
		r.mu.Unlock()
		if name, color, err := c.profileChange(u, m); err == nil {
			s.saveAuthor(r.id, c.author, name, color)
		}
	}
	r.mu.Lock()
	u, _ := r.users.Get(c.user)
	name, color, err := c.profileChange(u, m)
	if err != nil {
		r.mu.Unlock()
		c.sendError("invalid", err.Error(), "")
		return
	}
	data := presence.MergeData(u.Data, change)
	if n := presence.DataSize(data); n > s.cfg.MaxUserDataBytes {
		r.mu.Unlock()
		c.sendError("invalid", fmt.Sprintf("data would take %d bytes of JSON, more than %d", n, s.cfg.MaxUserDataBytes), "")
		return
	}
	if u, ok := r.users.SetProfile(c.user, name, color, data, s.cfg.Now()); ok {
		r.broadcast(mustJSON(map[string]any{"type": "user", "user": u}), nil)
		if r.peers != nil {
			r.publishBus(busMsg{Kind: kindUser, User: &u})
		}
	}
	r.mu.Unlock()
	s.savePresence(r)
}

// profileChange returns the name and colour of user u after the profile
// message m, checked.
func (c *session) profileChange(u presence.User, m inMsg) (name, color string, err error) {
	name, color = u.Name, u.Color
	if m.Name != nil {
		if c.grant.name != "" && *m.Name != c.grant.name {
			return "", "", errors.New("the name is set by the token")
		}
		name = *m.Name
	}
	if m.Color != nil {
		color = *m.Color
	}
	return name, color, presence.CheckProfile(name, color)
}

func (s *Server) chat(c *session, m inMsg) {
	if !c.allow(c.chatLimit, "chat messages", s.cfg.ChatPerSecond) {
		return
	}
	if m.Text == nil || *m.Text == "" || len(*m.Text) > s.cfg.MaxChatBytes || !utf8.ValidString(*m.Text) {
		c.sendError("invalid", fmt.Sprintf("chat text must be 1-%d bytes of UTF-8", s.cfg.MaxChatBytes), "")
		return
	}
	r := c.room
	r.mu.Lock()
	u, _ := r.users.Get(c.user)
	r.mu.Unlock()
	msg, err := s.docs.AppendChat(r.id, docs.ChatMessage{User: c.user, Name: u.Name, Text: *m.Text}, s.cfg.ChatKeep)
	if err != nil {
		code, _ := errorCode(err)
		c.sendError(code, err.Error(), "")
		return
	}
	r.mu.Lock()
	r.broadcast(mustJSON(map[string]any{"type": "chat", "message": msg}), nil)
	if r.peers != nil {
		r.publishBus(busMsg{Kind: kindChat, Chat: &msg})
	}
	r.mu.Unlock()
}

// allow takes a token of one of c's message limits, or tells the client
// its message was refused: a flood costs the sender, not the document's
// other sessions or the disk.
func (c *session) allow(lim *rate.Limiter, what string, perSecond float64) bool {
	if lim.Allow() {
		return true
	}
	c.srv.metrics.dropped.WithLabelValues(dropRateLimited).Inc()
	c.sendError("rate_limited", fmt.Sprintf("more than %g %s per second: this one was refused", perSecond, what), "")
	return false
}

// savePresence writes the presence records that are due (each user at
// most every PresenceEvery).
func (s *Server) savePresence(r *room) {
	r.mu.Lock()
	due := r.users.Due(s.cfg.Now(), s.cfg.PresenceEvery)
	r.mu.Unlock()
	if len(due) > 0 {
		if err := s.docs.PutPresence(r.id, due); err != nil {
			s.log.Warn("saving presence", "doc", r.id, "err", err)
		}
	}
}
