package server

// The cluster's failure tests: three collab nodes, each with its own
// replica bbolt file, a JetStream Log (R3) on a connection to its own
// NATS server and a roombus Bus, in front of an embedded three-node NATS
// cluster; WebSocket clients (package client) spread over the nodes type
// at once, while a node dies or the stream's leader stops.
//
// Every test inserts fixed-width tokens at token boundaries only, so the
// text stays a sequence of tokens whatever the transforms do, and checks
// that every token a client typed is in the text exactly once, on every
// client and node; and that every op id a node acknowledged is in the
// document's history exactly once.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/collab-editor/collab/client"
	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/docs/jetstream"
	"github.com/collab-editor/collab/internal/natsembed"
	"github.com/collab-editor/collab/internal/roombus"
	"github.com/nats-io/nats.go"
)

// clusterNode is one collab node of a test cluster.
type clusterNode struct {
	name string
	nc   *nats.Conn
	mgr  *docs.Manager
	srv  *Server
	hs   *httptest.Server
	base string
	dead bool // killed: its Manager is closed only when the test ends
}

// startCluster starts an embedded three-node NATS cluster and a collab
// node on each NATS server. Each node's connection lists every NATS
// server, its own first, so that it reconnects to another when its own
// stops. Everything stops when t ends.
func startCluster(t *testing.T) ([]*clusterNode, []*natsembed.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	servers, err := natsembed.StartLocal(ctx, t.TempDir(), "c", 3, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // last: after every node
		for _, s := range servers {
			if s.Running() {
				s.Shutdown()
			}
		}
	})
	dir := t.TempDir()
	nodes := make([]*clusterNode, len(servers))
	for i := range servers {
		urls := make([]string, 0, len(servers))
		for j := range servers {
			urls = append(urls, servers[(i+j)%len(servers)].ClientURL())
		}
		n := &clusterNode{name: fmt.Sprintf("node%d", i)}
		n.nc, err = nats.Connect(strings.Join(urls, ","), nats.Name(n.name), nats.DontRandomize(),
			nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		jcfg := jetstream.Config{Timeout: 2 * time.Second, RetryWait: 50 * time.Millisecond}
		l, err := jetstream.Open(ctx, n.nc, jcfg)
		if err != nil {
			t.Fatal(err)
		}
		bus := roombus.New(n.nc, n.name)
		fwd := jetstream.NewForwarder(n.nc, jcfg) // edits that keep losing races go to the winner
		if n.mgr, err = docs.Open(filepath.Join(dir, n.name+".db"), docs.Config{Log: l, Node: n.name, Forward: fwd.Forward}); err != nil {
			t.Fatal(err)
		}
		unserve, err := fwd.Serve(n.mgr, n.name)
		if err != nil {
			t.Fatal(err)
		}
		log := slog.New(slog.NewTextHandler(testLogOut, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", n.name)
		n.srv = New(Config{Bus: bus}, n.mgr, NewMetrics(), log)
		n.hs = httptest.NewServer(checkAPI(t, n.srv))
		n.base = n.hs.URL
		t.Cleanup(func() {
			n.hs.Close()
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			n.srv.Drain(dctx)
			n.srv.Close()
			unserve()
			n.mgr.Close()
			bus.Close()
			n.nc.Close()
		})
		nodes[i] = n
	}
	return nodes, servers
}

// kill ends node n as a crash would, as far as the others and its
// clients can tell: its connection to NATS (its Log and Bus) goes first,
// then its listener and every connection to it, with nothing drained or
// said.
func (n *clusterNode) kill(lb *balancer) {
	n.dead = true
	n.nc.Close()
	lb.remove(n.hs.Listener.Addr().String())
	n.hs.CloseClientConnections()
	n.hs.Close()
}

// balancer stands for the load balancer in front of a cluster: each
// connection goes to the next live node in turn. A WebSocket is hijacked
// from the node's HTTP server, which then no longer closes it: removing
// a node cuts its connections here, as its death would.
type balancer struct {
	ln net.Listener
	wg sync.WaitGroup

	mu    sync.Mutex // guards what follows
	addrs []string   // the live nodes
	next  int
	conns map[net.Conn]string // each connection to a node, and its node
}

func newBalancer(t *testing.T, nodes []*clusterNode) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{ln: ln, conns: map[net.Conn]string{}}
	for _, n := range nodes {
		b.addrs = append(b.addrs, n.hs.Listener.Addr().String())
	}
	b.wg.Add(1)
	go b.serve()
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		for c := range b.conns {
			c.Close()
		}
		b.mu.Unlock()
		b.wg.Wait()
	})
	return b
}

