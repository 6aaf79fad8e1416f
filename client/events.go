package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/collab-editor/collab/internal/presence"
)

// App events and app data (docs/PROTOCOL.md, "event" and "profile"). These
// are the client's own types: nothing here needs a type of collab's
// internal packages.

// Errors of app events.
var (
	// ErrNotConnected: an event was not sent because the session is not
	// joined. Events are ephemeral: they are never queued for later.
	ErrNotConnected = errors.New("client: not connected")
	// ErrConnectionLost: the connection dropped before the server answered
	// an event; it may or may not have been delivered.
	ErrConnectionLost = errors.New("client: connection lost before the event's ack")
)

// ServerError is the server's refusal of a request of this client, with
// the protocol's stable code ("rate_limited", "read_only", "invalid", …).
type ServerError struct {
	Code    string
	Message string
}

func (e *ServerError) Error() string { return "client: " + e.Code + ": " + e.Message }

// Event is an app event this client received.
type Event struct {
	Name string
	// Data is the event's payload as JSON ("null" when it had none).
	Data json.RawMessage
	// From is the sender's user id, or "api" or "admin" when the app's
	// backend sent it over REST (with the API token: "admin").
	From string
}

// Target says which sessions get an event.
type Target struct {
	// Users are the user ids (Client.User, Peer.ID, Event.From) whose
	// sessions get it; nil for every session of the document.
	Users []string
	// ExcludeSelf leaves out the session that sends it.
	ExcludeSelf bool
}

// Peer is someone else present in the document.
type Peer struct {
	ID       string // public user id: one client (a browser tab)
	Author   string // public author id: the person behind it (see Config.Author)
	Name     string
	Color    string
	ReadOnly bool
	Data     map[string]json.RawMessage // app data; nil when none
}

func peerOf(u presence.User) Peer {
	return Peer{ID: u.ID, Author: u.Author, Name: u.Name, Color: u.Color, ReadOnly: u.ReadOnly, Data: maps.Clone(u.Data)}
}

type eventAnswer struct {
	delivered int
	err       error
}

// Emit sends an app event without waiting for the server: name (1-64
// characters of A-Z a-z 0-9 _ - . : /) and data (any value encoding/json
// encodes, or nil) to the sessions of to. The server's refusal, if any,
// reaches Config.OnError.
func (c *Client) Emit(name string, data any, to Target) error {
	msg, err := eventMessage(name, data, to, "")
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.joined {
		return ErrNotConnected
	}
	c.send(msg)
	return nil
}

// EmitAck sends an app event like Emit and waits for the server's answer:
// the number of sessions it was delivered to (this one included when it
// went to this session too), or the server's refusal as a *ServerError.
func (c *Client) EmitAck(ctx context.Context, name string, data any, to Target) (int, error) {
	c.mu.Lock()
	if !c.joined {
		c.mu.Unlock()
		return 0, ErrNotConnected
	}
	c.eventSeq++
	id := "e" + strconv.FormatUint(c.eventSeq, 10) // no ":": never an op id
	msg, err := eventMessage(name, data, to, id)
	if err != nil {
		c.mu.Unlock()
		return 0, err
	}
	answer := make(chan eventAnswer, 1)
	c.acks[id] = answer
	c.send(msg)
	c.mu.Unlock()
	select {
	case a := <-answer:
		return a.delivered, a.err
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.acks, id)
		c.mu.Unlock()
		return 0, ctx.Err()
	}
}

func eventMessage(name string, data any, to Target, id string) (map[string]any, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("client: event data: %w", err)
	}
	m := map[string]any{"type": "event", "name": name, "data": json.RawMessage(raw)}
	if to.Users != nil {
		m["to"] = to.Users
	}
	if to.ExcludeSelf {
		m["excludeSelf"] = true
	}
	if id != "" {
		m["id"] = id
	}
	return m, nil
}

// SetData changes this client's app data key by key: each key of change
// is set to its value (encoded by encoding/json), and a key whose value is
// nil is removed; other keys stay. Everyone present sees the result. The
// change is kept for reconnects; the server's refusal, if any (too much
// data, a key a token fixes), reaches Config.OnError.
func (c *Client) SetData(change map[string]any) error {
	enc, err := encodeData(change)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range enc {
		if string(v) == "null" {
			delete(c.myData, k)
		} else {
			c.myData[k] = v
		}
	}
	c.send(map[string]any{"type": "profile", "data": enc})
	return nil
}

func encodeData(data map[string]any) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(data))
	for k, v := range data {
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("client: app data %q: %w", k, err)
		}
		out[k] = raw
	}
	return out, nil
}

// Data is this client's app data as everyone else sees it: what the
// server last said, with the keys a token fixes.
func (c *Client) Data() map[string]json.RawMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.ownData)
}

// Peers returns the others present, ordered by id.
func (c *Client) Peers() []Peer {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Peer, 0, len(c.users))
	for _, u := range c.users {
		out = append(out, peerOf(u))
	}
	slices.SortFunc(out, func(a, b Peer) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// answerEvent hands the server's answer to EmitAck's caller, if it still
// waits. Called with mu held.
func (c *Client) answerEvent(id string, a eventAnswer) bool {
	ch, ok := c.acks[id]
	if ok {
		delete(c.acks, id)
		ch <- a
	}
	return ok
}

// failEvents answers every event still waiting: the connection is gone.
// Called with mu held.
func (c *Client) failEvents() {
	for id, ch := range c.acks {
		delete(c.acks, id)
		ch <- eventAnswer{err: ErrConnectionLost}
	}
}
