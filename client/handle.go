package client

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/collab-editor/collab/internal/ot"
	"github.com/collab-editor/collab/internal/presence"
	"github.com/collab-editor/collab/internal/rope"
)

// serverMsg holds any message the server sends; Type says which fields
// count. User is a user id, except in "user" messages where it is the user.
type serverMsg struct {
	Type      string           `json:"type"`
	User      json.RawMessage  `json:"user"`
	ReadOnly  bool             `json:"readOnly"`
	Rev       uint64           `json:"rev"`
	Text      *string          `json:"text"`
	Resumed   bool             `json:"resumed"`
	Ops       []wireRev        `json:"ops"`
	Users     []presence.User  `json:"users"`
	Op        *ot.Operation    `json:"op"`
	Author    string           `json:"author"`
	ID        string           `json:"id"`
	Duplicate bool             `json:"duplicate"`
	Ranges    []presence.Range `json:"ranges"`
	Limits    struct {
		MaxMessageBytes int `json:"maxMessageBytes"`
	} `json:"limits"`
	Code string `json:"code"`
	// Message is the text of an error, or the message of a chat.
	Message json.RawMessage `json:"message"`
	// An event's name, data and sender; an eventAck's count.
	Name      string          `json:"name"`
	Data      json.RawMessage `json:"data"`
	From      string          `json:"from"`
	Delivered int             `json:"delivered"`
}

type wireRev struct {
	Rev    uint64       `json:"rev"`
	Op     ot.Operation `json:"op"`
	Author string       `json:"author"`
	ID     string       `json:"id"`
}

// handleFrame handles one frame: a message, or an array of messages.
func (c *Client) handleFrame(data []byte) error {
	parts := splitFrame(data)
	msgs := make([]serverMsg, len(parts))
	for i, p := range parts {
		if fastDecode(p, &msgs[i]) {
			continue
		}
		if err := json.Unmarshal(p, &msgs[i]); err != nil {
			return fmt.Errorf("client: bad frame: %w", err)
		}
	}
	var calls []func()
	c.mu.Lock()
	var err error
	for i := range msgs {
		if err = c.handle(&msgs[i], &calls); err != nil {
			break
		}
	}
	c.mu.Unlock()
	for _, f := range calls {
		f()
	}
	// Wake waiters after the callbacks ran, so that a caller of
	// WaitSynced has seen every OnAck.
	c.mu.Lock()
	c.changed()
	c.mu.Unlock()
	return err
}

// jsonString is raw when it is a JSON string, else "": a user id, or the
// text of an error (fields that other messages fill with objects).
func jsonString(raw json.RawMessage) string {
	var s string
	json.Unmarshal(raw, &s)
	return s
}

// handle applies one server message. Called with mu held; callbacks are
// appended to calls, to run after the lock is released.
func (c *Client) handle(m *serverMsg, calls *[]func()) error {
	switch m.Type {
	case "joined":
		return c.joinedMsg(m, calls)
	case "ack":
		c.ack(m.Rev, m.ID, m.Duplicate, calls)
	case "op":
		if m.Op == nil {
			return fmt.Errorf("client: op message without op")
		}
		return c.remote(m.Rev, *m.Op, m.Author, m.ID, calls)
	case "cursor":
		if u, ok := c.users[jsonString(m.User)]; ok {
			u.Ranges = m.Ranges
			c.users[u.ID] = u
		}
	case "user":
		var u presence.User
		if json.Unmarshal(m.User, &u) == nil && u.ID == c.user {
			c.ownData = u.Data
		} else if u.ID != "" {
			if old, ok := c.users[u.ID]; ok && u.Ranges == nil {
				u.Ranges = old.Ranges
			}
			c.users[u.ID] = u
		}
	case "event":
		if f := c.cfg.OnEvent; f != nil {
			e := Event{Name: m.Name, Data: m.Data, From: m.From}
			*calls = append(*calls, func() { f(e) })
		}
	case "eventAck":
		c.answerEvent(m.ID, eventAnswer{delivered: m.Delivered})
	case "chat":
		var msg Chat
		if f := c.cfg.OnChat; f != nil && json.Unmarshal(m.Message, &msg) == nil {
			*calls = append(*calls, func() { f(msg) })
		}
	case "leave":
		delete(c.users, jsonString(m.User))
	case "error":
		c.stats.Errors++
		if m.ID != "" && c.answerEvent(m.ID, eventAnswer{err: &ServerError{Code: m.Code, Message: jsonString(m.Message)}}) {
			return nil // about an event of EmitAck's: its caller hears of it
		}
		if f := c.cfg.OnError; f != nil {
			code, msg := m.Code, jsonString(m.Message)
			*calls = append(*calls, func() { f(code, msg) })
		}
		if !c.joined && m.Code == "future_revision" {
			// We resumed from a revision the document does not have
			// (the server lost it, or restored a backup): start again
			// from its text.
			c.inflight, c.hasBuf, c.resync = nil, false, true
			return fmt.Errorf("client: %s: %s", m.Code, jsonString(m.Message))
		}
		if c.inflight != nil && m.ID == c.inflight.id && resendable(m.Code) {
			// Not applied, for a reason of the server's: reconnect (with
			// backoff) and resend it.
			return fmt.Errorf("client: %s: %s; resending", m.Code, jsonString(m.Message))
		}
		if c.inflight != nil && m.ID == c.inflight.id {
			// Our edit was refused: local state no longer matches the
			// server's. Drop local edits and resync with the whole text.
			c.inflight, c.hasBuf, c.resync = nil, false, true
			return fmt.Errorf("%w: %s: %s", ErrRejected, m.Code, jsonString(m.Message))
		}
	}
	return nil
}

