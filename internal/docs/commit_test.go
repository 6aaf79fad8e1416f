package docs

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/kv"
)

// TestGroupCommitLeaderFollower: a write that finds the committer idle
// commits alone, at once; the writes that queue while its commit is in
// flight go together in the next commit, which starts as soon as the first
// ends — nothing waits for a batch to fill.
func TestGroupCommitLeaderFollower(t *testing.T) {
	var (
		mu      sync.Mutex
		batches []int
	)
	m := openTest(t, Config{OnCommit: func(n int, _ time.Duration) {
		mu.Lock()
		batches = append(batches, n)
		mu.Unlock()
	}})
	started, release := make(chan struct{}), make(chan struct{})
	first := &write{fn: func(*kv.Tx) error {
		close(started)
		<-release
		return nil
	}}
	m.commit.enqueue(first)
	<-started // the first write commits without company
	noop := func(*kv.Tx) error { return nil }
	var ws []*write
	for range 5 {
		w := &write{fn: noop}
		m.commit.enqueue(w)
		ws = append(ws, w)
	}
	close(release)
	for _, w := range append(ws, first) {
		<-w.done
		if w.err != nil {
			t.Fatal(w.err)
		}
	}
	// A serial writer, waiting for each commit before its next write,
	// commits each alone.
	for range 3 {
		if err := m.Do(noop); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []int{1, 5, 1, 1, 1}; !slices.Equal(batches, want) {
		t.Fatalf("commit batches %v, want %v", batches, want)
	}
}
