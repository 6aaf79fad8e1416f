// Package client is a Go client of collab's realtime protocol (see
// docs/PROTOCOL.md): it joins a document over a WebSocket, keeps a local
// copy of its text, sends local edits with ot.js's client state machine
// (synchronized / awaiting ack / awaiting ack with a buffer), applies
// remote edits, tracks remote cursors, and reconnects with backoff,
// resuming from its last revision and resending its unacknowledged edit
// with the same id, so every edit is applied exactly once.
//
// The package speaks its own types, so a program of any module can use
// all of it: an Op is one edit of the whole text, built from Retain,
// Insert and Delete components (positions are Unicode code points) and
// sent with Client.Edit or Client.EditFunc, or made for you by
// Client.Insert and Client.Delete; a Remote carries someone else's Op as
// applied locally; a Range is a selection, sent with Client.SetCursor; a
// Cursor is another Peer's selections, read with Client.Users. App events
// and app data are Event, Target and Client.SetData.
//
// Bots, tools, the tests and the load generator use it;
// testdata/outside is a program of another module that does.
package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/collab-editor/collab/internal/ot"
	"github.com/collab-editor/collab/internal/presence"
	"github.com/collab-editor/collab/internal/rope"
	"github.com/gorilla/websocket"
)

// Errors.
var (
	ErrClosed   = errors.New("client: closed")
	ErrReadOnly = errors.New("client: read-only session")
	// ErrRejected: the server refused an edit (see the wrapped message);
	// the client rejoins and drops the edit.
	ErrRejected = errors.New("client: edit rejected by the server")
	// ErrTooLarge: the edit, or the edits waiting to be sent with it,
	// would not fit in one message of the server's limit; nothing changed.
	ErrTooLarge = errors.New("client: edit too large for one message")
)

// Config says where to connect and how to behave.
type Config struct {
	// URL of the server, http(s)://host[:port] (ws and wss work too).
	URL string
	// Doc is the document id.
	Doc string
	// ClientID is the stable id of this client (default: random).
	ClientID string
	// Author is the author secret: who this client is across its runs,
	// so that its edits keep one author, and its name, in history. Keep
	// it secret, as ClientID; others see a public author id
	// (Client.Author). Default: none, and the session's user id is the
	// author (see docs/PROTOCOL.md, join).
	Author string
	// Name and Color are shown to others.
	Name, Color string
	// Data is this client's app data, shown to others (see SetData): each
	// value is encoded by encoding/json.
	Data map[string]any
	// ReadOnly asks for a view-only session.
	ReadOnly bool
	// Header is sent with the WebSocket handshake (an Origin, a token).
	Header http.Header
	// Reconnect backoff (defaults 50ms..5s, with jitter). MaxAttempts 0
	// retries forever (until Close).
	MinBackoff, MaxBackoff time.Duration
	MaxAttempts            int

	// Callbacks, called from the client's reader goroutine without the
	// client's lock held; they must not block for long.
	OnRemote func(Remote)               // someone else's edit was applied locally
	OnAck    func(Ack)                  // one of ours became durable
	OnError  func(code, message string) // an error message from the server
	OnChat   func(Chat)                 // a chat message (ours too)
	OnEvent  func(Event)                // an app event addressed to this session
	OnState  func(connected bool)
}

// Remote is someone else's edit, as applied to the local text.
type Remote struct {
	Rev uint64
	// Author is who made it: a public author id, or the user id of a
	// client without an author secret, or a REST writer's name ("api").
	Author string
	// ID is its op id as others see it: the user id of the client that
	// made it and a sequence number.
	ID string
	Op Op // as applied locally (after our pending edits)
}

// Ack reports one of our edits durable at Rev.
type Ack struct {
	Rev uint64
	ID  string // as sent: this client's id and a sequence number
	// Public is the id everyone else, and the REST history, see for the
	// op: the session's public user id and the same sequence number.
	Public  string
	Latency time.Duration // from first send to ack
}

