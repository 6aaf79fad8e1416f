package docs

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/collab-editor/collab/internal/kv"
	"github.com/collab-editor/collab/internal/ot"
)

func openTest(t testing.TB, cfg Config) *Manager {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "test.db"), cfg)
}

// openAt opens the file at path for the rest of the test (closing it
// earlier, to reopen it, is fine).
func openAt(t testing.TB, path string, cfg Config) *Manager {
	t.Helper()
	m, err := Open(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// createOpen creates a document and opens it for the rest of the test.
func createOpen(t testing.TB, m *Manager, p CreateParams) (Meta, *Document) {
	t.Helper()
	meta, err := m.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.Open(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Release)
	return meta, d
}

// subscribe joins d for the rest of the test and returns the durable
// revisions it publishes, through a channel of the given capacity.
func subscribe(t testing.TB, d *Document, capacity int) <-chan Revision {
	t.Helper()
	events := make(chan Revision, capacity)
	_, cancel, err := d.Join(func(e Event) {
		for _, r := range e.Revisions {
			events <- r
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	return events
}

func insertAt(n, pos int, s string) ot.Operation {
	return *new(ot.Operation).Retain(pos).Insert(s).Retain(n - pos)
}

func TestSubmitTransformsConcurrentEdits(t *testing.T) {
	m := openTest(t, Config{})
	meta, err := m.Create(CreateParams{Name: "src/main.go", Text: "hello", Author: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	if meta.Rev != 1 || meta.Language != "go" {
		t.Fatalf("meta = %+v", meta)
	}
	d, err := m.Open(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	events := subscribe(t, d, 10)
	r1, err := d.Submit(Edit{Base: 1, Op: insertAt(5, 5, " world"), Author: "ann", OpID: "a:1"})
	if err != nil || r1.Rev != 2 {
		t.Fatalf("submit 1: %+v %v", r1, err)
	}
	// Made against revision 1, concurrently with revision 2.
	r2, err := d.Submit(Edit{Base: 1, Op: insertAt(5, 0, ">> "), Author: "bob", OpID: "b:1"})
	if err != nil || r2.Rev != 3 || r2.Depth != 1 {
		t.Fatalf("submit 2: %+v %v", r2, err)
	}
	text, rev, _ := d.Text()
	if text.String() != ">> hello world" || rev != 3 {
		t.Fatalf("text %q at %d", text.String(), rev)
	}
	// Resent after a lost ack: same revision, nothing applied.
	dup, err := d.Submit(Edit{Base: 1, Op: insertAt(5, 5, " world"), Author: "ann", OpID: "a:1"})
	if err != nil || !dup.Duplicate || dup.Rev != 2 {
		t.Fatalf("duplicate: %+v %v", dup, err)
	}
	if text, _, _ := d.Text(); text.String() != ">> hello world" {
		t.Fatalf("duplicate applied: %q", text.String())
	}
	// Bad edits change nothing.
	for _, e := range []Edit{
		{Base: 9, Op: insertAt(14, 0, "x")},
		{Base: 3, Op: insertAt(3, 0, "x")},
		{Base: 1, Op: insertAt(4, 0, "x")},
	} {
		if _, err := d.Submit(e); !errors.Is(err, ErrFutureRevision) && !errors.Is(err, ErrBadOperation) {
			t.Errorf("Submit(%+v) = %v", e, err)
		}
	}
	for rev, want := range map[uint64]string{0: "", 1: "hello", 2: "hello world", 3: ">> hello world"} {
		got, err := m.TextAt(meta.ID, rev)
		if err != nil || got.String() != want {
			t.Errorf("TextAt(%d) = %q, %v; want %q", rev, got.String(), err, want)
		}
	}
	if e := <-events; e.Rev != 2 || e.Author != "ann" {
		t.Errorf("first event = %+v", e)
	}
	if e := <-events; e.Rev != 3 || e.Author != "bob" {
		t.Errorf("second event = %+v", e)
	}
	bl, err := m.Blame(meta.ID, 3)
	if err != nil || len(bl) != 1 || bl[0].Rev != 3 || bl[0].Author != "bob" {
		t.Errorf("blame = %+v, %v", bl, err)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "re.db")
	m := openAt(t, path, Config{SnapshotEvery: 3})
	meta, err := m.Create(CreateParams{Name: "a.txt", Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.Open(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := "x"
	for i := range 10 {
		if _, err := d.Submit(Edit{Base: uint64(i + 1), Op: insertAt(utf8.RuneCountInString(want), utf8.RuneCountInString(want), "é"), OpID: "c:" + string(rune('a'+i))}); err != nil {
			t.Fatal(err)
		}
		want += "é"
	}
	d.Release()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = openAt(t, path, Config{SnapshotEvery: 3})
	d, err = m.Open(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	text, rev, _ := d.Text()
	if text.String() != want || rev != 11 {
		t.Fatalf("after reopen: %q at %d", text.String(), rev)
	}
	dup, err := d.Submit(Edit{Base: 1, Op: insertAt(1, 1, "é"), OpID: "c:a"})
	if err != nil || !dup.Duplicate || dup.Rev != 2 {
		t.Fatalf("duplicate after reopen: %+v %v", dup, err)
	}
}

func TestDiffsMakeTheRightText(t *testing.T) {
	cases := [][2]string{
		{"", ""}, {"", "a\nb"}, {"a\nb\n", ""}, {"one\ntwo\nthree\n", "one\n2\nthree\nfour"},
		{"x\r\ny\r\n", "x\r\nz\r\ny\r\n"}, {"😀\n日本\n", "日本\n😀\n"}, {"same", "same"}, {"a\n\n\nb", "a\nb\n\n"},
	}
	for _, c := range cases {
		for name, diff := range map[string]func(a, b string) ot.Operation{"Diff": Diff, "DiffLines": DiffLines} {
			op := diff(c[0], c[1])
			got, err := op.Apply(c[0])
			if err != nil || got != c[1] {
				t.Errorf("%s(%q, %q) = %v: gives %q, %v", name, c[0], c[1], op, got, err)
			}
		}
	}
}

// TestIdleDocumentsAreUnloaded opens 1,000 documents, leaves them, and
// checks that they are unloaded once idle and that the memory comes back.
func TestIdleDocumentsAreUnloaded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	m := openTest(t, Config{IdleTimeout: time.Minute, Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	text := strings.Repeat("func f() { return 42 } // some code\n", 300) // ~11 KB
	ids := make([]string, 1000)
	for i := range ids {
		meta, err := m.Create(CreateParams{Name: fmt.Sprintf("f%d.go", i), Text: text})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = meta.ID
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	for _, id := range ids {
		d, err := m.Open(id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Submit(Edit{Base: 1, Op: *new(ot.Operation).Retain(utf8.RuneCountInString(text)).Insert("//"), OpID: "c:1"}); err != nil {
			t.Fatal(err)
		}
		d.Release()
	}
	loaded := heap()
	if m.Loaded() != 1000 {
		t.Fatalf("%d documents loaded, want 1000", m.Loaded())
	}
	if n := m.Sweep(); n != 0 {
		t.Fatalf("swept %d documents before they were idle", n)
	}
	clock.Add(int64(2 * time.Minute))
	if n := m.Sweep(); n != 1000 || m.Loaded() != 0 {
		t.Fatalf("swept %d, %d still loaded", n, m.Loaded())
	}
	after := heap()
	t.Logf("heap: %.1f MB before opening, %.1f MB with 1,000 documents loaded, %.1f MB after they were unloaded",
		float64(before)/1e6, float64(loaded)/1e6, float64(after)/1e6)
	if after > before+(loaded-before)/4 {
		t.Errorf("memory did not come back: %d -> %d -> %d bytes", before, loaded, after)
	}
}

// Do runs fn in the next group commit, in order with the edits around it,
// and waits for it to be durable: a write behind the documents' backs (it
// may write anything, a document's log too, so the revision log forgets
// every head it knew). The other packages' writes go through Write.
func (m *Manager) Do(fn func(tx *kv.Tx) error) error {
	return m.commit.wait(&write{fn: fn, foreign: true})
}
