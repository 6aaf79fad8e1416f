package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/docs"
)

// busHub is a cluster's Bus in one process: what one node's hubBus
// publishes to a document reaches the other nodes' subscriptions of it,
// each subscription's messages in publish order on a goroutine of its
// own, as NATS delivers them.
type busHub struct {
	mu   sync.Mutex // guards subs
	subs map[string]map[*hubSub]bool
}

// hubBus is one node's Bus on a busHub.
type hubBus struct {
	hub    *busHub
	silent atomic.Bool // the node is cut off: what it publishes is lost
}

type hubSub struct {
	bus  *hubBus
	q    chan []byte
	done chan struct{}
	once sync.Once
}

func (b *hubBus) Publish(doc string, msg []byte) error {
	if b.silent.Load() {
		return nil
	}
	b.hub.send(doc, msg, b)
	return nil
}

// send queues msg for every subscription of doc but from's, dropping it
// for one whose queue is full, as NATS drops for a slow consumer.
func (h *busHub) send(doc string, msg []byte, from *hubBus) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[doc] {
		if s.bus == from {
			continue
		}
		select {
		case s.q <- msg:
		default:
		}
	}
}

func (b *hubBus) Subscribe(doc string, fn func(msg []byte)) (func(), error) {
	s := &hubSub{bus: b, q: make(chan []byte, 4096), done: make(chan struct{})}
	h := b.hub
	h.mu.Lock()
	if h.subs[doc] == nil {
		h.subs[doc] = map[*hubSub]bool{}
	}
	h.subs[doc][s] = true
	h.mu.Unlock()
	go func() {
		for {
			select {
			case m := <-s.q:
				fn(m)
			case <-s.done:
				return
			}
		}
	}()
	// As NATS's Unsubscribe, stop does not wait for a message being
	// handled: a room may stop its subscription from its handler.
	return func() {
		s.once.Do(func() {
			h.mu.Lock()
			delete(h.subs[doc], s)
			h.mu.Unlock()
			close(s.done)
		})
	}, nil
}

// testCluster starts n servers over one docs.Manager (the documents
// layer of a cluster brings every node the revisions; sharing it does
// the same here), joined by a busHub. It returns their base URLs and
// buses.
func testCluster(t *testing.T, n int, cfg Config) ([]string, []*hubBus) {
	t.Helper()
	mgr, err := docs.Open(filepath.Join(t.TempDir(), "test.db"), docs.Config{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mgr.Close() }) // last: after every server
	hub := &busHub{subs: map[string]map[*hubSub]bool{}}
	bases, buses := make([]string, n), make([]*hubBus, n)
	for i := range n {
		buses[i] = &hubBus{hub: hub}
		c := cfg
		c.Bus = buses[i]
		srv := New(c, mgr, NewMetrics(), slog.New(slog.NewTextHandler(testLogOut, &slog.HandlerOptions{Level: slog.LevelDebug})))
		hs := httptest.NewServer(checkAPI(t, srv))
		t.Cleanup(func() {
			hs.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Drain(ctx)
			srv.Close()
		})
		bases[i] = hs.URL
	}
	return bases, buses
}

// joinUsers joins the document as client with the extra fields of join
// and returns the connection and the user ids its joined message lists.
func joinUsers(t *testing.T, base, id, client, extra string) (*rawConn, map[string]bool) {
	t.Helper()
	r := dialRaw(t, base, id, "")
	if extra != "" {
		extra = "," + extra
	}
	r.send(`{"type":"join","client":"` + client + `"` + extra + `}`)
	m := r.next("joined")
	r.user, _ = m["user"].(string)
	users := map[string]bool{}
	for _, u := range m["users"].([]any) {
		users[u.(map[string]any)["id"].(string)] = true
	}
	return r, users
}

// nextWhere returns the next message of type typ (any type for "") for
// which ok holds, failing on a message of type fail (when set) before it.
func (r *rawConn) nextWhere(typ, fail string, ok func(map[string]any) bool) map[string]any {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		msgs, err := r.frame()
		if err != nil {
			r.t.Fatalf("waiting for %q: %v", typ, err)
		}
		for _, m := range msgs {
			if fail != "" && m["type"] == fail {
				r.t.Fatalf("%s before the %s awaited: %v", fail, typ, m)
			}
			if (typ == "" || m["type"] == typ) && ok(m) {
				return m
			}
		}
	}
}

// waitUser reads until a user message about user id, and returns it.
func (r *rawConn) waitUser(id string) map[string]any {
	r.t.Helper()
	m := r.nextWhere("user", "", func(m map[string]any) bool { return m["user"].(map[string]any)["id"] == id })
	return m["user"].(map[string]any)
}

// waitEvent reads until an event named name, failing on any other event
// before it.
func (r *rawConn) waitEvent(name string) map[string]any {
	r.t.Helper()
	m := r.nextWhere("event", "", func(m map[string]any) bool { return true })
	if m["name"] != name {
		r.t.Fatalf("event %v, want %q", m, name)
	}
	return m
}