// Chat is a message of the document's chat.
type Chat struct {
	Seq  uint64    `json:"seq"`
	User string    `json:"user"`
	Name string    `json:"name"`
	Text string    `json:"text"`
	Time time.Time `json:"time"`
}

// Client is one session on one document. Its methods are safe for
// concurrent use.
type Client struct {
	cfg Config

	mu       sync.Mutex // guards everything below
	cond     *sync.Cond // broadcast on every state change (see changed)
	changes  uint64     // counts the state changes, for WaitUntil
	text     rope.Rope  // local text: server text at rev + inflight + buffer
	rev      uint64     // newest server revision applied
	joined   bool       // joined on the current connection
	loaded   bool       // text and rev are the server's at some point: can resume
	resync   bool       // next join must fetch the whole text
	readOnly bool
	maxMsg   int // the server's largest message (0: not known yet)
	user     string
	author   string
	inflight *pendingOp   // sent, not acknowledged
	buffer   ot.Operation // local edits after inflight, not sent
	hasBuf   bool
	seq      uint64
	users    map[string]presence.User    // remote users; ranges at rev
	eventSeq uint64                      // ids of events sent with EmitAck
	acks     map[string]chan eventAnswer // EmitAck's callers waiting, by event id
	myData   map[string]json.RawMessage  // the app data we ask for: Config.Data and SetData's changes
	ownData  map[string]json.RawMessage  // our app data as the server last said
	conn     *websocket.Conn
	out      chan []byte // to the writer goroutine of conn
	closed   bool
	err      error // fatal: the session cannot go on
	stats    Stats

	done chan struct{}
	wg   sync.WaitGroup
}

type pendingOp struct {
	id   string
	base uint64
	op   ot.Operation
	sent time.Time
}

// Stats counts what happened.
type Stats struct {
	Acked, Remote, Reconnects, Errors, Duplicates int
}

// Dial connects, joins the document and returns once the text is loaded.
// The client then runs until Close, reconnecting as needed.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.ClientID == "" {
		var b [12]byte
		rand.Read(b[:])
		cfg.ClientID = hex.EncodeToString(b[:])
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 50 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	myData, err := encodeData(cfg.Data)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, users: map[string]presence.User{}, acks: map[string]chan eventAnswer{}, myData: myData, done: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	if err := c.connect(ctx, false); err != nil {
		return nil, err
	}
	c.wg.Add(1)
	go c.supervise()
	if err := c.WaitJoined(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// WebSocketURL is the address of the sessions of document doc (its link)
// on the server at base (http, https, ws or wss).
func WebSocketURL(base, doc string) (*url.URL, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return nil, fmt.Errorf("client: URL scheme %q", u.Scheme)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/docs/" + url.PathEscape(doc) + "/ws"
	return u, nil
}

func (c *Client) wsURL() (string, error) {
	u, err := WebSocketURL(c.cfg.URL, c.cfg.Doc)
	if err != nil {
		return "", err
	}
	if c.cfg.ReadOnly {
		q := u.Query()
		q.Set("readonly", "1")
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// connect dials and sends join (resuming from rev when resume is set).
func (c *Client) connect(ctx context.Context, resume bool) error {
	u, err := c.wsURL()
	if err != nil {
		return err
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 16 << 10, WriteBufferSize: 16 << 10}
	conn, resp, err := d.DialContext(ctx, u, c.cfg.Header)
	if err != nil {
		if resp != nil {
			return fmt.Errorf("client: dial %s: %s: %w", u, resp.Status, err)
		}
		return fmt.Errorf("client: dial %s: %w", u, err)
	}
	conn.SetReadLimit(64 << 20)
	join := map[string]any{"type": "join", "client": c.cfg.ClientID}
	if c.cfg.Author != "" {
		join["author"] = c.cfg.Author
	}
	if c.cfg.Name != "" {
		join["name"] = c.cfg.Name
	}
	if c.cfg.Color != "" {
		join["color"] = c.cfg.Color
	}
	c.mu.Lock()
	if resume && c.loaded && !c.resync {
		join["rev"] = c.rev
	}
	if len(c.myData) > 0 {
		join["data"] = maps.Clone(c.myData) // encoded after mu is let go
	}
	c.joined = false
	c.conn = conn
	out := make(chan []byte, 4096)
	c.out = out
	c.mu.Unlock()
	data, _ := json.Marshal(join)
	out <- data
	c.wg.Add(2)
	go c.writer(conn, out)
	go c.reader(conn)
	return nil
}

func (c *Client) writer(conn *websocket.Conn, out chan []byte) {
	defer c.wg.Done()
	for {
		select {
		case msg, ok := <-out:
			if !ok {
				return
			}
			conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				conn.Close()
				return
			}
		case <-c.done:
			return
		}
	}
}

// send queues a message for the current connection. Called with mu held.
func (c *Client) send(v any) {
	data, err := json.Marshal(v)
	if err != nil || c.out == nil {
		return
	}
	select {
	case c.out <- data:
	default:
		// The writer is stuck: drop the connection; we resume on reconnect.
		c.conn.Close()
	}
}

// closeInfo is why a connection ended.
type closeInfo struct {
	code int
	err  error
}

func (c *Client) reader(conn *websocket.Conn) {
	defer c.wg.Done()
	var info closeInfo
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			info.err = err
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				info.code = ce.Code
			}
			break
		}
		if err := c.handleFrame(data); err != nil {
			info.err = err
			break
		}
	}
	conn.Close()
	c.mu.Lock()
	if c.conn == conn {
		c.conn = nil
		c.out = nil
		c.joined = false
		c.failEvents()
		if !retryable(info.code) && info.code != 0 && c.err == nil {
			c.err = fmt.Errorf("client: closed by the server (%d): %w", info.code, info.err)
		}
	}
	c.changed()
	c.mu.Unlock()
	if c.cfg.OnState != nil {
		c.cfg.OnState(false)
	}
}