// URL is the balancer's base URL, for clients.
func (b *balancer) URL() string { return "http://" + b.ln.Addr().String() }

func (b *balancer) serve() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.wg.Add(1)
		go b.forward(c)
	}
}

// forward copies between a client's connection and a live node's until
// either ends, then closes both.
func (b *balancer) forward(c net.Conn) {
	defer b.wg.Done()
	defer c.Close()
	b.mu.Lock()
	if len(b.addrs) == 0 {
		b.mu.Unlock()
		return
	}
	addr := b.addrs[b.next%len(b.addrs)]
	b.next++
	b.mu.Unlock()
	s, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	b.mu.Lock()
	b.conns[s] = addr
	b.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(s, c); done <- struct{}{} }()
	go func() { io.Copy(c, s); done <- struct{}{} }()
	<-done
	s.Close()
	c.Close()
	<-done
	b.mu.Lock()
	delete(b.conns, s)
	b.mu.Unlock()
}

// remove sends no more connections to the node at addr, and cuts those
// it has.
func (b *balancer) remove(addr string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, a := range b.addrs {
		if a == addr {
			b.addrs = append(b.addrs[:i], b.addrs[i+1:]...)
			break
		}
	}
	for c, a := range b.conns {
		if a == addr {
			c.Close()
		}
	}
}

// tokenLen is the width of a typist's token: "{dd.ccc.nnnn}" names the
// document, the client and the insert.
const tokenLen = 13

// typist is one client typing tokens into one document.
type typist struct {
	doc, n int
	c      *client.Client
	typed  atomic.Int64 // tokens inserted locally

	mu    sync.Mutex // guards acked
	acked []string   // the public op ids acknowledged to it
}

func (ty *typist) token(i int) string { return fmt.Sprintf("{%02d.%03d.%04d}", ty.doc, ty.n, i) }