// TestClusterPresence: clients on three nodes see each other in joined,
// in the REST presence and in user messages; a profile change and a
// leave on one node reach the others.
func TestClusterPresence(t *testing.T) {
	bases, _ := testCluster(t, 3, Config{SyncWait: time.Second})
	id := mkdoc(t, bases[0], "hello")
	a, _ := joinUsers(t, bases[0], id, "ann", `"name":"Ann"`)
	b, seen := joinUsers(t, bases[1], id, "bob", `"name":"Bob"`)
	if !seen[a.user] || !seen[b.user] {
		t.Fatalf("Bob's joined on the second node lists %v, want Ann %s and Bob %s", seen, a.user, b.user)
	}
	if u := a.waitUser(b.user); u["name"] != "Bob" {
		t.Fatalf("Ann sees %v", u)
	}
	c, seen := joinUsers(t, bases[2], id, "cat", `"name":"Cat"`)
	if !seen[a.user] || !seen[b.user] || !seen[c.user] || len(seen) != 3 {
		t.Fatalf("Cat's joined on the third node lists %v", seen)
	}
	a.waitUser(c.user)
	b.waitUser(c.user)
	// The REST presence of any node with the document live lists all.
	for _, base := range bases {
		st, body := postJSON(t, "GET", base+"/api/docs/"+id+"/presence", "", "")
		if st != 200 || len(body["users"].([]any)) != 3 {
			t.Fatalf("presence on %s: %d %v", base, st, body)
		}
	}

	b.send(`{"type":"profile","name":"Robert","data":{"role":"reviewer"}}`)
	for _, r := range []*rawConn{a, c} {
		m := r.nextWhere("user", "", func(m map[string]any) bool {
			u := m["user"].(map[string]any)
			return u["id"] == b.user && u["name"] == "Robert"
		})
		if d, _ := m["user"].(map[string]any)["data"].(map[string]any); d["role"] != "reviewer" {
			t.Fatalf("the profile change arrived as %v", m)
		}
	}

	b.c.Close()
	for _, r := range []*rawConn{a, c} {
		if m := r.next("leave"); m["user"] != b.user {
			t.Fatalf("leave %v, want Bob %s", m, b.user)
		}
	}
}

// TestClusterCursorsEventsChat: cursors, app events (to one user, to
// everyone, excluding the sender, over REST) and chat reach the
// sessions of other nodes.
func TestClusterCursorsEventsChat(t *testing.T) {
	bases, _ := testCluster(t, 3, Config{APIToken: adminToken})
	id := mkdoc(t, bases[0], "hello")
	a, _ := joinUsers(t, bases[0], id, "ann", "")
	b, seen := joinUsers(t, bases[1], id, "bob", "")
	if !seen[a.user] {
		b.waitUser(a.user)
	}
	a.waitUser(b.user)
	b2, seen := joinUsers(t, bases[1], id, "bea", "")
	if !seen[a.user] || !seen[b.user] {
		t.Fatalf("a second session on a node lists %v", seen)
	}
	a.waitUser(b2.user)

	// An edit, then a cursor after it: the other node's client gets the
	// revision before the cursor at it.
	a.send(`{"type":"op","rev":1,"id":"ann:1","op":["> ",5]}`)
	a.next("ack")
	a.send(`{"type":"cursor","rev":2,"ranges":[{"anchor":2,"head":7}]}`)
	sawOp := false
	m := b.nextWhere("", "", func(m map[string]any) bool {
		sawOp = sawOp || m["type"] == "op" && m["rev"] == 2.0
		return m["type"] == "cursor" && m["user"] == a.user
	})
	if m["rev"] != 2.0 || !sawOp {
		t.Fatalf("cursor %v, after the revision it is at: %v", m, sawOp)
	}
	if rs := m["ranges"].([]any); len(rs) != 1 || rs[0].(map[string]any)["anchor"] != 2.0 || rs[0].(map[string]any)["head"] != 7.0 {
		t.Fatalf("cursor %v", m)
	}

	// To one user on the other node: Bob gets it, Bea does not (her
	// first event is the next one); Ann's ack counts her node's sessions.
	a.send(`{"type":"event","name":"ping","data":{"n":1},"to":["` + b.user + `"],"id":"e1"}`)
	if ack := a.next("eventAck"); ack["delivered"] != 0.0 {
		t.Fatalf("ack %v: the sender's node has none of the receivers", ack)
	}
	if e := b.waitEvent("ping"); e["from"] != a.user || e["data"].(map[string]any)["n"] != 1.0 {
		t.Fatalf("event %v", e)
	}
	// To everyone but the sender, from the second node.
	b.send(`{"type":"event","name":"all","excludeSelf":true,"id":"e2"}`)
	if ack := b.next("eventAck"); ack["delivered"] != 1.0 {
		t.Fatalf("ack %v: Bea is the one other session on Bob's node", ack)
	}
	a.waitEvent("all")
	b2.waitEvent("all")
	// Over REST, on the node without the document live, with its edit
	// link; then the administrator's, to every session of every node.
	if st, body := postJSON(t, "POST", bases[2]+"/api/docs/"+id+"/events", "", `{"name":"rest","data":2}`); st != 200 || body["delivered"] != 0.0 {
		t.Fatalf("REST event: %d %v", st, body)
	}
	for _, r := range []*rawConn{a, b, b2} { // Bob's first since ping: he was excluded from "all"
		if e := r.waitEvent("rest"); e["from"] != "api" {
			t.Fatalf("REST event %v", e)
		}
	}
	if st, body := postJSON(t, "POST", bases[2]+"/api/admin/events", adminToken, `{"name":"admin"}`); st != 200 {
		t.Fatalf("admin event: %d %v", st, body)
	}
	for _, r := range []*rawConn{a, b, b2} {
		if e := r.waitEvent("admin"); e["from"] != "admin" {
			t.Fatalf("admin event %v", e)
		}
	}

	a.send(`{"type":"chat","text":"hi all"}`)
	for _, r := range []*rawConn{a, b, b2} {
		if m := r.next("chat"); m["message"].(map[string]any)["text"] != "hi all" || m["message"].(map[string]any)["user"] != a.user {
			t.Fatalf("chat %v", m)
		}
	}
}

