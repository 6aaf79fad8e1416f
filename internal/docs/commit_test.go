package docs

import (
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestCommitInterval: with an interval, writes gather while they arrive
// fast enough to share commits. Two writes queued while a commit is busy
// show such a rate, so the next commit waits (an hour at most here) for
// gatherBelow writes and commits them together.
func TestCommitInterval(t *testing.T) {
	var (
		mu      sync.Mutex
		batches []int
	)
	m := openTest(t, Config{CommitInterval: time.Hour, OnCommit: func(n int, _ time.Duration) {
		mu.Lock()
		batches = append(batches, n)
		mu.Unlock()
	}})
	started, release := make(chan struct{}), make(chan struct{})
	first := &write{fn: func(*bolt.Tx) error {
		close(started)
		<-release
		return nil
	}}
	m.commit.enqueue(first)
	<-started
	noop := func(*bolt.Tx) error { return nil }
	var ws []*write
	add := func() {
		w := &write{fn: noop}
		m.commit.enqueue(w)
		ws = append(ws, w)
	}
	add()
	add()
	close(release)
	<-first.done
	for len(ws) < gatherBelow {
		add()
	}
	for _, w := range ws {
		<-w.done
		if w.err != nil {
			t.Fatal(w.err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []int{1, gatherBelow}; !slices.Equal(batches, want) {
		t.Fatalf("commit batches %v, want %v: the writes after the first should gather into one commit", batches, want)
	}
}

// TestCommitIntervalSerial: a writer that waits for each commit before
// its next write never has company, so its commits never wait for any
// (here they would wait an hour).
func TestCommitIntervalSerial(t *testing.T) {
	m := openTest(t, Config{CommitInterval: time.Hour})
	for range 5 {
		if err := m.Do(func(*bolt.Tx) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCommitBusy: the committer gathers only at a rate that brings
// gatherAtLeast writes within an interval.
func TestCommitBusy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes int           // queued in each busy spell
		spell  time.Duration // the spell
		busy   bool
	}{
		{"nothing known", 0, 0, false},
		{"serial writer", 0, time.Millisecond, false},
		{"250 a second", 1, 4 * time.Millisecond, false},
		{"2,000 a second", 10, 5 * time.Millisecond, true},
		{"closed loop", 40, 3 * time.Millisecond, true},
	} {
		c := &committer{interval: 5 * time.Millisecond}
		for range 50 {
			c.sample(tc.writes, tc.spell)
		}
		if got := c.busy(); got != tc.busy {
			t.Errorf("%s: busy %v, want %v", tc.name, got, tc.busy)
		}
	}
}
