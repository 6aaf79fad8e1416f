package jetstream

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/docs"
)

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// A lease is held by one node at a time: of three racing for it, one wins;
// its holder renews it; once it expires unrenewed another node takes it,
// and the old holder is refused; a released lease is taken at once.
func TestLease(t *testing.T) {
	logs, _ := cluster(t)
	clock := &testClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	var ms []*docs.Manager
	for i, l := range logs {
		m, err := docs.Open(filepath.Join(dir, fmt.Sprintf("node%d.db", i)), docs.Config{Log: l, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		if !m.Clustered() {
			t.Fatal("a Manager with a Log is not clustered")
		}
		ms = append(ms, m)
	}
	const ttl = 15 * time.Second
	node := func(i int) string { return fmt.Sprint("node", i) }
	// holders asks every node in turn, in the order given, and returns
	// those that hold it.
	holders := func(order ...int) []int {
		t.Helper()
		var out []int
		for _, i := range order {
			held, err := ms[i].Lease("w", node(i), ttl)
			if err != nil {
				t.Fatalf("node %d: %v", i, err)
			}
			if held {
				out = append(out, i)
			}
		}
		return out
	}

	var wg sync.WaitGroup
	held := make([]bool, len(ms))
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if held[i], err = m.Lease("w", node(i), ttl); err != nil {
				t.Errorf("node %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	first := -1
	for i, h := range held {
		if h && first >= 0 {
			t.Fatalf("nodes %d and %d both hold the lease", first, i)
		}
		if h {
			first = i
		}
	}
	if first < 0 {
		t.Fatal("no node holds the lease")
	}
	a, b, c := first, (first+1)%3, (first+2)%3

	// Renewed every third of its ttl, for longer than the ttl: it stays.
	for range 4 {
		clock.Advance(ttl / 3)
		if got := holders(b, c, a); len(got) != 1 || got[0] != a {
			t.Fatalf("after a renewal the holders are %v, want [%d]", got, a)
		}
	}
	// Not renewed for its ttl: the next node to ask takes it, the holder
	// is refused.
	clock.Advance(ttl)
	if got := holders(b, c, a); len(got) != 1 || got[0] != b {
		t.Fatalf("after expiry the holders are %v, want [%d]", got, b)
	}
	// A renewal just before expiry keeps it.
	clock.Advance(ttl - time.Second)
	if got := holders(b, a, c); len(got) != 1 || got[0] != b {
		t.Fatalf("after a late renewal the holders are %v, want [%d]", got, b)
	}
	// Released: the next node to ask takes it, without waiting.
	if err := ms[a].ReleaseLease("w", node(a)); err != nil { // not a's: nothing
		t.Fatal(err)
	}
	if got := holders(c); len(got) != 0 {
		t.Fatalf("a release by a node that does not hold it freed it: %v", got)
	}
	if err := ms[b].ReleaseLease("w", node(b)); err != nil {
		t.Fatal(err)
	}
	// A node that finds the lease held reads its replica only, which may
	// not have the release yet.
	if err := ms[c].Sync(); err != nil {
		t.Fatal(err)
	}
	if got := holders(c, a, b); len(got) != 1 || got[0] != c {
		t.Fatalf("after the release the holders are %v, want [%d]", got, c)
	}
	// Another lease is independent.
	if held, err := ms[a].Lease("other", node(a), ttl); err != nil || !held {
		t.Fatalf("another lease: %v %v", held, err)
	}
}
