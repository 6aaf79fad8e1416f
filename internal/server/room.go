package server

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/presence"
	"github.com/collab-editor/collab/internal/rope"
	"github.com/gorilla/websocket"
	"github.com/olahol/melody"
	"golang.org/x/time/rate"
)

// room is one live document and its sessions. The server keeps one room
// per document with at least one session; fan-out walks only that room's
// sessions.
//
// Concurrency: mu guards clients, users, userIDs, pubRev and peers, and orders everything
// the room sends: published revisions, cursors, joins and leaves. Sending
// only queues (client.send never blocks), so holding mu while sending
// never waits on a socket.
type room struct {
	id  string
	srv *Server
	doc *docs.Document

	mu      sync.Mutex
	clients map[*session]struct{}
	users   *presence.Set
	// userIDs caches Server.userID of the client ids whose revisions the
	// room published, so that a broadcast does not hash one per revision.
	userIDs map[string]string
	// pubRev is the newest revision sent to every client, and text the
	// text at pubRev: a client joins at pubRev, and cursors are kept and
	// broadcast at pubRev, so every client of the room is always at pubRev
	// outside mu.
	pubRev uint64
	text   rope.Rope
	// published is broadcast when pubRev moves or the room closes: a
	// join from a revision this node has not published yet waits on it
	// (see join).
	published sync.Cond
	unsub     func()
	closed    bool
	// peers is what the other nodes of a cluster said of their sessions
	// of the document (see bus.go); nil on a single node.
	peers *peers

	// viewerEvents is the document's setting: view-only sessions may send
	// app events. Set from the document's metadata (at open, and on each
	// meta event).
	viewerEvents atomic.Bool
	apiEvents    *rate.Limiter // app events sent over REST to this document, all callers but the administrator
}

// session is one WebSocket session.
type session struct {
	s        *melody.Session
	srv      *Server
	room     *room // set once joined
	docID    string
	grant    grant
	user     string
	author   string // the public author id of the session's edits (see authors.go)
	clientID string
	readOnly bool

	opLimit       *rate.Limiter
	cursorLimit   *rate.Limiter
	chatLimit     *rate.Limiter
	profileLimit  *rate.Limiter
	eventLimit    *rate.Limiter // taken on the server's clock (Config.Now)
	eventsRefused int           // events refused in a row by eventLimit; read loop only
	eventWarned   bool          // told of a refused event without an id since the last one let through; read loop only
	cursorWarned  bool          // told of dropped cursor updates since the last one let through; read loop only

	// Set while joining, read by the room under room.mu.
	mine sync.Map // op ids submitted through this session and not yet acknowledged: when each arrived

	mu       sync.Mutex  // guards the send queue below, and expiry
	expiry   func() bool // stops the timer that closes the session when its token expires
	pending  [][]byte    // messages waiting for the frame in flight
	pendingN int         // their bytes
	inflight bool        // a frame is with melody's writer
	closed   bool        // nothing more is sent
	closing  bool        // closeWith ran: the connection is being closed

	ending atomic.Bool // closeWith or closeAfter ran: the messages still arriving are not handled
}

// send queues messages for the client in order. While a frame is being
// written, messages gather and go out together as one frame (a JSON array),
// so a busy session costs fewer writes than messages. A client whose queue
// exceeds the send buffer is a slow consumer: it is closed with
// closeSlowConsumer, never silently skipped.
func (c *session) send(msgs ...[]byte) { c.queue(msgs, 0) }

// sendUnlessBehind queues msg, an app event, unless more than half of the
// send buffer would then be waiting: a client that far behind skips
// events (they are ephemeral, and the sender's ack does not count it)
// rather than be closed for them, so that events from others never cost a
// session its edits. It reports whether msg was queued.
func (c *session) sendUnlessBehind(msg []byte) bool {
	return c.queue([][]byte{msg}, c.srv.cfg.SendBuffer/2)
}

// queue is send; with limit > 0 it queues nothing, and reports false,
// when more than limit bytes would wait behind the frame in flight.
func (c *session) queue(msgs [][]byte, limit int) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	if limit > 0 && c.inflight {
		n := c.pendingN
		for _, m := range msgs {
			n += len(m)
		}
		if n > limit {
			c.mu.Unlock()
			return false
		}
	}
	c.pending = append(c.pending, msgs...)
	for _, m := range msgs {
		c.pendingN += len(m)
	}
	if c.inflight {
		if c.pendingN > c.srv.cfg.SendBuffer {
			c.closed = true
			c.mu.Unlock()
			c.dropSlow()
			return false
		}
		c.mu.Unlock()
		return true
	}
	frame := c.takeFrame()
	c.inflight = true
	c.mu.Unlock()
	c.s.Write(frame)
	return true
}

// sent is melody's report that a frame went out: send what gathered.
func (c *session) sent() {
	c.mu.Lock()
	if len(c.pending) == 0 || c.closed {
		c.inflight = false
		c.mu.Unlock()
		return
	}
	frame := c.takeFrame()
	c.mu.Unlock()
	c.s.Write(frame)
}