// retryable reports whether a close code invites a reconnect.
func retryable(code int) bool {
	switch code {
	case 4002, 4003, 4004, 4009, websocket.CloseMessageTooBig, websocket.ClosePolicyViolation:
		return false
	}
	return true
}

// supervise reconnects with backoff whenever the connection drops.
func (c *Client) supervise() {
	defer c.wg.Done()
	attempt := 0
	for {
		c.mu.Lock()
		for c.conn != nil && !c.closed {
			c.cond.Wait()
		}
		stop := c.closed || c.err != nil
		c.mu.Unlock()
		if stop {
			return
		}
		attempt++
		if c.cfg.MaxAttempts > 0 && attempt > c.cfg.MaxAttempts {
			c.fail(fmt.Errorf("client: gave up reconnecting after %d attempts", c.cfg.MaxAttempts))
			return
		}
		back := min(c.cfg.MaxBackoff, time.Duration(float64(c.cfg.MinBackoff)*math.Pow(2, float64(min(attempt-1, 16)))))
		back = back/2 + time.Duration(mrand.Int64N(int64(back/2)+1))
		select {
		case <-time.After(back):
		case <-c.done:
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := c.connect(ctx, true)
		cancel()
		if err == nil {
			c.mu.Lock()
			c.stats.Reconnects++
			c.mu.Unlock()
			attempt = 0
		}
	}
}

func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.changed()
	c.mu.Unlock()
}

// Close ends the session.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	conn := c.conn
	c.changed()
	c.mu.Unlock()
	close(c.done)
	if conn != nil {
		conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		conn.Close()
	}
	c.wg.Wait()
	return nil
}

// Drop closes the current connection abruptly, as a network failure would;
// the client reconnects and resumes. For tests.
func (c *Client) Drop() {
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
}

// Text is the local text (with local edits not yet acknowledged).
func (c *Client) Text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.text.String()
}

// Rev is the newest server revision the client has.
func (c *Client) Rev() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rev
}

// User is the user id the server gave this session.
func (c *Client) User() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.user
}

