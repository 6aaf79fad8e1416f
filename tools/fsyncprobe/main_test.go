package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestProbe: the probe makes durable appends, reports them sorted, and
// leaves nothing behind.
func TestProbe(t *testing.T) {
	dir := t.TempDir()
	lat, err := probe(dir, 50*time.Millisecond, time.Millisecond, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(lat) == 0 {
		t.Fatal("no appends")
	}
	for i := 1; i < len(lat); i++ {
		if lat[i] < lat[i-1] {
			t.Fatalf("not sorted at %d: %v", i, lat)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left %d files behind", len(left))
	}
	if _, err := probe(dir+"/missing", time.Millisecond, time.Millisecond, 1); err == nil {
		t.Error("a missing directory was accepted")
	}
}

func TestSummary(t *testing.T) {
	lat := make([]time.Duration, 1000)
	for i := range lat {
		lat[i] = time.Duration(i+1) * time.Millisecond
	}
	got := summary(lat)
	for _, want := range []string{"1000 durable appends", "p50 501.00 ms", "p99 991.00 ms", "p99.9 1000.00 ms", "max 1000.00 ms"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary %q lacks %q", got, want)
		}
	}
}
