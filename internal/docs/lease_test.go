package docs

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestLeaseLocal: a Manager without a Log is alone, so every holder holds
// every lease, and asking commits nothing.
func TestLeaseLocal(t *testing.T) {
	var commits atomic.Int64
	m := openTest(t, Config{OnCommit: func(int, time.Duration) { commits.Add(1) }})
	if m.Clustered() {
		t.Fatal("a Manager without a Log is clustered")
	}
	for _, holder := range []string{"a", "b"} {
		if held, err := m.Lease("w", holder, time.Second); !held || err != nil {
			t.Fatalf("Lease for %s: %v %v", holder, held, err)
		}
	}
	if err := m.ReleaseLease("w", "a"); err != nil {
		t.Fatal(err)
	}
	if n := commits.Load(); n != 0 {
		t.Fatalf("%d commits", n)
	}
}