// Author is the public author id of this client's edits (see
// Config.Author): the Author others see of them in Remote and in history.
func (c *Client) Author() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.author
}

// Len is the local text's length in code points.
func (c *Client) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.text.Len()
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Err is the error that ended the session, if any.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Users returns the others present, ordered by id as Peers does, with
// their selections in the local text (the server's positions moved over
// our edits not yet acknowledged).
func (c *Client) Users() []Cursor {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Cursor, 0, len(c.users))
	for _, u := range c.users {
		ranges := u.Ranges
		if c.inflight != nil {
			ranges = presence.Transform(ranges, c.inflight.op)
		}
		if c.hasBuf {
			ranges = presence.Transform(ranges, c.buffer)
		}
		cur := Cursor{Peer: peerOf(u), Ranges: make([]Range, len(ranges))}
		for i, r := range ranges {
			cur.Ranges[i] = Range(r)
		}
		out = append(out, cur)
	}
	slices.SortFunc(out, func(a, b Cursor) int { return strings.Compare(a.Peer.ID, b.Peer.ID) })
	return out
}

// changed wakes the waiters: the client's state may have changed. Called
// with mu held.
func (c *Client) changed() {
	c.changes++
	c.cond.Broadcast()
}

// WaitUntil waits until ok reports true, or ctx ends, or the client is
// closed or fails. ok is called at once, then each time the client's
// state may have changed (a message from the server handled, a local
// edit, a connection lost), without the client's lock held: it may call
// the client's methods, such as Text, Peers, Users and Data. For
// example, to wait until someone named Ann is here:
//
//	err := c.WaitUntil(ctx, func() bool {
//		return slices.ContainsFunc(c.Peers(), func(p client.Peer) bool { return p.Name == "Ann" })
//	})
func (c *Client) WaitUntil(ctx context.Context, ok func() bool) error {
	for {
		c.mu.Lock()
		seen := c.changes
		c.mu.Unlock()
		if ok() {
			return nil
		}
		if err := c.wait(ctx, func() bool { return c.changes != seen }); err != nil {
			return err
		}
	}
}

// WaitJoined waits until the session has joined (or rejoined).
func (c *Client) WaitJoined(ctx context.Context) error {
	return c.wait(ctx, func() bool { return c.joined })
}

// WaitSynced waits until every local edit is acknowledged.
func (c *Client) WaitSynced(ctx context.Context) error {
	return c.wait(ctx, func() bool { return c.joined && c.inflight == nil && !c.hasBuf })
}

// WaitRev waits until the client has revision rev.
func (c *Client) WaitRev(ctx context.Context, rev uint64) error {
	return c.wait(ctx, func() bool { return c.rev >= rev })
}