// dialTypist connects a typist to the document at base, recording its
// acknowledgements.
func dialTypist(ctx context.Context, t *testing.T, base, id string, doc, n int) *typist {
	t.Helper()
	ty := &typist{doc: doc, n: n}
	c, err := client.Dial(ctx, client.Config{URL: base, Doc: id, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		OnAck: func(a client.Ack) {
			ty.mu.Lock()
			ty.acked = append(ty.acked, a.Public)
			ty.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ty.c = c
	return ty
}

// typeTokens inserts tokens from..to-1, each at a token boundary picked
// at random, and waits for them to be acknowledged every few inserts, as
// a person typing does; step is called after each insert.
func (ty *typist) typeTokens(ctx context.Context, from, to int, step func()) error {
	rng := rand.New(rand.NewPCG(uint64(ty.doc), uint64(ty.n)))
	for i := from; i < to; i++ {
		tok := ty.token(i)
		err := ty.c.EditFunc(func(n int) (client.Op, error) {
			pos := rng.IntN(n/tokenLen+1) * tokenLen
			return *new(client.Op).Retain(pos).Insert(tok).Retain(n - pos), nil
		})
		if err != nil {
			return fmt.Errorf("%s: %w", tok, err)
		}
		ty.typed.Add(1)
		if i%3 == 2 {
			if err := ty.c.WaitSynced(ctx); err != nil {
				return fmt.Errorf("%s: %w", tok, err)
			}
		}
		if step != nil {
			step()
		}
	}
	return ty.c.WaitSynced(ctx)
}

// runTypists runs typeTokens(from, to) of every typist at once.
func runTypists(ctx context.Context, t *testing.T, typists []*typist, from, to int, step func()) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(typists))
	for _, ty := range typists {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- ty.typeTokens(ctx, from, to, step)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// checkConverged checks that every live node and every client of each
// document has one text, holding every token its typists typed exactly
// once; that every op id acknowledged is in the history exactly once,
// and no op id twice; and that the nodes' REST reads agree: text,
// revisions, sessions, blame and diff.
func checkConverged(ctx context.Context, t *testing.T, nodes []*clusterNode, ids []string, typists []*typist) {
	t.Helper()
	var live []*clusterNode
	for _, n := range nodes {
		if !n.dead {
			live = append(live, n)
		}
	}
	for _, n := range live {
		if err := n.mgr.Sync(); err != nil {
			t.Fatalf("%s: sync: %v", n.name, err)
		}
	}
	for d, id := range ids {
		text, rev := restText(t, live[0].base, id)
		want := map[string]bool{}
		var acked []string
		for _, ty := range typists {
			if ty.doc != d {
				continue
			}
			for i := range int(ty.typed.Load()) {
				want[ty.token(i)] = true
			}
			ty.mu.Lock()
			acked = append(acked, ty.acked...)
			ty.mu.Unlock()
			if err := ty.c.WaitRev(ctx, rev); err != nil {
				t.Fatalf("doc %d: a client never reached revision %d: %v", d, rev, err)
			}
			if got := ty.c.Text(); got != text {
				t.Fatalf("doc %d: a client's text differs from the server's at %d:\n%s\nserver:\n%s", d, rev, got, text)
			}
		}
		if len(text)%tokenLen != 0 {
			t.Fatalf("doc %d: the text is not whole tokens: %q", d, text)
		}
		seen := map[string]int{}
		for i := 0; i < len(text); i += tokenLen {
			seen[text[i:i+tokenLen]]++
		}
		for tok, k := range seen {
			if k != 1 || !want[tok] {
				t.Errorf("doc %d: token %s is in the text %d times (typed: %v)", d, tok, k, want[tok])
			}
		}
		for tok := range want {
			if seen[tok] == 0 {
				t.Errorf("doc %d: token %s was lost", d, tok)
			}
		}

		var history []byte
		for _, n := range live {
			if got, grev := restText(t, n.base, id); got != text || grev != rev {
				t.Fatalf("doc %d: %s has revision %d, %d bytes; %s has %d, %d bytes", d, n.name, grev, len(got), live[0].name, rev, len(text))
			}
			revs, raw := allRevisions(t, n.base, id)
			if history == nil {
				history = raw
				ops := map[string]int{}
				for _, r := range revs {
					if r.ID != "" {
						ops[r.ID]++
					}
				}
				for op, k := range ops {
					if k != 1 {
						t.Errorf("doc %d: op %s is in the history %d times", d, op, k)
					}
				}
				for _, op := range acked {
					if ops[op] != 1 {
						t.Errorf("doc %d: acknowledged op %s is in the history %d times", d, op, ops[op])
					}
				}
			} else if !bytes.Equal(raw, history) {
				t.Errorf("doc %d: %s's revisions differ from %s's", d, n.name, live[0].name)
			}
		}
		for _, path := range []string{"/sessions?limit=100", "/blame", fmt.Sprintf("/diff?from=1&to=%d", rev)} {
			var first []byte
			for _, n := range live {
				body := getOK(t, n.base+"/api/docs/"+id+path)
				if first == nil {
					first = body
				} else if !bytes.Equal(body, first) {
					t.Errorf("doc %d: %s answers %s otherwise than %s:\n%s\n%s", d, n.name, path, live[0].name, body, first)
				}
			}
		}
	}
}

// allRevisions reads a document's whole history from base, page by page,
// and returns it and its pages' revisions as JSON.
func allRevisions(t *testing.T, base, id string) ([]revView, []byte) {
	t.Helper()
	var all []revView
	var raw []byte
	after := uint64(0)
	for {
		body := getOK(t, fmt.Sprintf("%s/api/docs/%s/revisions?after=%d&limit=1000", base, id, after))
		var page struct {
			Revisions []json.RawMessage
			Next      *uint64
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Revisions {
			var v revView
			if err := json.Unmarshal(r, &v); err != nil {
				t.Fatal(err)
			}
			all = append(all, v)
			raw = append(append(raw, r...), '\n')
		}
		if page.Next == nil {
			return all, raw
		}
		after = *page.Next
	}
}

func getOK(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v\n%s", url, resp.Status, err, body)
	}
	return body
}

// TestClusterClientsConverge: clients of three documents, spread over
// the three nodes, type at once; every client and node ends with one
// text per document holding every token once, every acknowledged op once
// in the history, and every node's REST reads agree.
func TestClusterClientsConverge(t *testing.T) {
	nodes, _ := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const docsN, perNode, each = 3, 2, 30
	var ids []string
	var typists []*typist
	for d := range docsN {
		id := mkdoc(t, nodes[d%len(nodes)].base, "")
		ids = append(ids, id)
		for i := range len(nodes) * perNode {
			typists = append(typists, dialTypist(ctx, t, nodes[i%len(nodes)].base, id, d, i))
		}
	}
	runTypists(ctx, t, typists, 0, each, nil)
	checkConverged(ctx, t, nodes, ids, typists)
}

// TestClusterNodeDies: a node is killed while its clients type; they
// reconnect (through the load balancer) to the other nodes and resend
// what was not acknowledged. Nothing acknowledged is lost or doubled,
// and everyone converges.
func TestClusterNodeDies(t *testing.T) {
	nodes, _ := startCluster(t)
	lb := newBalancer(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const docsN, clients, each = 2, 6, 40
	var ids []string
	var typists []*typist
	for d := range docsN {
		id := mkdoc(t, nodes[1].base, "")
		ids = append(ids, id)
		for i := range clients {
			typists = append(typists, dialTypist(ctx, t, lb.URL(), id, d, i))
		}
	}
	// Node 0 dies once a third of the tokens are typed, while the
	// typists go on.
	var typed atomic.Int64
	var once sync.Once
	runTypists(ctx, t, typists, 0, each, func() {
		if typed.Add(1) == int64(len(typists)*each/3) {
			once.Do(func() { nodes[0].kill(lb) })
		}
	})
	if !nodes[0].dead {
		t.Fatal("node 0 was never killed")
	}
	moved := 0
	for _, ty := range typists {
		moved += ty.c.Stats().Reconnects
	}
	if moved == 0 {
		t.Fatal("no client was on node 0")
	}
	checkConverged(ctx, t, nodes, ids, typists)
}

// TestClusterStreamLeaderStops: the NATS server leading the stream stops
// while clients type; the collab node on it reconnects to another NATS
// server, the stream elects a new leader, and edits go on. Nothing
// acknowledged is lost or doubled.
func TestClusterStreamLeaderStops(t *testing.T) {
	nodes, servers := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const docsN, perNode, each = 2, 2, 40
	var ids []string
	var typists []*typist
	for d := range docsN {
		id := mkdoc(t, nodes[d].base, "")
		ids = append(ids, id)
		for i := range len(nodes) * perNode {
			typists = append(typists, dialTypist(ctx, t, nodes[i%len(nodes)].base, id, d, i))
		}
	}
	leader, err := natsembed.WaitStreamLeader(ctx, "COLLAB", servers...)
	if err != nil {
		t.Fatal(err)
	}
	var typed atomic.Int64
	var stopped atomic.Int64 // when, in Unix nanoseconds
	runTypists(ctx, t, typists, 0, each, func() {
		if typed.Add(1) == int64(len(typists)*each/3) {
			leader.Shutdown()
			stopped.Store(time.Now().UnixNano())
		}
	})
	if stopped.Load() == 0 {
		t.Fatal("the stream's leader was never stopped")
	}
	t.Logf("%s, the stream's leader, stopped: the typists finished %v later", leader.Name(), time.Since(time.Unix(0, stopped.Load())).Round(time.Millisecond))
	next, err := natsembed.WaitStreamLeader(ctx, "COLLAB", servers...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the stream's new leader: %s", next.Name())
	checkConverged(ctx, t, nodes, ids, typists)
}
