package docs

import (
	"errors"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/collab-editor/collab/internal/ot"
)

func openTest(t testing.TB, cfg Config) *Manager {
	t.Helper()
	m, err := Open(filepath.Join(t.TempDir(), "test.db"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
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
	events := make(chan Revision, 10)
	_, cancel, err := d.Join(func(e Event) {
		for _, r := range e.Revisions {
			events <- r
		}
	}, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
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
	m, err := Open(path, Config{SnapshotEvery: 3})
	if err != nil {
		t.Fatal(err)
	}
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
	m, err = Open(path, Config{SnapshotEvery: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
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