func (c *Client) wait(ctx context.Context, ok func() bool) error {
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for !ok() {
		if c.err != nil {
			return c.err
		}
		if c.closed {
			return ErrClosed
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.cond.Wait()
	}
	return nil
}

// Edit applies op (made against the local text) locally and sends it when
// the state machine allows: at once when synchronized, otherwise it joins
// the buffer.
func (c *Client) Edit(op Op) error {
	return c.edit(func(int) (ot.Operation, error) { return op.op, nil })
}

// Insert inserts s at code point pos of the local text.
func (c *Client) Insert(pos int, s string) error {
	return c.edit(func(n int) (ot.Operation, error) {
		if pos < 0 || pos > n {
			return ot.Operation{}, fmt.Errorf("client: insert at %d outside 0..%d", pos, n)
		}
		return *new(ot.Operation).Retain(pos).Insert(s).Retain(n - pos), nil
	})
}

// Delete removes k code points at pos of the local text.
func (c *Client) Delete(pos, k int) error {
	return c.edit(func(n int) (ot.Operation, error) {
		if pos < 0 || k < 0 || pos+k > n {
			return ot.Operation{}, fmt.Errorf("client: delete %d..%d outside 0..%d", pos, pos+k, n)
		}
		return *new(ot.Operation).Retain(pos).Delete(k).Retain(n - pos - k), nil
	})
}

// EditFunc builds an edit from the local text's length and applies it
// atomically, so no remote edit slips in between. make may pick positions
// at random, as a load generator does.
func (c *Client) EditFunc(make func(n int) (Op, error)) error {
	return c.edit(func(n int) (ot.Operation, error) {
		op, err := make(n)
		return op.op, err
	})
}

func (c *Client) edit(build func(n int) (ot.Operation, error)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	if c.closed {
		return ErrClosed
	}
	if c.readOnly {
		return ErrReadOnly
	}
	op, err := build(c.text.Len())
	if err != nil {
		return err
	}
	text, err := op.ApplyRope(c.text)
	if err != nil {
		return err
	}
	// What will be sent: op itself, or the buffer it joins.
	next := op
	if c.inflight != nil && c.hasBuf {
		if next, err = ot.Compose(c.buffer, op); err != nil {
			return err
		}
	}
	if c.maxMsg > 0 && !opMessageFits(next, c.cfg.ClientID, c.maxMsg) {
		return fmt.Errorf("%w: the limit is %d bytes", ErrTooLarge, c.maxMsg)
	}
	c.text = text
	switch {
	case c.inflight == nil:
		c.seq++
		c.inflight = &pendingOp{id: c.cfg.ClientID + ":" + strconv.FormatUint(c.seq, 10), base: c.rev, op: op, sent: time.Now()}
		if c.joined {
			c.sendOp()
		}
	case c.hasBuf:
		c.buffer = next
	default:
		c.buffer, c.hasBuf = op, true
	}
	c.changed()
	return nil
}

// SetCursor sends our selections (positions in the local text). They are
// sent when no edit of ours is awaiting an ack (positions must be in the
// server's text); otherwise nothing is sent and false is returned.
func (c *Client) SetCursor(ranges []Range) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.joined || c.inflight != nil || c.hasBuf {
		return false
	}
	c.send(map[string]any{"type": "cursor", "rev": c.rev, "ranges": ranges})
	return true
}

// SetProfile changes our name and colour.
func (c *Client) SetProfile(name, color string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg.Name, c.cfg.Color = name, color
	c.send(map[string]any{"type": "profile", "name": name, "color": color})
}

// Chat sends a chat message.
func (c *Client) Chat(text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.send(map[string]any{"type": "chat", "text": text})
}

// SendRaw sends a raw frame, for tests of hostile input.
func (c *Client) SendRaw(data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.out != nil {
		c.out <- data
	}
}

// opMessageFits reports whether the op message carrying op stays within
// max bytes. Edits are checked as they are made, so it bounds the
// operation's JSON first (a component of a number takes at most 21 bytes,
// a string at most 6 a byte, escaped) and encodes it only when the bound
// is over the limit.
func opMessageFits(op ot.Operation, clientID string, max int) bool {
	const envelope = len(`{"type":"op","rev":18446744073709551615,"id":":18446744073709551615","op":[]}`)
	n := envelope + len(clientID)
	for c := range op.Components() {
		if c.Kind == ot.Insert {
			n += 3 + 6*len(c.Text)
		} else {
			n += 21
		}
		if n > max {
			return envelope-2+len(clientID)+len(op.AppendJSON(nil)) <= max
		}
	}
	return true
}

// sendOp sends the in-flight edit, encoded by hand (this is the hot path
// of a load generator). Called with mu held.
func (c *Client) sendOp() {
	p := c.inflight
	if c.out == nil {
		return
	}
	b := make([]byte, 0, 64+len(p.id)+p.op.JSONLen())
	b = append(b, `{"type":"op","rev":`...)
	b = strconv.AppendUint(b, p.base, 10)
	b = append(b, `,"id":`...)
	b = strconv.AppendQuote(b, p.id) // client ids and sequences are plain ASCII
	b = append(b, `,"op":`...)
	b = p.op.AppendJSON(b)
	b = append(b, '}')
	select {
	case c.out <- b:
	default:
		c.conn.Close()
	}
}