// takeFrame joins the pending messages into one frame. Called with mu held.
func (c *session) takeFrame() []byte {
	var frame []byte
	if len(c.pending) == 1 {
		frame = c.pending[0]
	} else {
		frame = make([]byte, 0, c.pendingN+len(c.pending)+1)
		frame = append(frame, '[')
		for i, m := range c.pending {
			if i > 0 {
				frame = append(frame, ',')
			}
			frame = append(frame, m...)
		}
		frame = append(frame, ']')
	}
	clear(c.pending)
	c.pending, c.pendingN = c.pending[:0], 0
	return frame
}

// dropSlow closes a slow consumer, counted, with its close code: it
// resumes from its last revision when it reconnects.
func (c *session) dropSlow() {
	c.srv.metrics.dropped.WithLabelValues(dropSlowConsumer).Inc()
	c.srv.log.Info("closing a slow consumer", "doc", c.docID, "user", c.user, "addr", c.srv.clientAddr(c.s.Request), "sendBuffer", c.srv.cfg.SendBuffer)
	c.closeWith(closeSlowConsumer, "slow consumer: send buffer full; resume from your last revision")
}

// closeAfter closes the connection with a close code and reason once the
// messages queued before it are written: for refusals whose error message
// must arrive first. A slow consumer or an expired token uses closeWith.
func (c *session) closeAfter(code int, reason string) {
	c.ending.Store(true)
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	_ = c.s.CloseWithMsg(websocket.FormatCloseMessage(code, reason))
}

// closeWith closes the connection with a close code and reason. The close
// frame is written directly (gorilla allows WriteControl concurrently with
// the writer), so it is not stuck behind queued messages, and from a
// goroutine of its own: a peer that does not read holds the write until
// WriteWait passes, and the caller may be the goroutine that delivers every
// document's revisions, or hold a room's lock.
func (c *session) closeWith(code int, reason string) {
	c.ending.Store(true)
	c.mu.Lock()
	c.closed = true
	again := c.closing
	c.closing = true
	c.mu.Unlock()
	if again {
		return
	}
	conn, wait := c.s.WebsocketConnection(), c.srv.cfg.WriteWait
	go func() {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(wait))
		_ = conn.Close()
	}()
}

// publish fans out durable revisions: an ack to the session that submitted
// each, the revision (encoded once, with its public op id) to every other
// session.
func (r *room) publish(revs []docs.Revision, text rope.Rope) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	shared := make([][]byte, len(revs))
	for i, rev := range revs {
		if rev.Rev != r.pubRev+1 {
			continue // joined the document after it
		}
		r.pubRev = rev.Rev
		shared[i] = appendOpMsg(nil, rev, r.srv.publicOpID(rev, r.userIDs))
		r.users.Apply(rev.Op)
		if r.peers != nil {
			r.peers.apply(rev.Op)
		}
	}
	if r.pubRev == revs[len(revs)-1].Rev {
		r.text = text // the document's, after the last: nothing to apply again
	}
	r.published.Broadcast()
	r.srv.metrics.opsBroadcast.Add(float64(len(revs) * len(r.clients)))
	for c := range r.clients {
		c.deliver(revs, shared)
	}
	if r.peers != nil && len(r.peers.ahead) > 0 {
		r.catchUp() // after the revisions their cursors are at
	}
}

// deliver queues the revisions for this client: an ack for those it
// submitted, the revision with its own op id for those its client id
// submitted through another session (a resend after a reconnect compares
// ids), the shared message for the rest. Called with room.mu held.
func (c *session) deliver(revs []docs.Revision, shared [][]byte) {
	var small [4][]byte // send copies the messages: no allocation for a few
	out := small[:0]
	for i, rev := range revs {
		if shared[i] == nil {
			continue
		}
		if c.mayOwn(rev.OpID) {
			if since, mine := c.mine.LoadAndDelete(rev.OpID); mine {
				// Counted before the ack leaves: whoever saw the ack sees it counted.
				c.srv.metrics.opsApplied.Inc()
				c.srv.metrics.editSeconds.Observe(time.Since(since.(time.Time)).Seconds())
				out = append(out, appendAckMsg(nil, rev.Rev, rev.OpID, false))
				continue
			}
			out = append(out, appendOpMsg(nil, rev, rev.OpID))
			continue
		}
		out = append(out, shared[i])
	}
	if len(out) > 0 {
		c.send(out...)
	}
}

// mayOwn reports whether op id has the form "<client>:..." with c's
// client id: the ids c may submit (see Server.submit).
func (c *session) mayOwn(opID string) bool {
	n := len(c.clientID)
	return len(opID) > n && opID[n] == ':' && opID[:n] == c.clientID
}

// broadcast sends msg to every client of the room except skip. Called with
// r.mu held.
func (r *room) broadcast(msg []byte, skip *session) {
	for c := range r.clients {
		if c != skip {
			c.send(msg)
		}
	}
}

// event is the document's subscriber: called in revision order by docs.
func (r *room) event(e docs.Event) {
	switch {
	case len(e.Revisions) > 0:
		r.publish(e.Revisions, e.Text)
	case e.Meta != nil:
		r.viewerEvents.Store(e.Meta.Settings.ViewerEvents)
		r.mu.Lock()
		for c := range r.clients {
			c.send(mustJSON(map[string]any{"type": "meta", "doc": r.srv.viewFor(*e.Meta, c.grant)}))
		}
		r.mu.Unlock()
	case e.Closed != nil:
		r.srv.closeRoom(r, e.Closed)
	}
}