// TestClusterSilentNodeExpires: a node that keeps re-announcing its
// users keeps them present elsewhere; one whose bus goes silent has its
// users leave the others' rooms three refreshes later, on the server's
// clock.
func TestClusterSilentNodeExpires(t *testing.T) {
	clock := newTimerClock()
	bases, buses := testCluster(t, 2, Config{Now: clock.Now, AfterFunc: clock.AfterFunc})
	id := mkdoc(t, bases[0], "hello")
	a, _ := joinUsers(t, bases[0], id, "ann", "")
	b, seen := joinUsers(t, bases[1], id, "bob", "")
	if !seen[a.user] {
		b.waitUser(a.user)
	}
	a.waitUser(b.user)
	// An event from Ann after each refresh: it follows her node's state
	// message, so Bob's node has heard from hers when Bob has it.
	tick := func(name string) {
		clock.Add(5 * time.Second)
		a.send(`{"type":"event","name":"` + name + `","excludeSelf":true}`)
		b.nextWhere("event", "leave", func(m map[string]any) bool { return m["name"] == name })
	}
	for _, name := range []string{"t1", "t2", "t3", "t4", "t5"} {
		tick(name)
	}
	buses[0].silent.Store(true)
	for range 4 {
		clock.Add(5 * time.Second)
	}
	if m := b.next("leave"); m["user"] != a.user {
		t.Fatalf("leave %v, want Ann %s", m, a.user)
	}
	if st, body := postJSON(t, "GET", bases[1]+"/api/docs/"+id+"/presence", "", ""); st != 200 || len(body["users"].([]any)) != 1 {
		t.Fatalf("presence on Bob's node: %d %v", st, body)
	}
}

// TestClusterRotationEndsSessions: a link rotated on one node closes the
// sessions opened with the old links on every node (4003).
func TestClusterRotationEndsSessions(t *testing.T) {
	bases, _ := testCluster(t, 2, Config{APIToken: adminToken})
	doc := createFull(t, bases[0], `{"name":"a","text":"hi"}`)
	a, _ := joinUsers(t, bases[1], doc.Links.Edit, "ann", "")
	v, _ := joinUsers(t, bases[1], doc.Links.View, "vic", "")
	if st, body := postJSON(t, "POST", bases[0]+"/api/docs/"+doc.Links.Edit+"/rotate", adminToken, ""); st != 200 {
		t.Fatalf("rotate: %d %v", st, body)
	}
	for _, r := range []*rawConn{a, v} {
		if code := r.closeCode(); code != closeForbidden {
			t.Fatalf("session on the other node: close %d, want %d", code, closeForbidden)
		}
	}
}

// TestClusterDeletedElsewhere: a node told that a document was deleted
// closes its sessions (4002), as the deleting node's documents layer
// does its own.
func TestClusterDeletedElsewhere(t *testing.T) {
	bases, buses := testCluster(t, 1, Config{})
	id := mkdoc(t, bases[0], "hello")
	a, _ := joinUsers(t, bases[0], id, "ann", "")
	other := &hubBus{hub: buses[0].hub}
	msg, _ := json.Marshal(busMsg{Kind: kindDeleted, Node: "elsewhere"})
	other.Publish(id, msg)
	if code := a.closeCode(); code != closeDeleted {
		t.Fatalf("close %d, want %d", code, closeDeleted)
	}
}
