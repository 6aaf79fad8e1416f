package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/collab-editor/collab/client"
	"github.com/collab-editor/collab/internal/natsembed"
)

// balancer is a TCP load balancer in front of backends: each connection
// goes to the first backend that accepts it, in the order given, and ends
// when either side closes. A client behind it whose node dies reconnects
// to the next one, as behind a real load balancer.
func balancer(t *testing.T, backends ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		dst.Close()
		src.Close()
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			var s net.Conn
			for _, b := range backends {
				if s, err = net.Dial("tcp", b); err == nil {
					break
				}
			}
			if s == nil {
				c.Close()
				continue
			}
			go pipe(s, c)
			go pipe(c, s)
		}
	}()
	return "http://" + ln.Addr().String()
}

// eventually polls cond every 20ms until it holds, failing the test if ctx
// ends first.
func eventually(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// ready reports whether the server at base answers /readyz with 200.
func ready(t *testing.T, base string) bool {
	resp, err := apiClient(t).Get(base + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// killRounds is how many nodes TestClusterKill9LosesNoAcknowledgedEdit
// kills, one after the other (go test -run Kill9 ./cmd/collab -args
// -kill-rounds 50: a longer hunt than CI's).
var killRounds = flag.Int("kill-rounds", 2, "how many times the cluster kill test kills a node with SIGKILL and starts it again")

// TestClusterKill9LosesNoAcknowledgedEdit runs three `collab -nats-embed`
// processes as a cluster, with clients typing into one document on every
// node through load balancers, and kills a process with SIGKILL, a random
// one each round (the stream's leader's too, now and then), checking that
// its clients go on through the other nodes, resending what was not
// acknowledged, and that it catches up once started again. At the end,
// every acknowledged edit is in each node's history exactly once and
// everyone has the same text.
func TestClusterKill9LosesNoAcknowledgedEdit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three of it")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	const n = 3
	ports, err := natsembed.FreePorts(3 * n) // per node: HTTP, NATS clients, NATS routes
	if err != nil {
		t.Fatal(err)
	}
	addr := func(i, k int) string { return "127.0.0.1:" + strconv.Itoa(ports[3*i+k]) }
	var routes []string
	for i := range n {
		routes = append(routes, "nats-route://"+addr(i, 2))
	}
	args := func(i int) []string {
		name := fmt.Sprint("n", i+1)
		return []string{"-addr", addr(i, 0), "-data", filepath.Join(dir, name+".db"), "-nats-embed",
			"-nats-server-name", name, "-nats-listen", addr(i, 1), "-nats-cluster-listen", addr(i, 2),
			"-nats-routes", strings.Join(routes, ","), "-nats-store", filepath.Join(dir, name+".nats")}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second+time.Duration(*killRounds)*30*time.Second)
	defer cancel()
	procs := make([]*proc, n)
	bases := make([]string, n)
	for i := range n { // together: each waits for the cluster to form
		procs[i] = launch(t, bin, args(i)...)
	}
	start := time.Now()
	for i, p := range procs {
		bases[i] = p.listening(t)
		eventually(ctx, t, bases[i]+" ready", func() bool { return ready(t, bases[i]) })
	}
	t.Logf("cluster ready in %v", time.Since(start).Round(time.Millisecond))
	id := createDoc(t, bases[0], "c.go", "package c\n")

	// Two clients on each node, each behind a balancer that prefers its
	// node and falls back on the others.
	var mu sync.Mutex
	acked := map[string]uint64{}
	perClient := make([]int, 2*n)
	ackedSome := newAckSignal()
	cs := make([]*client.Client, 2*n)
	for i := range cs {
		var order []string
		for k := range n {
			order = append(order, addr((i/2+k)%n, 0))
		}
		c, err := client.Dial(ctx, client.Config{URL: balancer(t, order...), Doc: id, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
			OnError: func(code, msg string) { t.Logf("client %d: error %s: %s", i, code, msg) },
			OnAck: func(a client.Ack) {
				mu.Lock()
				acked[a.Public] = a.Rev
				perClient[i]++
				mu.Unlock()
				ackedSome.note()
			}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cs[i] = c
	}
	seed := seedOf(t)
	// Typing goes on until the end: killing the stream's leader stops
	// edits for JetStream's election timeout (4 to 9 seconds), longer
	// than a few thousand edits a millisecond apart take. Each typist
	// types 50 times a second, several times faster than a person, and
	// slow enough for a node of this test (three on two shared cores)
	// to follow what the others write: see docs/CLUSTER.md on a document
	// written flat out from several nodes.
	stop, wg := typeAway(t, cs, seed, math.MaxInt, 20*time.Millisecond)
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	var (
		atKill []int
		killed = -1 // the node down, if any
	)
	// Every client, the dead node's too, has edits acknowledged after the
	// kill: those went through the nodes alive.
	fewest := func() int {
		mu.Lock()
		defer mu.Unlock()
		least := -1
		for i, k := range perClient {
			if d := k - atKill[i]; least < 0 || d < least {
				least = d
			}
		}
		return least
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, c := range cs {
				t.Logf("client %d (%s): %+v, at revision %d", i, c.User(), c.Stats(), c.Rev())
			}
			for i, base := range bases {
				if i != killed {
					t.Logf("n%d: the document at revision %d", i+1, getDoc(t, base, id).Rev)
				}
			}
		}
	})
	rng := rand.New(rand.NewPCG(seed, 99))
	first := 0
	for round := range *killRounds {
		ackedSome.wait(ctx, t, count, count()+150)
		killed = rng.IntN(n)
		procs[killed].kill()
		mu.Lock()
		atKill = append([]int(nil), perClient...)
		head := maxRev(acked)
		if round == 0 {
			first = len(acked)
		}
		t.Logf("round %d: killed n%d with %d edits acknowledged, the newest at revision %d", round+1, killed+1, len(acked), head)
		mu.Unlock()
		ackedSome.wait(ctx, t, fewest, 30)
		procs[killed] = launch(t, bin, args(killed)...)
		if base := procs[killed].listening(t); base != bases[killed] {
			t.Fatalf("restarted on %s, not %s", base, bases[killed])
		}
		eventually(ctx, t, "the restarted node ready", func() bool { return ready(t, bases[killed]) })
		eventually(ctx, t, "the restarted node past revision "+strconv.FormatUint(head, 10), func() bool {
			return getDoc(t, bases[killed], id).Rev >= head
		})
		killed = -1
	}
	close(stop)
	wg.Wait()
	for i, c := range cs {
		if err := c.WaitSynced(ctx); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	head := maxRev(acked)
	for i, c := range cs {
		if err := c.WaitRev(ctx, head); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		if c.Text() != cs[0].Text() {
			t.Fatalf("client %d's text differs from client 0's", i)
		}
	}
	// check reads the node at base once it has the last edit: the same
	// text as the clients', every acknowledged edit once, and no other.
	check := func(base string) {
		t.Helper()
		var d restDoc
		eventually(ctx, t, base+" at revision "+strconv.FormatUint(head, 10), func() bool {
			d = getDoc(t, base, id)
			return d.Rev >= head
		})
		if d.Rev != head || d.Text != cs[0].Text() {
			t.Fatalf("%s: revision %d (want %d), text equal to the clients': %v", base, d.Rev, head, d.Text == cs[0].Text())
		}
		checkExactlyOnce(t, base, id, acked)
		var unacked []string
		for _, op := range opIDs(t, base, id) {
			if _, ok := acked[op]; op != "" && !ok {
				unacked = append(unacked, op)
			}
		}
		if len(unacked) > 0 {
			t.Fatalf("%s: edits in the history that were never acknowledged: %v", base, unacked)
		}
	}
	for _, base := range bases {
		check(base)
	}
	t.Logf("%d edits acknowledged (%d after the first kill), head %d", len(acked), len(acked)-first, head)
}

// maxRev is the newest revision in acked.
func maxRev(acked map[string]uint64) uint64 {
	var head uint64
	for _, rev := range acked {
		head = max(head, rev)
	}
	return head
}

func TestClusterFlags(t *testing.T) {
	env := func(string) string { return "" }
	o, err := parseFlags(nil, env, io.Discard)
	if err != nil || o.cluster.on() {
		t.Fatalf("defaults: cluster mode %v, %v", o.cluster.on(), err)
	}
	routes := "nats-route://10.0.0.1:6222,nats-route://10.0.0.2:6222,nats-route://10.0.0.3:6222"
	o, err = parseFlags([]string{"-data", "/d/n1.db", "-nats-embed", "-nats-server-name", "n1", "-nats-listen", "127.0.0.1:4221",
		"-nats-cluster-listen", "10.0.0.1:6222", "-nats-routes", routes, "-nats-sync-always"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s := o.cluster.server
	if !o.cluster.on() || s.Name != "n1" || s.Host != "127.0.0.1" || s.Port != 4221 || s.ClusterHost != "10.0.0.1" || s.ClusterPort != 6222 ||
		len(s.Routes) != 3 || s.StoreDir != "/d/n1.db.nats" || !s.SyncAlways || s.Cluster != "collab" || o.cluster.replicas != 3 {
		t.Errorf("-nats-embed: %+v, replicas %d", s, o.cluster.replicas)
	}
	o, err = parseFlags([]string{"-nats", "tls://a:4222,tls://b:4222", "-nats-creds", "c.creds", "-nats-stream", "DOCS"}, env, io.Discard)
	if err != nil || !o.cluster.on() || o.cluster.stream != "DOCS" || o.cluster.creds != "c.creds" {
		t.Errorf("-nats: %+v, %v", o.cluster, err)
	}
	for _, args := range [][]string{
		{"-nats", "nats://a", "-nats-embed"},
		{"-nats-creds", "c.creds"},
		{"-nats-routes", routes},
		{"-nats-sync-always"},
		{"-nats", "nats://a", "-nats-creds", "c", "-nats-nkey", "k"},
		{"-nats", "nats://a", "-nats-tls-cert", "c.pem"},
		{"-nats", "nats://a", "-nats-replicas", "0"},
		{"-nats", "nats://a", "-nats-stream", "a.b"},
		{"-nats-embed"}, // one server, three replicas
		{"-nats-embed", "-nats-routes", "nats-route://a:1,nats-route://b:1", "-nats-replicas", "3"},
		{"-nats-embed", "-nats-routes", "http://a:1", "-nats-replicas", "1"},
		{"-nats-embed", "-nats-listen", "localhost", "-nats-replicas", "1"},
	} {
		if _, err := parseFlags(args, env, io.Discard); err == nil {
			t.Errorf("%q: accepted", args)
		}
	}
}
