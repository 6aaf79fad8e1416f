package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/collab-editor/collab/client"
	"github.com/gorilla/websocket"
)

// session is what the load needs of one connected client: a real
// client.Client, or with -raw a rawClient.
type session interface {
	EditFunc(make func(n int) (client.Op, error)) error
	WaitSynced(ctx context.Context) error
	Len() int
	SetCursor(ranges []client.Range) bool
	Stats() client.Stats
	Err() error
	Close() error
}

// rawClient loads a relay that numbers edits but does not transform them
// (tools/relay, the baseline of docs/BENCHMARKS.md): it sends the messages
// a real client sends — join, then each edit as an op against its own text
// — and counts acks and other clients' ops by op id, but it never applies
// others' edits, which without a transform would not fit its text. So the
// load is the same and the latencies are measured the same way; only the
// convergence check has nothing to check.
type rawClient struct {
	cfg  client.Config
	conn *websocket.Conn
	wmu  sync.Mutex // one writer at a time
	done chan struct{}

	mu      sync.Mutex // guards the fields below
	n       int        // length of our text: the initial text and our own edits
	rev     uint64     // newest revision seen
	user    string     // the public user id joined gave
	seq     uint64
	sent    map[string]time.Time // op id -> when sent, until acked
	changed chan struct{}        // closed and replaced when an ack arrives
	stats   client.Stats
	err     error
	closed  bool
}

// dialRaw connects a rawClient and waits for joined. text is the
// document's initial text (the relay's joined carries none).
func dialRaw(ctx context.Context, cfg client.Config, text string) (*rawClient, error) {
	u, err := client.WebSocketURL(cfg.URL, cfg.Doc)
	if err != nil {
		return nil, err
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 16 << 10, WriteBufferSize: 16 << 10}
	conn, _, err := d.DialContext(ctx, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("raw client: dial %s: %w", u, err)
	}
	conn.SetReadLimit(64 << 20)
	var id [8]byte
	for i := range id {
		id[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[rand.IntN(36)]
	}
	cfg.ClientID = string(id[:])
	c := &rawClient{cfg: cfg, conn: conn, done: make(chan struct{}), n: len([]rune(text)),
		sent: map[string]time.Time{}, changed: make(chan struct{})}
	join, _ := json.Marshal(map[string]string{"type": "join", "client": cfg.ClientID, "name": cfg.Name})
	if err := c.write(join); err != nil {
		conn.Close()
		return nil, err
	}
	joined := make(chan struct{})
	go c.read(joined)
	select {
	case <-joined:
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("raw client: no joined: %w", c.Err())
	case <-ctx.Done():
		c.Close()
		return nil, ctx.Err()
	}
}

func (c *rawClient) write(data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.conn.WriteMessage(websocket.TextMessage, data)
}

// rawMessage is the part of a server message the raw client reads.
type rawMessage struct {
	Type    string `json:"type"`
	Rev     uint64 `json:"rev"`
	ID      string `json:"id"`
	Author  string `json:"author"`
	User    string `json:"user"` // joined: this session's public user id
	Code    string `json:"code"`
	Message string `json:"message"`
}

// read handles every frame until the connection ends.
func (c *rawClient) read(joined chan struct{}) {
	defer close(c.done)
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			c.mu.Lock()
			if !c.closed {
				c.err = err
			}
			c.mu.Unlock()
			return
		}
		var msgs []rawMessage
		if data = bytes.TrimSpace(data); len(data) > 0 && data[0] == '[' {
			err = json.Unmarshal(data, &msgs)
		} else {
			msgs = make([]rawMessage, 1)
			err = json.Unmarshal(data, &msgs[0])
		}
		if err != nil {
			c.fail(fmt.Errorf("raw client: bad frame: %w", err))
			return
		}
		for _, m := range msgs {
			c.handle(m, joined)
		}
	}
}

func (c *rawClient) handle(m rawMessage, joined chan struct{}) {
	now := time.Now()
	c.mu.Lock()
	c.rev = max(c.rev, m.Rev)
	switch m.Type {
	case "joined":
		c.user = m.User
		c.mu.Unlock()
		close(joined)
	case "ack":
		sent, ok := c.sent[m.ID]
		delete(c.sent, m.ID)
		c.stats.Acked++
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
		if ok && c.cfg.OnAck != nil {
			public := c.user + strings.TrimPrefix(m.ID, c.cfg.ClientID) // as peers and the history see it
			c.cfg.OnAck(client.Ack{Rev: m.Rev, ID: m.ID, Public: public, Latency: now.Sub(sent)})
		}
	case "op":
		c.stats.Remote++
		c.mu.Unlock()
		if c.cfg.OnRemote != nil {
			c.cfg.OnRemote(client.Remote{Rev: m.Rev, Author: m.Author, ID: m.ID})
		}
	case "error":
		c.stats.Errors++
		c.mu.Unlock()
		if c.cfg.OnError != nil {
			c.cfg.OnError(m.Code, m.Message)
		}
	default:
		c.mu.Unlock()
	}
}

func (c *rawClient) fail(err error) {
	c.mu.Lock()
	c.err = cmp.Or(c.err, err)
	c.mu.Unlock()
	c.conn.Close()
}

// EditFunc makes an edit of our text and sends it at once (a real client
// holds it while another is in flight; at the rates of a relay baseline
// that is rare, and the relay does not mind).
func (c *rawClient) EditFunc(gen func(n int) (client.Op, error)) error {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return err
	}
	op, err := gen(c.n)
	if err != nil {
		c.mu.Unlock()
		return err
	}
	c.n = op.TargetLen()
	c.seq++
	id := c.cfg.ClientID + ":" + strconv.FormatUint(c.seq, 10)
	msg := []byte(`{"type":"op","rev":` + strconv.FormatUint(c.rev, 10) + `,"id":"` + id + `","op":`)
	msg = append(op.AppendJSON(msg), '}')
	c.sent[id] = time.Now()
	c.mu.Unlock()
	if err := c.write(msg); err != nil {
		c.fail(err)
		return err
	}
	return nil
}

// WaitSynced waits until every edit sent is acknowledged.
func (c *rawClient) WaitSynced(ctx context.Context) error {
	for {
		c.mu.Lock()
		n, changed, err := len(c.sent), c.changed, c.err
		c.mu.Unlock()
		switch {
		case n == 0:
			return nil
		case err != nil:
			return err
		}
		select {
		case <-changed:
		case <-c.done:
			return cmp.Or(c.Err(), errors.New("raw client: connection closed"))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *rawClient) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// SetCursor sends a cursor when no edit is in flight, as a real client does.
func (c *rawClient) SetCursor(ranges []client.Range) bool {
	c.mu.Lock()
	if len(c.sent) > 0 {
		c.mu.Unlock()
		return false
	}
	rev := c.rev
	c.mu.Unlock()
	msg, _ := json.Marshal(map[string]any{"type": "cursor", "rev": rev, "ranges": ranges})
	return c.write(msg) == nil
}

func (c *rawClient) Stats() client.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

func (c *rawClient) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *rawClient) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	err := c.conn.Close()
	<-c.done
	return err
}
