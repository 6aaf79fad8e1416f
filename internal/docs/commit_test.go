package docs

import (
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestCommitInterval: with an interval, writes that arrive while the
// previous commit is that recent wait and share the next commit; the
// first write after a quiet spell commits alone.
func TestCommitInterval(t *testing.T) {
	var (
		mu      sync.Mutex
		batches []int
	)
	m := openTest(t, Config{CommitInterval: 2 * time.Second, OnCommit: func(n int, _ time.Duration) {
		mu.Lock()
		batches = append(batches, n)
		mu.Unlock()
	}})
	noop := func(*bolt.Tx) error { return nil }
	if err := m.Do(noop); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { m.Do(noop) })
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(batches, []int{1, 3}) {
		t.Fatalf("commit batches %v, want [1 3]: the three writes after the first should share one commit", batches)
	}
}