func (c *Client) joinedMsg(m *serverMsg, calls *[]func()) error {
	c.user = jsonString(m.User)
	c.author = m.Author
	c.readOnly = m.ReadOnly
	c.maxMsg = m.Limits.MaxMessageBytes
	if m.Resumed {
		for _, r := range m.Ops {
			if c.inflight != nil && r.ID == c.inflight.id {
				c.ack(r.Rev, r.ID, false, calls)
				continue
			}
			if err := c.remote(r.Rev, r.Op, r.Author, r.ID, calls); err != nil {
				return err
			}
		}
	} else {
		if m.Text == nil {
			return fmt.Errorf("client: joined without text")
		}
		if c.inflight != nil || c.hasBuf {
			// Too far behind to replay: our unacknowledged edits cannot be
			// rebased onto the new text and are dropped.
			c.stats.Errors++
			c.inflight, c.hasBuf = nil, false
		}
		c.text, c.rev = rope.New(*m.Text), m.Rev
	}
	c.users = map[string]presence.User{}
	for _, u := range m.Users {
		if u.ID != c.user {
			c.users[u.ID] = u
		} else {
			c.ownData = u.Data
		}
	}
	c.joined, c.loaded, c.resync = true, true, false
	if c.inflight != nil {
		// Resend the unacknowledged edit with the same id; the server
		// applies it at most once.
		c.inflight.base = c.rev
		c.sendOp()
	}
	if f := c.cfg.OnState; f != nil {
		*calls = append(*calls, func() { f(true) })
	}
	return nil
}

// ack handles the acknowledgement of our in-flight edit.
func (c *Client) ack(rev uint64, id string, dup bool, calls *[]func()) {
	if c.inflight == nil || id != c.inflight.id {
		return // a late duplicate ack
	}
	if dup {
		c.stats.Duplicates++
	}
	c.stats.Acked++
	a := Ack{Rev: rev, ID: id, Public: c.user + id[len(c.cfg.ClientID):], Latency: time.Since(c.inflight.sent)}
	c.rev = rev
	// The others' selections are at the revision before ours: move them
	// over it, as the server did (it does not send them again).
	for uid, u := range c.users {
		if len(u.Ranges) > 0 {
			u.Ranges = presence.Transform(u.Ranges, c.inflight.op)
			c.users[uid] = u
		}
	}
	c.inflight = nil
	if c.hasBuf {
		c.seq++
		c.inflight = &pendingOp{id: fmt.Sprintf("%s:%d", c.cfg.ClientID, c.seq), base: c.rev, op: c.buffer, sent: time.Now()}
		c.buffer, c.hasBuf = ot.Operation{}, false
		c.sendOp()
	}
	if f := c.cfg.OnAck; f != nil {
		*calls = append(*calls, func() { f(a) })
	}
}

// remote applies someone else's revision: transformed over our in-flight
// edit and buffer, then applied to the local text.
func (c *Client) remote(rev uint64, op ot.Operation, author, id string, calls *[]func()) error {
	if c.inflight != nil && id == c.inflight.id {
		c.ack(rev, id, false, calls)
		return nil
	}
	if rev != c.rev+1 {
		c.resync = true
		return fmt.Errorf("client: got revision %d after %d", rev, c.rev)
	}
	server := op
	var err error
	if c.inflight != nil {
		if c.inflight.op, op, err = ot.Transform(c.inflight.op, op); err != nil {
			c.resync = true
			return err
		}
	}
	if c.hasBuf {
		if c.buffer, op, err = ot.Transform(c.buffer, op); err != nil {
			c.resync = true
			return err
		}
	}
	text, err := op.ApplyRope(c.text)
	if err != nil {
		c.resync = true
		return err
	}
	c.text, c.rev = text, rev
	for uid, u := range c.users {
		if len(u.Ranges) > 0 {
			u.Ranges = presence.Transform(u.Ranges, server)
			c.users[uid] = u
		}
	}
	c.stats.Remote++
	if f := c.cfg.OnRemote; f != nil {
		r := Remote{Rev: rev, Author: author, ID: id, Op: Op{op}}
		*calls = append(*calls, func() { f(r) })
	}
	return nil
}

// resendable reports whether an error about our edit means the server did
// not apply it for a reason of its own (a full disk, a fault, a rate limit),
// so that the same edit is sent again after a reconnect.
func resendable(code string) bool {
	switch code {
	case "storage_full", "unavailable", "internal", "rate_limited":
		return true
	}
	return false
}
