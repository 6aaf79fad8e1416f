package roombus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/natsembed"
	"github.com/collab-editor/collab/internal/server"
	"github.com/nats-io/nats.go"
)

var _ server.Bus = (*Bus)(nil)

// startNATS starts an embedded NATS server for the test, or a cluster of
// n > 1 nodes, and returns a connection to each node.
func startNATS(t *testing.T, n int) []*nats.Conn {
	t.Helper()
	var servers []*natsembed.Server
	if n == 1 {
		s, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir()}, 0)
		if err != nil {
			t.Fatal(err)
		}
		servers = append(servers, s)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var err error
		if servers, err = natsembed.StartLocal(ctx, t.TempDir(), "t", n, false); err != nil {
			t.Fatal(err)
		}
	}
	conns := make([]*nats.Conn, n)
	for i, s := range servers {
		nc, err := nats.Connect(s.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = nc
	}
	t.Cleanup(func() {
		for _, nc := range conns {
			nc.Close()
		}
		for _, s := range servers {
			s.Shutdown()
		}
	})
	return conns
}

// inbox gathers a subscription's messages.
type inbox struct {
	mu   sync.Mutex
	msgs []string
	more chan struct{} // closed and replaced when a message arrives
}

func newInbox() *inbox { return &inbox{more: make(chan struct{})} }

func (in *inbox) add(msg []byte) {
	in.mu.Lock()
	in.msgs = append(in.msgs, string(msg))
	close(in.more)
	in.more = make(chan struct{})
	in.mu.Unlock()
}

// waitFor waits until the inbox holds a message for which ok holds
// (called once for each message, in order); every tick until then it
// calls poke (when set), which may publish again: a subscription's
// interest reaches the other nodes of a cluster a moment after it is
// made.
func (in *inbox) waitFor(t *testing.T, ok func(string) bool, poke func()) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for next := 0; ; {
		in.mu.Lock()
		msgs, more := in.msgs[next:], in.more
		in.mu.Unlock()
		for _, m := range msgs {
			next++
			if ok(m) {
				return
			}
		}
		if poke != nil {
			poke()
		}
		select {
		case <-more:
		case <-tick.C:
		case <-timeout:
			t.Fatalf("waited 20 s; got %d messages", next)
		}
	}
}

func is(want string) func(string) bool { return func(m string) bool { return m == want } }

// TestAcrossNodes: three nodes' buses on three NATS servers of a
// cluster. Each gets the others' messages of the document it subscribed
// to, each sender's in order, never its own, and nothing of another
// document.
func TestAcrossNodes(t *testing.T) {
	conns := startNATS(t, 3)
	buses := make([]*Bus, 3)
	inboxes := make([]*inbox, 3)
	for i, nc := range conns {
		buses[i] = New(nc, "node"+strconv.Itoa(i))
		t.Cleanup(buses[i].Close)
		inboxes[i] = newInbox()
		stop, err := buses[i].Subscribe("doc-1", inboxes[i].add)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
	}
	other := newInbox()
	stop, err := buses[1].Subscribe("doc-2", other.add)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	// Until every node hears every other, each announces itself.
	for i, in := range inboxes {
		for j, b := range buses {
			if j != i {
				in.waitFor(t, is("hello "+strconv.Itoa(j)), func() { b.Publish("doc-1", []byte("hello "+strconv.Itoa(j))) })
			}
		}
	}
	const n = 500
	var wg sync.WaitGroup
	for j, b := range buses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range n {
				if err := b.Publish("doc-1", fmt.Appendf(nil, "%d:%d", j, k)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	for i, in := range inboxes {
		last := map[int]int{}
		done := func(string) bool {
			for j := range buses {
				if j != i && last[j] != n-1 {
					return false
				}
			}
			return true
		}
		in.waitFor(t, func(m string) bool {
			var j, k int
			if _, err := fmt.Sscanf(m, "%d:%d", &j, &k); err != nil {
				return false
			}
			if j == i {
				t.Fatalf("node %d got its own message %q", i, m)
			}
			if prev, ok := last[j]; ok && k != prev+1 || !ok && k != 0 {
				t.Fatalf("node %d got %q after %d:%d", i, m, j, prev)
			}
			last[j] = k
			return done(m)
		}, nil)
	}
	other.mu.Lock()
	defer other.mu.Unlock()
	if len(other.msgs) != 0 {
		t.Fatalf("another document's subscriber got %d messages", len(other.msgs))
	}
}

// TestRefusesBadDocs: a document id that is not one subject token is
// refused rather than published under another subject.
func TestRefusesBadDocs(t *testing.T) {
	conns := startNATS(t, 1)
	b := New(conns[0], "n")
	defer b.Close()
	for _, doc := range []string{"", "a.b", "*", ">", "a b", "a\tb", "é"} {
		if err := b.Publish(doc, []byte("x")); !errors.Is(err, ErrBadDoc) {
			t.Errorf("Publish(%q): %v", doc, err)
		}
		if _, err := b.Subscribe(doc, func([]byte) {}); !errors.Is(err, ErrBadDoc) {
			t.Errorf("Subscribe(%q): %v", doc, err)
		}
	}
	b.Close()
	if err := b.Publish("d", []byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
}

// TestSlowSubscriberDropsAndLogs: a subscriber that does not keep up
// blocks nobody: NATS drops what exceeds its pending limits, and the bus
// counts and logs the drop.
func TestSlowSubscriberDropsAndLogs(t *testing.T) {
	conns := startNATS(t, 1)
	pub := New(conns[0], "pub")
	defer pub.Close()
	nc2, err := nats.Connect(conns[0].ConnectedUrl())
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	slow := New(nc2, "slow")
	defer slow.Close()
	var logged bytes.Buffer
	var logMu sync.Mutex
	slow.log = slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logged.Write(p)
	}), nil))
	slow.pendingMsgs = 10

	in := newInbox()
	hold := make(chan struct{})
	var held sync.Once
	stop, err := slow.Subscribe("d", func(m []byte) {
		if string(m) == "block" {
			held.Do(func() { <-hold })
		}
		in.add(m)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	in.waitFor(t, is("ready"), func() { pub.Publish("d", []byte("ready")) })
	base := nc2.Stats().InMsgs
	pub.Publish("d", []byte("block"))
	for k := range 200 {
		if err := pub.Publish("d", []byte(strconv.Itoa(k))); err != nil {
			t.Fatal(err)
		}
	}
	// The publisher is not held up: every message reaches the slow
	// subscriber's connection while its handler is held.
	waitUntil(t, func() bool { return nc2.Stats().InMsgs >= base+201 })
	close(hold)
	in.waitFor(t, is("end"), func() { pub.Publish("d", []byte("end")) })
	if slow.Dropped() == 0 {
		t.Fatal("nothing dropped for a subscriber held past its pending limit")
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logged.String(), "slow consumer") {
		t.Fatalf("the drop was not logged: %q", logged.String())
	}
}

// waitUntil waits for cond, checking it every 10 ms, at most 20 s.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(20 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatal("waited 20 s for a condition")
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
