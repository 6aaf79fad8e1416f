package gitrepo

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/ot"
)

// grow adds to workspace ws of m files files, then sessions closed
// sessions in which each file gets a line of width bytes, ten minutes
// apart, and an open one.
func grow(t *testing.T, m *docs.Manager, clk *clock, ws string, files, sessions, width int) {
	t.Helper()
	var ids []string
	for i := range files {
		clk.advance(time.Second)
		meta, err := m.Create(docs.CreateParams{Name: fmt.Sprintf("f%d.txt", i), Workspace: ws, Author: "a"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, meta.ID)
	}
	for s := range sessions + 1 {
		clk.advance(10 * time.Minute)
		for i, id := range ids {
			clk.advance(time.Second)
			d, err := m.Open(id)
			if err != nil {
				t.Fatal(err)
			}
			text, rev, _ := d.Text()
			line := fmt.Sprintf("%d.%d %s\n", s, i, strings.Repeat("x", width))
			_, err = d.Submit(docs.Edit{Base: rev, Op: *new(ot.Operation).Retain(text.Len()).Insert(line), Author: "a"})
			d.Release()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestCacheBoundedByBytes: the histories kept stay within CacheBytes,
// the least recently used dropped first; a dropped one is made again, the
// same, by its next request; the workspace a request just used is kept
// even when it alone is over the bound.
func TestCacheBoundedByBytes(t *testing.T) {
	m, clk, a := newWorkspace(t, "cache.db")
	wss := []string{a}
	for range 3 {
		w, err := m.CreateWorkspace()
		if err != nil {
			t.Fatal(err)
		}
		wss = append(wss, w.ID)
	}
	for _, ws := range wss {
		grow(t, m, clk, ws, 4, 6, 200)
	}
	// What one workspace keeps, alone.
	probe := New(m, Config{})
	heads := map[string]string{}
	var one int64
	for _, ws := range wss {
		snap, err := probe.current(ws)
		if err != nil {
			t.Fatal(err)
		}
		heads[ws] = snap.head().String()
		one = max(one, probe.cachedBytes(ws))
	}
	if one < 6*4*200 {
		t.Fatalf("a workspace's estimate is %d bytes, less than its texts", one)
	}

	// Room for two and a half.
	r := New(m, Config{CacheBytes: one * 5 / 2})
	use := func(ws string) {
		t.Helper()
		snap, err := r.current(ws)
		if err != nil {
			t.Fatal(err)
		}
		if got := snap.head().String(); got != heads[ws] {
			t.Fatalf("workspace %s: head %s, want %s", ws, got, heads[ws])
		}
		r.mu.Lock()
		total, n := r.bytes, r.lru.Len()
		r.mu.Unlock()
		if total > r.cfg.CacheBytes {
			t.Fatalf("%d bytes kept for %d workspaces, over the bound %d", total, n, r.cfg.CacheBytes)
		}
		if r.cachedBytes(ws) == 0 {
			t.Fatalf("the workspace just used, %s, is not kept", ws)
		}
	}
	kept := func() (out []bool) {
		for _, ws := range wss {
			out = append(out, r.cachedBytes(ws) > 0)
		}
		return out
	}
	use(wss[0])
	use(wss[1])
	use(wss[0]) // now the most recently used
	use(wss[2]) // drops wss[1], the least recently used
	if got := fmt.Sprint(kept()); got != "[true false true false]" {
		t.Fatalf("kept %s, want the first and the third", got)
	}
	use(wss[1]) // made again, the same; drops wss[0]
	use(wss[3]) // drops wss[2]
	if got := fmt.Sprint(kept()); got != "[false true false true]" {
		t.Fatalf("kept %s, want the second and the fourth", got)
	}

	// A bound smaller than one workspace keeps the one just used.
	tiny := New(m, Config{CacheBytes: 1})
	for _, ws := range wss {
		if _, err := tiny.current(ws); err != nil {
			t.Fatal(err)
		}
		tiny.mu.Lock()
		n := tiny.lru.Len()
		tiny.mu.Unlock()
		if n != 1 || tiny.cachedBytes(ws) == 0 {
			t.Fatalf("with a bound of 1 byte: %d workspaces kept, %d bytes of %s", n, tiny.cachedBytes(ws), ws)
		}
	}
}

// TestCacheEstimate: the estimate of a history's memory is within half
// again of the heap it takes, measured (run it with -v for the figures;
// the overheads in repos.go come from it: 0.92 to 1.05 of the heap for
// histories of small and of large files).
func TestCacheEstimate(t *testing.T) {
	if testing.Short() {
		t.Skip("makes a history of 3,000 revisions")
	}
	m, clk, ws := newWorkspace(t, "estimate.db")
	grow(t, m, clk, ws, 20, 150, 30)
	r := New(m, Config{})
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	if _, err := r.current(ws); err != nil {
		t.Fatal(err)
	}
	took := int64(heap()) - int64(before)
	est := r.cachedBytes(ws)
	runtime.KeepAlive(r)
	t.Logf("estimate %d bytes, heap grew by %d (%.2f)", est, took, float64(est)/float64(took))
	if est < took*2/3 || est > took*3/2 {
		t.Errorf("estimate %d bytes, heap grew by %d: not within half again", est, took)
	}
}
