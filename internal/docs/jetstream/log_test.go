package jetstream

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/natsembed"
	"github.com/nats-io/nats.go"
)

// cluster starts a three-node NATS cluster and returns a Log on each
// node's connection.
func cluster(t testing.TB) ([]*Log, []*natsembed.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srvs, err := natsembed.StartLocal(ctx, t.TempDir(), "t", 3, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, s := range srvs {
			s.Shutdown()
		}
	})
	var logs []*Log
	for _, s := range srvs {
		nc, err := nats.Connect(s.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		l, err := Open(ctx, nc, Config{Timeout: 2 * time.Second, RetryWait: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, l)
	}
	return logs, srvs
}

func run(doc string, first uint64, body string) docs.Run {
	return docs.Run{Doc: doc, First: first, Count: 1, Body: []byte(body)}
}

// Two nodes racing to write the same revision: exactly one wins, the
// other gets ErrConflict, and Since shows the loser what it missed.
func TestAppendCompareAndSince(t *testing.T) {
	logs, _ := cluster(t)
	a, b := logs[0], logs[1]
	if errs := a.Append([]docs.Run{run("d1", 1, "a1"), run("d2", 1, "x1")}); errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	var wg sync.WaitGroup
	var errA, errB error
	runA, runB := []docs.Run{run("d1", 2, "a2")}, []docs.Run{run("d1", 2, "b2")}
	wg.Add(2)
	go func() { defer wg.Done(); errA = a.Append(runA)[0] }()
	go func() { defer wg.Done(); errB = b.Append(runB)[0] }()
	wg.Wait()
	if (errA == nil) == (errB == nil) {
		t.Fatalf("both or neither won: %v / %v", errA, errB)
	}
	loser, lost, won := b, errB, runA[0]
	if errA != nil {
		loser, lost, won = a, errA, runB[0]
	}
	if !errors.Is(lost, docs.ErrConflict) {
		t.Fatalf("loser's error %v is not a conflict", lost)
	}
	// The refusal names the winner, by its revision or its position, so
	// that the loser knows what to wait for.
	var ce *docs.ConflictError
	if !errors.As(lost, &ce) || ce.Doc != "d1" || ce.Head != 2 && ce.Pos != won.Pos {
		t.Fatalf("loser's error %#v does not name the winner (revision 2 at position %d)", lost, won.Pos)
	}
	missed, err := loser.Since("d1", 1)
	if err != nil || len(missed) != 1 || missed[0].First != 2 {
		t.Fatalf("Since: %v %+v", err, missed)
	}
	// Writing on top of what it missed now works.
	if err := loser.Append([]docs.Run{run("d1", 3, "c3")})[0]; err != nil {
		t.Fatal(err)
	}
	// A writer that skips a revision is refused without publishing.
	if err := a.Append([]docs.Run{run("d1", 9, "z")})[0]; !errors.Is(err, docs.ErrConflict) {
		t.Fatalf("gap: %v", err)
	}
	// Since from far back reads every run, in order.
	for i := uint64(4); i <= 40; i++ {
		if err := logs[i%3].Append([]docs.Run{run("d1", i, fmt.Sprint("r", i))})[0]; err != nil {
			t.Fatal(i, err)
		}
	}
	all, err := logs[2].Since("d1", 0)
	if err != nil || len(all) != 40 {
		t.Fatalf("Since(0): %v, %d runs", err, len(all))
	}
	for i, r := range all {
		if r.First != uint64(i+1) {
			t.Fatalf("run %d starts at %d", i, r.First)
		}
	}
	tail, err := logs[1].Since("d1", 30)
	if err != nil || len(tail) != 10 || tail[0].First != 31 {
		t.Fatalf("Since(30): %v %+v", err, tail)
	}
}

// Metadata change sets are serialised: a commit expecting an old
// position is refused; Follow delivers runs and change sets in one order
// to every node.
func TestCommitAndFollow(t *testing.T) {
	logs, _ := cluster(t)
	p1, err := logs[0].Commit(0, []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := logs[1].Commit(0, []byte("rival")); !errors.Is(err, docs.ErrConflict) {
		t.Fatalf("stale commit: %v", err)
	}
	// The same change set sent again (a lost ack) is stored once.
	if again, err := logs[0].Commit(0, []byte("one")); err != nil || again != p1 {
		t.Fatalf("resend: %d %v, first %d", again, err, p1)
	}
	if errs := logs[1].Append([]docs.Run{run("d", 1, "r1")}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	p2, err := logs[2].Commit(p1, []byte("two"))
	if err != nil {
		t.Fatal(err)
	}
	last, err := logs[1].Last()
	if err != nil || last != p2 {
		t.Fatalf("Last %d %v, want %d", last, err, p2)
	}
	for _, l := range logs {
		got := make(chan docs.Entry, 10)
		stop, err := l.Follow(0, func(e docs.Entry) { got <- e })
		if err != nil {
			t.Fatal(err)
		}
		var seen []string
		for len(seen) < 3 {
			e := <-got
			if e.Run != nil {
				seen = append(seen, "run:"+string(e.Run.Body))
			} else {
				seen = append(seen, string(e.Changes))
			}
		}
		stop()
		if fmt.Sprint(seen) != "[one run:r1 two]" {
			t.Fatalf("followed %v", seen)
		}
	}
}

// Appends go on through a stream leader's loss: resent publishes are
// stored once.
func TestAppendThroughLeaderLoss(t *testing.T) {
	logs, srvs := cluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if errs := logs[0].Append([]docs.Run{run("d", 1, "r1")}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	leader, err := natsembed.WaitStreamLeader(ctx, "COLLAB", srvs...)
	if err != nil {
		t.Fatal(err)
	}
	var writer *Log
	for i, s := range srvs {
		if s != leader {
			writer = logs[i]
		}
	}
	done := make(chan error)
	go func() {
		for i := uint64(2); i <= 200; i++ {
			if err := writer.Append([]docs.Run{run("d", i, fmt.Sprint("r", i))})[0]; err != nil {
				done <- fmt.Errorf("revision %d: %w", i, err)
				return
			}
			if i == 50 {
				leader.Shutdown()
			}
		}
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	all, err := writer.Since("d", 0)
	if err != nil || len(all) != 200 {
		t.Fatalf("after the election: %v, %d runs", err, len(all))
	}
	for i, r := range all {
		if r.First != uint64(i+1) || string(r.Body) != fmt.Sprint("r", i+1) {
			t.Fatalf("run %d: %+v", i, r)
		}
	}
}

// Once abandoned, a Log waits no more for a stream out of reach (its
// servers' quorum gone): a change set sent meanwhile fails with
// ErrAbandoned, not after its Deadline's resends, and so does what comes
// after.
func TestAbandonEndsTheWaits(t *testing.T) {
	logs, srvs := cluster(t)
	l := logs[0]
	if _, err := l.Commit(0, []byte("before")); err != nil {
		t.Fatal(err)
	}
	srvs[1].Shutdown()
	srvs[2].Shutdown()
	failed := make(chan error)
	go func() {
		_, err := l.Commit(1, []byte("after"))
		failed <- err
	}()
	l.Abandon()
	if err := <-failed; !errors.Is(err, ErrAbandoned) {
		t.Errorf("the change set on its way: %v, want ErrAbandoned", err)
	}
	if errs := l.Append([]docs.Run{run("d", 1, "x")}); !errors.Is(errs[0], ErrAbandoned) {
		t.Errorf("an append after: %v, want ErrAbandoned", errs[0])
	}
}

// Open on a node whose cluster has not formed yet (one server of three
// up, no JetStream leader to answer) keeps asking, each request bounded
// by Timeout, and returns once the other two start: a request is not
// left waiting for an answer that was never coming until ctx ends.
func TestOpenWaitsForTheCluster(t *testing.T) {
	ports, err := natsembed.FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	routes := natsembed.LocalRoutes(ports)
	dir := t.TempDir()
	start := func(i int) *natsembed.Server {
		s, err := natsembed.Start(natsembed.Config{Name: fmt.Sprint("n", i), StoreDir: filepath.Join(dir, fmt.Sprint(i)), Cluster: "t", ClusterPort: ports[i], Routes: routes}, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Shutdown)
		return s
	}
	first := start(0)
	nc, err := nats.Connect(first.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opened := make(chan error, 1)
	go func() {
		_, err := Open(ctx, nc, Config{Timeout: 500 * time.Millisecond, RetryWait: 50 * time.Millisecond})
		opened <- err
	}()
	// Open is asking a cluster with no leader: start the rest of it.
	start(1)
	start(2)
	began := time.Now()
	if err := <-opened; err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Logf("opened %v after the cluster's other servers started", time.Since(began).Round(time.Millisecond))
}
